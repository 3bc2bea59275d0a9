rchar: 2001331555
wchar: 2229136527
syscr: 488633
syscw: 998824
read_bytes: 1339392
write_bytes: 2406821888
cancelled_write_bytes: 0
