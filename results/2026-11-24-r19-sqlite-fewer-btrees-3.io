rchar: 4783928671
wchar: 5311176647
syscr: 1167978
syscw: 2361526
read_bytes: 1462272
write_bytes: 5792960512
cancelled_write_bytes: 0
