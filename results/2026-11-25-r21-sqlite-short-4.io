rchar: 1467217275
wchar: 4370849946
syscr: 358234
syscw: 1953231
read_bytes: 888832
write_bytes: 4725313536
cancelled_write_bytes: 0
