#!/usr/bin/env bash
# bench/window.sh -- `make bench-window`: how much Redis memory a big job takes, and how fast it
# goes: BENCH_WINDOW_KEYS (10,000,000) keys of the no-request sidecar kind (names that do not end
# in .zip: each key's row is written without a request to the store), generated on the fly and
# piped to `haul-scheduler run --keys -`, with BENCH_WINDOW_WORKERS (2) workers, against a fresh
# redis-server on loopback. A sampler reads Redis's INFO memory every 100 ms.
#
# It prints, and writes to BENCH_RESULTS/window.md and window.csv: Redis used_memory idle (workers
# connected, before the job), its peak during the job, the peak above idle, the job's keys/s
# (the whole `run` process, submission, the credentials check skipped, and collection), and the
# peak RSS of the scheduler and of the largest worker. Every row of the output is checked
# (count and text) after the timing.
#
# Settings (environment):
#   BENCH_WINDOW_KEYS=10000000     keys in the job
#   BENCH_WINDOW_WORKERS=2         workers, each --concurrency BENCH_WINDOW_CONCURRENCY (32)
#   BENCH_WINDOW_ARGS=             more scheduler options, e.g. "--max-queued 0 --keep-results"
#                                  for the job without a window and without trimming
#   BENCH_WINDOW_SEALED=1          tasks sealed and results signed (a key for every process)
#   BENCH_WINDOW_LABEL=            the row's name (default: from the options)
#   BENCH_RESULTS=bench/results    where window.md and window.csv go (a row is added to the
#                                  CSV; the .md shows every row of the CSV)
#   BENCH_WINDOW_BIN=bin           the programs to run (another build, to compare)
#   BENCH_WINDOW_STATS=1           also print Redis's command statistics and the CPU time of
#                                  Redis, the workers and the scheduler
#   BENCH_WINDOW_MODE=run          run: one `haul-scheduler run`; submit: `submit` feeding the
#                                  window (it looks at the queue every 100 ms) and `collect`
#                                  attached at once, timed until both end
# Needs only redis-server, python3 and haul's build; no root, no store (no request is made).
set -u
cd "$(dirname "$0")/.." || exit 2
TOP=$PWD
NKEYS=${BENCH_WINDOW_KEYS:-10000000}
NWORKERS=${BENCH_WINDOW_WORKERS:-2}
CONC=${BENCH_WINDOW_CONCURRENCY:-32}
ARGS=${BENCH_WINDOW_ARGS:-}
SEALED=${BENCH_WINDOW_SEALED:-}
RESULTS=${BENCH_RESULTS:-$TOP/bench/results}
LABEL=${BENCH_WINDOW_LABEL:-}
BIN=${BENCH_WINDOW_BIN:-$TOP/bin}
MODE=${BENCH_WINDOW_MODE:-run}
PY=/usr/bin/python3

die() { echo "bench/window: $*" >&2; exit 2; }
command -v redis-server >/dev/null || die "needs redis-server (apt-get install redis-server)"
[ -x /usr/bin/time ] || die "needs /usr/bin/time (apt-get install time)"
[ -n "${BENCH_WINDOW_BIN:-}" ] || make -s --no-print-directory all || die "build failed"

