rchar: 1551787386
wchar: 4520454540
syscr: 378880
syscw: 2012397
read_bytes: 741376
write_bytes: 4922970112
cancelled_write_bytes: 0
