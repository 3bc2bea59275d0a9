rchar: 9122
wchar: 70592471
syscr: 23
syscw: 38629
read_bytes: 6905856
write_bytes: 4096
cancelled_write_bytes: 0
