rchar: 4661364063
wchar: 5182996556
syscr: 1138055
syscw: 2320452
read_bytes: 63254528
write_bytes: 5287440384
cancelled_write_bytes: 0
