rchar: 1513481594
wchar: 5417250663
syscr: 369528
syscw: 2478843
read_bytes: 1613824
write_bytes: 5832998912
cancelled_write_bytes: 0
