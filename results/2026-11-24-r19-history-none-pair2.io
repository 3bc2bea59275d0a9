rchar: 4880274783
wchar: 5432081464
syscr: 1191500
syscw: 2422789
read_bytes: 610304
write_bytes: 5881483264
cancelled_write_bytes: 0
