rchar: 2547479907
wchar: 2790645796
syscr: 621970
syscw: 1239983
read_bytes: 4194304
write_bytes: 3575730176
cancelled_write_bytes: 0
