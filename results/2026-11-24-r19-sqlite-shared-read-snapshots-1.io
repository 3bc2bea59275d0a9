rchar: 4574279007
wchar: 5175768342
syscr: 1116794
syscw: 2301975
read_bytes: 4931584
write_bytes: 5623390208
cancelled_write_bytes: 0
