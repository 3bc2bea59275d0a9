rchar: 1643623802
wchar: 4828423282
syscr: 401301
syscw: 2154652
read_bytes: 2191360
write_bytes: 5235417088
cancelled_write_bytes: 0
