rchar: 9150
wchar: 125224086
syscr: 23
syscw: 68277
read_bytes: 2207744
write_bytes: 4096
cancelled_write_bytes: 0
