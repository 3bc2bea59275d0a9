rchar: 4717286751
wchar: 5105328992
syscr: 1151708
syscw: 2253658
read_bytes: 5181440
write_bytes: 6719254528
cancelled_write_bytes: 0
