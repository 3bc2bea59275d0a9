rchar: 4542285151
wchar: 5198793433
syscr: 1108983
syscw: 2320186
read_bytes: 1376256
write_bytes: 5634453504
cancelled_write_bytes: 0
