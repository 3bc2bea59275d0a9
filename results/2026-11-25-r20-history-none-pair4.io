rchar: 1938457955
wchar: 2209443508
syscr: 473283
syscw: 988548
read_bytes: 1675264
write_bytes: 2411692032
cancelled_write_bytes: 0
