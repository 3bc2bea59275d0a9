rchar: 2078176615
wchar: 2244740271
syscr: 507394
syscw: 1006026
read_bytes: 2174976
write_bytes: 2462707712
cancelled_write_bytes: 0