D=$(mktemp -d /tmp/haul-bench-window.XXXXXX) || exit 2
RPID="" SAMPLER="" WPIDS=()
cleanup() {
    [ "$BASHPID" = "$$" ] || return 0
    for p in "${WPIDS[@]}" $SAMPLER; do kill "$p" 2>/dev/null; done
    [ -n "$RPID" ] && { kill "$RPID" 2>/dev/null; wait "$RPID" 2>/dev/null; }
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT=$($PY -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
redis-server --bind 127.0.0.1 --port "$PORT" --save '' --appendonly no --protected-mode no \
    --dir "$D" --logfile "$D/redis.log" --daemonize no &
RPID=$!
R=redis://127.0.0.1:$PORT/0
for _ in $(seq 100); do [ "$(redis-cli -p "$PORT" PING 2>/dev/null)" = PONG ] && break; sleep 0.05; done
[ "$(redis-cli -p "$PORT" PING 2>/dev/null)" = PONG ] || die "redis-server did not start ($D/redis.log)"

export HAUL_REDIS_URL=$R
if [ -n "$SEALED" ]; then
    "$BIN/haul-scheduler" keygen "$D/haul.key" >/dev/null
    export HAUL_KEY_FILE=$D/haul.key
fi
for i in $(seq "$NWORKERS"); do
    "$BIN/haul-worker" --queue bench-window --concurrency "$CONC" --log-level warn \
        >"$D/worker$i.log" 2>&1 &
    WPIDS+=($!)
done
for _ in $(seq 100); do
    [ "$(redis-cli -p "$PORT" ZCARD haul:leases:bench-window)" -ge "$NWORKERS" ] && break; sleep 0.05
done
sleep 0.5

# Redis used_memory every 100 ms until $D/stop exists: idle (the first sample), peak, samples.
"$PY" - "$PORT" "$D" <<'EOF' &
import os, socket, sys, time
port, d = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port))
f = s.makefile("rb")
def used():
    s.sendall(b"*2\r\n$4\r\nINFO\r\n$6\r\nmemory\r\n")
    n = int(f.readline()[1:])
    body = f.read(n + 2).decode()
    for l in body.splitlines():
        if l.startswith("used_memory:"):
            return int(l.split(":")[1])
idle = used(); peak = idle; n = 0
open(os.path.join(d, "idle"), "w").write("%d\n" % idle)
while not os.path.exists(os.path.join(d, "stop")):
    peak = max(peak, used()); n += 1
    time.sleep(0.1)
open(os.path.join(d, "mem"), "w").write("%d %d %d\n" % (idle, peak, n))
EOF
SAMPLER=$!
for _ in $(seq 50); do [ -s "$D/idle" ] && break; sleep 0.05; done

