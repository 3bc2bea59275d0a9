rchar: 2692318559
wchar: 3092126516
syscr: 657331
syscw: 1379035
read_bytes: 2166784
write_bytes: 3363291136
cancelled_write_bytes: 4096
