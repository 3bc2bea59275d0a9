rchar: 3585062262
wchar: 4036053425
syscr: 875285
syscw: 1809734
read_bytes: 27795456
write_bytes: 4342706176
cancelled_write_bytes: 0
