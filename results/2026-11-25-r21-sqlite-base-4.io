rchar: 3768931703
wchar: 4251953676
syscr: 920176
syscw: 1908596
read_bytes: 180224
write_bytes: 4557950976
cancelled_write_bytes: 0
