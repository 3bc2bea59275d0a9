rchar: 4789933407
wchar: 5313447188
syscr: 1169444
syscw: 2371020
read_bytes: 2056192
write_bytes: 5746040832
cancelled_write_bytes: 0
