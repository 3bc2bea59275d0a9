rchar: 3712181599
wchar: 4030888845
syscr: 906321
syscw: 1861671
read_bytes: 2342912
write_bytes: 4384989184
cancelled_write_bytes: 0
