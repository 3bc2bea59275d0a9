rchar: 4765160799
wchar: 5308989080
syscr: 1163396
syscw: 2364220
read_bytes: 1351680
write_bytes: 5780615168
cancelled_write_bytes: 0
