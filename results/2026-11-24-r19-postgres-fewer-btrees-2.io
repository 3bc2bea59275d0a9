rchar: 9122
wchar: 163957620
syscr: 23
syscw: 88862
read_bytes: 3792896
write_bytes: 8192
cancelled_write_bytes: 0
