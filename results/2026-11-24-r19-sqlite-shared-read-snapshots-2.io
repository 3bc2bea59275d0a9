rchar: 4768388447
wchar: 5444968001
syscr: 1164184
syscw: 2431189
read_bytes: 1306624
write_bytes: 5880901632
cancelled_write_bytes: 0
