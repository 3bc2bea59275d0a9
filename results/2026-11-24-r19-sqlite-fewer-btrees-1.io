rchar: 4473050463
wchar: 4977803198
syscr: 1092080
syscw: 2236355
read_bytes: 4820992
write_bytes: 5347201024
cancelled_write_bytes: 0
