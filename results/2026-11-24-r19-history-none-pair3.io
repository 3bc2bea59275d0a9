rchar: 4771714399
wchar: 5412031257
syscr: 1164996
syscw: 2423513
read_bytes: 557056
write_bytes: 5845139456
cancelled_write_bytes: 0
