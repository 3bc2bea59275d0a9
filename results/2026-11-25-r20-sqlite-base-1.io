rchar: 2044527967
wchar: 2265081756
syscr: 499179
syscw: 1010030
read_bytes: 1032192
write_bytes: 2473222144
cancelled_write_bytes: 0
