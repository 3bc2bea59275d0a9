rchar: 1247565178
wchar: 3721508202
syscr: 304607
syscw: 1660282
read_bytes: 589824
write_bytes: 4042428416
cancelled_write_bytes: 0
