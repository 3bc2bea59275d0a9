rchar: 1539085690
wchar: 5965381614
syscr: 375779
syscw: 2761084
read_bytes: 1568768
write_bytes: 6446555136
cancelled_write_bytes: 0
