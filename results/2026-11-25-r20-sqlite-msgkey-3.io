rchar: 2881082727
wchar: 3219669452
syscr: 703416
syscw: 1444763
read_bytes: 966656
write_bytes: 3516317696
cancelled_write_bytes: 4096
