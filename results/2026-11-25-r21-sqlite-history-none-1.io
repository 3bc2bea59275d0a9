rchar: 1480586618
wchar: 4375039288
syscr: 361497
syscw: 1953390
read_bytes: 21970944
write_bytes: 4741177344
cancelled_write_bytes: 0
