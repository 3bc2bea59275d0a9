rchar: 1313707178
wchar: 3896873223
syscr: 320753
syscw: 1737106
read_bytes: 212992
write_bytes: 4225880064
cancelled_write_bytes: 0
