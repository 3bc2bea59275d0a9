rchar: 2043848031
wchar: 2303085853
syscr: 499013
syscw: 1027686
read_bytes: 5009408
write_bytes: 2519289856
cancelled_write_bytes: 4096
