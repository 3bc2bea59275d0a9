rchar: 3122074995
wchar: 3500070920
syscr: 762252
syscw: 1567137
read_bytes: 1187840
write_bytes: 3768238080
cancelled_write_bytes: 0
