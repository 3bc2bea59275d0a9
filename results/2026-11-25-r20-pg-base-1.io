rchar: 9122
wchar: 67212924
syscr: 23
syscw: 37920
read_bytes: 0
write_bytes: 4096
cancelled_write_bytes: 4096
