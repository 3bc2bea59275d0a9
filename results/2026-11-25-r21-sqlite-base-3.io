rchar: 4383167863
wchar: 4944654230
syscr: 1070136
syscw: 2219125
read_bytes: 831488
write_bytes: 5318955008
cancelled_write_bytes: 0
