rchar: 9122
wchar: 158114077
syscr: 23
syscw: 86345
read_bytes: 2818048
write_bytes: 8192
cancelled_write_bytes: 0
