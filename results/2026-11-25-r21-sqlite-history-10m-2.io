rchar: 1689253242
wchar: 4431943307
syscr: 412441
syscw: 1970969
read_bytes: 6672384
write_bytes: 5598322688
cancelled_write_bytes: 0
