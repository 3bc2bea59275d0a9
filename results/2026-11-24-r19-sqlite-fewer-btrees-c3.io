rchar: 4705232223
wchar: 5246703079
syscr: 1148765
syscw: 2346482
read_bytes: 2236416
write_bytes: 5666861056
cancelled_write_bytes: 0
