rchar: 2017658215
wchar: 2238077617
syscr: 492619
syscw: 994803
read_bytes: 5259264
write_bytes: 2445197312
cancelled_write_bytes: 4096
