rchar: 3745539447
wchar: 4239514864
syscr: 914465
syscw: 1897907
read_bytes: 1699840
write_bytes: 4577837056
cancelled_write_bytes: 0
