rchar: 2297079135
wchar: 2562006438
syscr: 560837
syscw: 1142636
read_bytes: 12025856
write_bytes: 2802233344
cancelled_write_bytes: 4096
