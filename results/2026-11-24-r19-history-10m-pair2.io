rchar: 4482258271
wchar: 4833916144
syscr: 1094328
syscw: 2148073
read_bytes: 233472
write_bytes: 6276927488
cancelled_write_bytes: 0
