rchar: 2355889511
wchar: 2557665229
syscr: 575195
syscw: 1145988
read_bytes: 17448960
write_bytes: 2803458048
cancelled_write_bytes: 4096
