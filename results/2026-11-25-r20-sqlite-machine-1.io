rchar: 2445833575
wchar: 2740326392
syscr: 597154
syscw: 1220292
read_bytes: 5009408
write_bytes: 2991747072
cancelled_write_bytes: 0
