rchar: 3327202675
wchar: 3724907213
syscr: 812332
syscw: 1666918
read_bytes: 28672
write_bytes: 4024745984
cancelled_write_bytes: 0
