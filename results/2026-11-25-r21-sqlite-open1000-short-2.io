rchar: 1516848507
wchar: 5957543589
syscr: 370351
syscw: 2762607
read_bytes: 1339392
write_bytes: 6423851008
cancelled_write_bytes: 0
