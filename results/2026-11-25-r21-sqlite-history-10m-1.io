rchar: 1693414778
wchar: 4367383625
syscr: 413457
syscw: 1933206
read_bytes: 5500928
write_bytes: 5584457728
cancelled_write_bytes: 0
