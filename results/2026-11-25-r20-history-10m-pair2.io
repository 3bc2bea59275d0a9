rchar: 2098525539
wchar: 2285769961
syscr: 512362
syscw: 1010796
read_bytes: 7036928
write_bytes: 2995699712
cancelled_write_bytes: 0
