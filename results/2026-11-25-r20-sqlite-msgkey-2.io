rchar: 2169845095
wchar: 2423230236
syscr: 529774
syscw: 1084828
read_bytes: 2859008
write_bytes: 2682335232
cancelled_write_bytes: 4096
