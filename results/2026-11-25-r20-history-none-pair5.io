rchar: 2088920419
wchar: 2363218574
syscr: 510017
syscw: 1059718
read_bytes: 4599808
write_bytes: 2553237504
cancelled_write_bytes: 0
