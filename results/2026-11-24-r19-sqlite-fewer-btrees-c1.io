rchar: 4686120287
wchar: 5209720459
syscr: 1144099
syscw: 2319901
read_bytes: 33382400
write_bytes: 5648879616
cancelled_write_bytes: 0
