#!/usr/bin/env python3
"""Instructions per outpatient visit, by server thread and by stage
(docs/performance.md, thirteenth round).

Seconds on a shared 2-core virtual machine drift by a third between sittings;
instruction counts do not. This reads the per-thread profiles that
`scripts/instruction-census.sh` takes with valgrind's callgrind (user-space
instructions only: the kernel's share, the TCP stack and fsync, is not in
them) and divides by the visits the run settled.

Usage: instruction-census.py VISITS FILE...   (FILE: callgrind.out.N-TT)

Caveat: under valgrind the CPU does not report SHA extensions, so SHA-256
runs in software there. Its instructions are shown apart ("sha256") and left
out of "total without sha256", which is the figure to compare.
"""
import re
import subprocess
import sys
from collections import defaultdict

visits = int(sys.argv[1])
files = sys.argv[2:]

# Thread roles, told by a function only that thread runs (the engine's
# loops are inlined into their thread's closure, so they cannot name it).
ROLES = [
    ("http (tokio workers)", "multi_thread::worker::run"),
    ("writer", "WriteJob>::run"),
    ("sync (WAL fdatasync, answers released)", "WriteJob>::finish"),
    ("checkpoint", "wal_checkpoint_passive"),
    ("readers", "yibao_app::settlement::pre_settle"),
]

# Stages: a function's inclusive instructions, summed over threads.
STAGES = [
    ("interface: parse the request (envelope + typed input)", "yibao_http::fsi::parse_request"),
    ("interface: hash the input (idempotency)", "yibao_app::fsi::input_sha256"),
    ("interface: gateway check (encrypted input?)", "yibao_http::fsi::gateway::input_is_string"),
    ("interface: answer to JSON text", "yibao_app::fsi::Output::into_json"),
    ("1101 person_info (reader)", "yibao_http::fsi::transactions_query::person_info"),
    ("2201 register (writer)", "yibao_app::visit::register"),
    ("2204 prepare lines (tokio)", "yibao_app::visit::prepare_lines"),
    ("2204 answer JSON (tokio)", "yibao_app::visit::PreparedLines::output_json"),
    ("2204 upload lines (writer)", "yibao_app::visit::upload_lines"),
    ("2206 pre_settle (reader)", "yibao_app::settlement::pre_settle"),
    ("2207 settle_visit (writer)", "yibao_app::settlement::settle_visit"),
    ("  of which: active fee lines, from the line cache or read (2206 + 2207)", "yibao_store::visit::active_lines_of"),
    ("  of which: ledger posting (2207)", "yibao_app::fund::post_settlement"),
    ("  of which: the answer as JSON (2206 + 2207)", "yibao_app::settlement::settle_answer"),
    ("message log write", "yibao_store::fsi::log_message"),
    ("SQLite: sqlite3_step", "sqlite3_step"),
    ("SQLite: commit (WAL frames)", "sqlite3BtreeCommitPhaseOne"),
    ("SQLite: checkpoint", "sqlite3WalCheckpoint"),
    ("sha256 (software under valgrind)", "sha2::sha256::compress256"),
]

LINE = re.compile(r"\s*([\d,]+) \([ \d.%]+\)\s+(\S.*)$")


def inclusive(path):
    """function name -> inclusive instructions (the largest of its variants)."""
    out = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
        capture_output=True, text=True, check=True,
    ).stdout
    total, costs = 0, defaultdict(int)
    for line in out.splitlines():
        m = LINE.match(line)
        if not m:
            continue
        value = int(m.group(1).replace(",", ""))
        name = m.group(2)
        if "PROGRAM TOTALS" in name:
            total = value
            continue
        name = re.sub(r" \[.*\]$", "", name.split(":", 1)[1] if ":" in name else name)
        name = re.sub(r" \(\d[\d,]*x\)$", "", name)
        costs[name] = max(costs[name], value)
    return total, costs


by_role, by_stage, grand = defaultdict(int), defaultdict(int), 0
for path in files:
    total, costs = inclusive(path)
    if total == 0:
        continue
    grand += total
    role = next((r for r, marker in ROLES if any(marker in n for n in costs)), "other")
    by_role[role] += total
    for label, fn in STAGES:
        by_stage[label] += max((v for n, v in costs.items() if n == fn or n.endswith("::" + fn) or
                                (fn.startswith("sqlite3") and n.startswith(fn))), default=0)

k = lambda v: f"{v / visits / 1000:8.1f}"
sha = by_stage["sha256 (software under valgrind)"]
print(f"visits: {visits}")
print(f"{k(grand)} k instructions per visit in all")
print(f"{k(grand - sha)} k total without sha256")
print("\nby thread:")
for role, v in sorted(by_role.items(), key=lambda x: -x[1]):
    print(f"  {k(v)} k  {role}")
print("\nby stage (inclusive; stages overlap where marked 'of which'):")
for label, _ in STAGES:
    print(f"  {k(by_stage[label])} k  {label}")
