rchar: 4598805879
wchar: 5026526274
syscr: 1122782
syscw: 2258548
read_bytes: 2285568
write_bytes: 5445193728
cancelled_write_bytes: 0
