rchar: 2381751651
wchar: 2635765080
syscr: 581509
syscw: 1171431
read_bytes: 5312512
write_bytes: 3389857792
cancelled_write_bytes: 0
