rchar: 1956271459
wchar: 2104481017
syscr: 477632
syscw: 930660
read_bytes: 4485120
write_bytes: 2752819200
cancelled_write_bytes: 0
