rchar: 9146
wchar: 120219304
syscr: 23
syscw: 64664
read_bytes: 557056
write_bytes: 4096
cancelled_write_bytes: 0
