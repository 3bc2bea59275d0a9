rchar: 9122
wchar: 156023043
syscr: 23
syscw: 85664
read_bytes: 29933568
write_bytes: 16384
cancelled_write_bytes: 0
