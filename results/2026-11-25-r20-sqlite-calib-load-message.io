rchar: 1739568543
wchar: 1957238393
syscr: 424726
syscw: 871777
read_bytes: 241664
write_bytes: 2153799680
cancelled_write_bytes: 0
