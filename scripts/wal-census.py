#!/usr/bin/env python3
"""Which B-trees a SQLite WAL's frames belong to (docs/performance.md, eleventh round).

Usage: wal-census.py DIR   (DIR holds yibao.db and yibao.db-wal, copied from a
stopped server: `kill -STOP`, copy both files, then kill the server).

Reads the frames of the WAL's current generation (those whose salts match the
header), counts commits, and names each frame's page with SQLite's `dbstat`
on a copy of the database file.
"""
import collections
import shutil
import sqlite3
import struct
import sys
import tempfile

directory = sys.argv[1]
wal = open(f"{directory}/yibao.db-wal", "rb").read()
_magic, _version, page_size, _ckpt, salt1, salt2, _c1, _c2 = struct.unpack(">IIIIIIII", wal[:32])
frames, pages_per_commit, current, offset = [], [], set(), 32
while offset + 24 + page_size <= len(wal):
    page, commit_size, s1, s2 = struct.unpack(">IIII", wal[offset : offset + 16])
    if (s1, s2) != (salt1, salt2):
        break
    frames.append(page)
    current.add(page)
    if commit_size:
        pages_per_commit.append(len(current))
        current = set()
    offset += 24 + page_size
frames = frames[: sum(pages_per_commit)]  # only committed frames
commits = max(len(pages_per_commit), 1)
print(f"page size {page_size}, frames {len(frames)}, commits {len(pages_per_commit)}, "
      f"frames per commit {len(frames) / commits:.1f}")
with tempfile.TemporaryDirectory() as tmp:
    # Pages are named as of the last commit in the WAL: the database file
    # alone may be mid-checkpoint, and pages first allocated in the WAL are
    # only known there.
    shutil.copy(f"{directory}/yibao.db", f"{tmp}/census.db")
    shutil.copy(f"{directory}/yibao.db-wal", f"{tmp}/census.db-wal")
    owner = dict(sqlite3.connect(f"{tmp}/census.db").execute("SELECT pageno, name FROM dbstat"))
counts = collections.Counter(owner.get(p, "(new or free page)") for p in frames)
for name, n in counts.most_common(30):
    print(f"{n:8d} {100 * n / max(len(frames), 1):5.1f} % {n / commits:6.2f} per commit  {name}")
