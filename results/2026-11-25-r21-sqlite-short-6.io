rchar: 1322796410
wchar: 4014147157
syscr: 322974
syscw: 1798766
read_bytes: 1519616
write_bytes: 4310552576
cancelled_write_bytes: 0
