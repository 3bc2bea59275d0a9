rchar: 4521117023
wchar: 5179167698
syscr: 1103815
syscw: 2317728
read_bytes: 26341376
write_bytes: 5608570880
cancelled_write_bytes: 0
