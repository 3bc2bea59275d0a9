rchar: 3132839283
wchar: 3542173814
syscr: 764880
syscw: 1588692
read_bytes: 618496
write_bytes: 3837636608
cancelled_write_bytes: 0
