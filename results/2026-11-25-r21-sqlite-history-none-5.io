rchar: 1716237690
wchar: 5004783075
syscr: 419029
syscw: 2233057
read_bytes: 393216
write_bytes: 5444091904
cancelled_write_bytes: 0
