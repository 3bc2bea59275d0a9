rchar: 2294236511
wchar: 2559713031
syscr: 560143
syscw: 1140723
read_bytes: 286720
write_bytes: 2801192960
cancelled_write_bytes: 4096
