rchar: 5416330615
wchar: 5859980826
syscr: 1322373
syscw: 2683816
read_bytes: 1490944
write_bytes: 6359166976
cancelled_write_bytes: 0