t0=$(date +%s.%N)
# shellcheck disable=SC2086  # ARGS: options, split on purpose
STORE=(--swift --auth-url http://127.0.0.1:9/auth/v1.0 --user bench:bench --key bench --container bench)
if [ "$MODE" = run ]; then
    awk -v n="$NKEYS" 'BEGIN { for (i = 0; i < n; i++) printf "bench/obj-%08d.dat\n", i }' |
        /usr/bin/time -f '%M %U %S' -o "$D/sched.rss" "$BIN/haul-scheduler" run "${STORE[@]}" \
            --keys - --no-check --op sidecar --queue bench-window --out "$D/out.csv" $ARGS 2>"$D/sched.err"
    rc=$?
else
    # `submit` feeding the window, and a `collect` started as soon as the job id is out.
    awk -v n="$NKEYS" 'BEGIN { for (i = 0; i < n; i++) printf "bench/obj-%08d.dat\n", i }' |
        "$BIN/haul-scheduler" submit "${STORE[@]}" --keys - --no-check --op sidecar --queue bench-window \
            $ARGS >"$D/job" 2>"$D/submit.err" &
    spid=$!
    for _ in $(seq 200); do [ -s "$D/job" ] && break; sleep 0.01; done
    /usr/bin/time -f '%M %U %S' -o "$D/sched.rss" "$BIN/haul-scheduler" collect "$(head -1 "$D/job")" \
        --out "$D/out.csv" $ARGS 2>"$D/sched.err"
    rc=$?
    wait $spid || rc=$?
fi
t1=$(date +%s.%N)
touch "$D/stop"
wait "$SAMPLER"; SAMPLER=""
if [ -n "${BENCH_WINDOW_STATS:-}" ]; then
    redis-cli -p "$PORT" INFO commandstats | grep -v '^#' | sort -t= -k3 -n -r | head -12 >&2
    redis-cli -p "$PORT" INFO cpu | grep used_cpu_ >&2
    for p in "${WPIDS[@]}"; do echo "worker $p cpu: $(awk '{ printf "%.1f s", ($14 + $15) / 100 }' "/proc/$p/stat")" >&2; done
fi
# A worker's peak RSS: VmHWM, read before it is stopped.
wrss=0
for p in "${WPIDS[@]}"; do
    k=$(awk '/^VmHWM:/ { print $2 }' "/proc/$p/status" 2>/dev/null)
    [ "${k:-0}" -gt "$wrss" ] && wrss=$k
done
for p in "${WPIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
for p in "${WPIDS[@]}"; do wait "$p" 2>/dev/null; done
WPIDS=()
[ $rc -eq 0 ] || { tail -5 "$D/sched.err" >&2; die "haul-scheduler run exited $rc"; }

# Every row: the keys in order, ok, an empty value.
awk -v n="$NKEYS" 'NR == 1 { if ($0 != "key,status,http,value,bytes,error,verified") bad++; next }
    { if ($0 != sprintf("bench/obj-%08d.dat,ok,,\"\",,,none", NR - 2)) bad++ }
    END { if (NR - 1 != n || bad) { printf "%d rows, %d wrong\n", NR - 1, bad; exit 1 } }' "$D/out.csv" ||
    die "the output is not the $NKEYS expected rows"

read -r idle peak samples <"$D/mem"
secs=$(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")
kps=$(awk "BEGIN { printf \"%.0f\", $NKEYS / ($t1 - $t0) }")
read -r srss scpu_u scpu_s <<<"$(tail -1 "$D/sched.rss")"
[ -n "${BENCH_WINDOW_STATS:-}" ] && echo "scheduler cpu: $scpu_u s user, $scpu_s s sys" >&2
mib() { awk "BEGIN { printf \"%.1f\", $1 / 1048576 }"; }
[ -n "$LABEL" ] || LABEL="$MODE ${ARGS:-(defaults)}${SEALED:+, sealed}"
sched_line=$(grep -o 'job .*: [0-9]* keys, .*' "$D/sched.err" | tail -1)

echo "window: $NKEYS keys, $NWORKERS workers x $CONC, options: $LABEL"
echo "  Redis used_memory: idle $(mib "$idle") MiB, peak $(mib "$peak") MiB, peak above idle $(mib $((peak - idle))) MiB ($samples samples)"
echo "  $kps keys/s ($secs s, the whole run process); scheduler: $sched_line"
echo "  peak RSS: scheduler $((srss / 1024)) MiB, worker $((wrss / 1024)) MiB"

mkdir -p "$RESULTS"
csv=$RESULTS/window.csv
[ -s "$csv" ] || echo "date,keys,workers,concurrency,options,redis_idle_bytes,redis_peak_bytes,redis_peak_above_idle_bytes,seconds,keys_per_s,scheduler_rss_kib,worker_rss_kib" >"$csv"
echo "$(date -u +%Y-%m-%dT%H:%M:%SZ),$NKEYS,$NWORKERS,$CONC,\"$LABEL\",$idle,$peak,$((peak - idle)),$secs,$kps,$srss,$wrss" >>"$csv"
"$PY" - "$csv" "$RESULTS/window.md" <<'EOF'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
mib = lambda b: "%.1f" % (int(b) / 1048576)
out = ["# Redis memory of a big job (bench/window.sh)", "",
       "`make bench-window`: the no-request sidecar job (keys not ending in .zip), generated and "
       "piped to `haul-scheduler run --keys -`, 2 workers, a fresh redis-server on loopback, "
       "INFO memory sampled every 100 ms. Target: the peak under 64 MiB above idle at "
       "10,000,000 keys.", "",
       "| date | keys | workers | options | Redis idle MiB | peak MiB | peak above idle MiB | keys/s | scheduler RSS MiB | worker RSS MiB |",
       "|---|---|---|---|---|---|---|---|---|---|"]
for r in rows:
    out.append("| %s | %s | %s x %s | %s | %s | %s | %s | %s | %d | %d |" % (
        r["date"], r["keys"], r["workers"], r["concurrency"], r["options"], mib(r["redis_idle_bytes"]),
        mib(r["redis_peak_bytes"]), mib(r["redis_peak_above_idle_bytes"]), r["keys_per_s"],
        int(r["scheduler_rss_kib"] or 0) // 1024, int(r["worker_rss_kib"] or 0) // 1024))
open(sys.argv[2], "w").write("\n".join(out) + "\n")
EOF
echo "  (rows in $csv and $RESULTS/window.md)"
