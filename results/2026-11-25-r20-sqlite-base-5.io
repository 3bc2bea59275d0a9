rchar: 2415670623
wchar: 2705580022
syscr: 589790
syscw: 1199795
read_bytes: 1073152
write_bytes: 2966458368
cancelled_write_bytes: 4096
