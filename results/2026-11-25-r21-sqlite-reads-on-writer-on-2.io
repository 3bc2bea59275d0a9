rchar: 1236309162
wchar: 3703924047
syscr: 301857
syscw: 1655665
read_bytes: 401408
write_bytes: 4001841152
cancelled_write_bytes: 0
