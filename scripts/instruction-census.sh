#!/bin/sh
# Instructions per outpatient visit, by server thread and stage
# (docs/performance.md, thirteenth round). Repeatable where seconds are not:
# the count depends on the binary and the load, not on what else the machine
# is doing.
#
# Usage: scripts/instruction-census.sh POPULATION_DIR OUT_DIR [SECONDS]
#   POPULATION_DIR: a `yibao sim populate` directory (copied, not changed)
#   needs: valgrind, a release build (cargo build --release -p yibao)
#
# The server runs under callgrind (about 50 times slower), its counters are
# zeroed once it answers /health (start-up is not counted), 4 clients run
# outpatient visits only for SECONDS (default 40), and the counts are divided
# by the visits settled. The run is verified like any other.
set -eu
POP=$1
OUT=$2
SECONDS_RUN=${3:-40}
B=${YIBAO_BIN:-./target/release/yibao}
PORT=18183
mkdir -p "$OUT"
rm -rf "$OUT/db" && cp -r "$POP" "$OUT/db"
valgrind --tool=callgrind --separate-threads=yes --callgrind-out-file="$OUT/callgrind.out" \
    "$B" serve --data-dir "$OUT/db" --listen 127.0.0.1:$PORT --fsi-auth none > "$OUT/serve.log" 2>&1 &
PID=$!
i=0
until curl -sf http://127.0.0.1:$PORT/health > /dev/null; do
    i=$((i + 1)); [ $i -lt 300 ] || { echo "server did not start" >&2; kill $PID; exit 1; }
    sleep 1
done
callgrind_control -z $PID > /dev/null
"$B" sim load --url http://127.0.0.1:$PORT --data-dir "$OUT/db" --clients 4 --duration "$SECONDS_RUN" \
    --inpatient-share 0 --pharmacy-share 0 --cancel-share 0 --reversal-share 0 --baseline-seconds 0 \
    --out "$OUT/load.json" > "$OUT/load.log" 2>&1
callgrind_control -d $PID > /dev/null
sleep 2
kill $PID; wait $PID 2> /dev/null || true
VISITS=$(python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert d['verification']['report']['ok']; print(d['throughput']['visits']['outpatient'])" "$OUT/load.json")
rm -rf "$OUT/db"
python3 "$(dirname "$0")/instruction-census.py" "$VISITS" "$OUT"/callgrind.out.1-* | tee "$OUT/census.txt"
