rchar: 4723115359
wchar: 5247131280
syscr: 1153131
syscw: 2338074
read_bytes: 2359296
write_bytes: 5674921984
cancelled_write_bytes: 0
