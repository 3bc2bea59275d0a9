rchar: 1275065514
wchar: 3876660132
syscr: 311319
syscw: 1740510
read_bytes: 749568
write_bytes: 4158140416
cancelled_write_bytes: 0
