rchar: 1554376058
wchar: 4613576186
syscr: 379512
syscw: 2062588
read_bytes: 1576960
write_bytes: 4984934400
cancelled_write_bytes: 0
