rchar: 1929078115
wchar: 2174166491
syscr: 470993
syscw: 972294
read_bytes: 1634304
write_bytes: 2358714368
cancelled_write_bytes: 0
