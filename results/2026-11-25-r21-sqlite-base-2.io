rchar: 3514406263
wchar: 3934525673
syscr: 858036
syscw: 1762353
read_bytes: 1236992
write_bytes: 4240289792
cancelled_write_bytes: 0
