rchar: 1581794682
wchar: 4761616842
syscr: 386206
syscw: 2139961
read_bytes: 610304
write_bytes: 5105844224
cancelled_write_bytes: 0
