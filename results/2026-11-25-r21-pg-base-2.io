rchar: 9146
wchar: 119186366
syscr: 23
syscw: 65540
read_bytes: 2203648
write_bytes: 4096
cancelled_write_bytes: 0
