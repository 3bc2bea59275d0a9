rchar: 4634404191
wchar: 5330107876
syscr: 1131473
syscw: 2376658
read_bytes: 1576960
write_bytes: 5800345600
cancelled_write_bytes: 0
