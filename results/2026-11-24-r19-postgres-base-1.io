rchar: 9122
wchar: 166109251
syscr: 23
syscw: 89756
read_bytes: 31600640
write_bytes: 16384
cancelled_write_bytes: 0
