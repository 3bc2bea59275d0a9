rchar: 9150
wchar: 116985071
syscr: 23
syscw: 64054
read_bytes: 1789952
write_bytes: 4096
cancelled_write_bytes: 0
