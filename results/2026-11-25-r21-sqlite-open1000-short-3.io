rchar: 1537320314
wchar: 6017238760
syscr: 375348
syscw: 2788347
read_bytes: 5443584
write_bytes: 6511001600
cancelled_write_bytes: 0
