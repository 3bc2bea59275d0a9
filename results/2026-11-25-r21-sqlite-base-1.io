rchar: 3516597623
wchar: 3945051371
syscr: 858571
syscw: 1769118
read_bytes: 33562624
write_bytes: 4226719744
cancelled_write_bytes: 0
