rchar: 2154542435
wchar: 2429528716
syscr: 526038
syscw: 1082171
read_bytes: 6676480
write_bytes: 2667724800
cancelled_write_bytes: 0
