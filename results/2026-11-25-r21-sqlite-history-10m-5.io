rchar: 1717417338
wchar: 4480337682
syscr: 419317
syscw: 1986402
read_bytes: 286720
write_bytes: 5774557184
cancelled_write_bytes: 0
