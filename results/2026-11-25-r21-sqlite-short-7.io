rchar: 1410606458
wchar: 4156775592
syscr: 344412
syscw: 1853935
read_bytes: 2244608
write_bytes: 4518715392
cancelled_write_bytes: 0
