rchar: 1940972899
wchar: 2117811137
syscr: 473897
syscw: 935772
read_bytes: 5935104
write_bytes: 2816229376
cancelled_write_bytes: 0
