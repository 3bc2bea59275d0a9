rchar: 3648279927
wchar: 4086681222
syscr: 890720
syscw: 1828303
read_bytes: 1048576
write_bytes: 4406308864
cancelled_write_bytes: 0
