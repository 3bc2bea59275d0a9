rchar: 1659114874
wchar: 4321168441
syscr: 405083
syscw: 1916370
read_bytes: 3309568
write_bytes: 5531545600
cancelled_write_bytes: 0
