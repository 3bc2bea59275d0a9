rchar: 4681377119
wchar: 5354230805
syscr: 1142941
syscw: 2388369
read_bytes: 385024
write_bytes: 5800271872
cancelled_write_bytes: 0
