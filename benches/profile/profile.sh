#!/bin/bash
# Profiles a release `parley` under one load-generator scenario (see docs/profiling.md).
#   benches/profile/profile.sh OUT_DIR MODE [parley-loadgen args...]
# MODE: cpu (perf record, DWARF call graphs), trace (fsync/futex counts and times per thread
# with `perf trace -s`) or none. The server gets the benchmark settings of `parley-loadgen
# --spawn` plus a metrics listener, and its /metrics is saved at the end (commit count and
# duration, entries per commit, send->ack). Needs `perf`; run as root or with
# kernel.perf_event_paranoid <= 1.
set -eu
OUT=$1; MODE=$2; shift 2
BIN=${PARLEY_BIN:-${CARGO_TARGET_DIR:-target}/release/parley}
LOADGEN=${LOADGEN_BIN:-${CARGO_TARGET_DIR:-target}/release/parley-loadgen}
PORT=${PORT:-18080}; METRICS=${METRICS_PORT:-19464}
rm -rf "$OUT"; mkdir -p "$OUT"
cat > "$OUT/parley.toml" <<TOML
server_name = "bench.local"
[http]
listen = "127.0.0.1:$PORT"
[auth]
login_per_ip_per_minute = 10000000
login_per_account_per_minute = 10000000
access_token_ttl_secs = 86400
[limits]
frames_per_second = 1000000
frames_burst = 1000000
[metrics]
listen = "127.0.0.1:$METRICS"
[log]
level = "warn"
format = "text"
TOML
PARLEY__STORAGE__DATA_DIR="$OUT/data" "$BIN" serve --config "$OUT/parley.toml" 2>"$OUT/server.log" &
SPID=$!
for _ in $(seq 1 300); do curl -sf "http://127.0.0.1:$PORT/health/ready" >/dev/null && break; sleep 0.1; done
"$LOADGEN" --target "127.0.0.1:$PORT" --server-pid "$SPID" --json "$OUT/out.json" --markdown "$OUT/out.md" "$@" \
    2>"$OUT/loadgen.log" &
LPID=$!
if [ "$MODE" != none ]; then
    # Skip registration, setup and warm-up; sample 8 s of the measured window.
    until grep -q "scenario" "$OUT/loadgen.log" 2>/dev/null; do sleep 0.2; done
    sleep 4
    case "$MODE" in
    cpu) perf record -F 299 --call-graph dwarf,8192 -p "$SPID" -o "$OUT/perf.data" -- sleep 8 2>"$OUT/perf.log" ;;
    trace) timeout 12 perf trace -s -e fdatasync,fsync,futex -p "$SPID" -o "$OUT/trace.txt" -- sleep 8 \
        2>"$OUT/perf.log" || true ;;
    esac
fi
wait $LPID
curl -s "http://127.0.0.1:$METRICS/metrics" >"$OUT/metrics.txt" || true
kill "$SPID"; wait "$SPID" || true
if [ -f "$OUT/perf.data" ]; then
    perf script -i "$OUT/perf.data" --no-inline -F comm,tid,ip,sym,dso >"$OUT/script.txt" 2>/dev/null
    python3 "$(dirname "$0")/categorize.py" "$OUT/script.txt" | tee "$OUT/summary.txt"
fi
grep -E '^parley_db_commit_(duration_seconds|entries)_(sum|count)|^parley_messages_accepted_total' \
    "$OUT/metrics.txt" || true
tail -1 "$OUT/loadgen.log"
