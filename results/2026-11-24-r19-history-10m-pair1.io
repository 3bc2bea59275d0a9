rchar: 4745041247
wchar: 5129633344
syscr: 1158484
syscw: 2271750
read_bytes: 5357568
write_bytes: 6694436864
cancelled_write_bytes: 0
