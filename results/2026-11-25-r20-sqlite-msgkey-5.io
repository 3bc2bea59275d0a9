rchar: 2097341799
wchar: 2257314209
syscr: 512073
syscw: 1012195
read_bytes: 1003520
write_bytes: 2466963456
cancelled_write_bytes: 4096
