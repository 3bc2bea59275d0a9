rchar: 1489229179
wchar: 4405066918
syscr: 363608
syscw: 1966661
read_bytes: 659456
write_bytes: 4780978176
cancelled_write_bytes: 0
