rchar: 2403206503
wchar: 2593046821
syscr: 586747
syscw: 1158537
read_bytes: 1392640
write_bytes: 2864386048
cancelled_write_bytes: 4096
