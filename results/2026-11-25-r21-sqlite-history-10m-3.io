rchar: 1788724602
wchar: 4596473323
syscr: 436726
syscw: 2035801
read_bytes: 2842624
write_bytes: 5951934464
cancelled_write_bytes: 0
