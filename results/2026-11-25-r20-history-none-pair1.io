rchar: 2303665507
wchar: 2582692318
syscr: 562445
syscw: 1148630
read_bytes: 22482944
write_bytes: 2820939776
cancelled_write_bytes: 0
