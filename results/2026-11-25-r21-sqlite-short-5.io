rchar: 1501877626
wchar: 4545111804
syscr: 366695
syscw: 2039138
read_bytes: 36413440
write_bytes: 4885106688
cancelled_write_bytes: 0
