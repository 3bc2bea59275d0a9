rchar: 3773621599
wchar: 4068414220
syscr: 921321
syscw: 1876986
read_bytes: 10084352
write_bytes: 4424859648
cancelled_write_bytes: 0
