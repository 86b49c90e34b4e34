#!/bin/bash
# bench/profile.sh -- one worker setting on plain loopback, timed, and optionally profiled.
#
#   bench/profile.sh [BIN_DIR]        (default: bin of this checkout)
#
# nginx (1 worker process) serves PROF_KEYS (50,000) objects of 1-16 KiB from tmpfs as a Swift
# store (bench/lib/nginx.sh: static token, MD5 ETags); a fresh redis-server on loopback; 2
# workers x 32 (PROF_WORKERS, PROF_CONC); `haul-scheduler run --op get --batch 64` to files
# (PROF_MODE=files) or inline (PROF_MODE=inline), PROF_RUNS (3) times. Prints keys/s and the
# workers' CPU per key (utime+stime from /proc before and after) for each run. With
# PROF_PERF=1, the last run is recorded with `perf record -g` on the workers and the top
# entries of `perf report --no-children` are printed. Every file's size is checked after a
# files run (PROF_PERF_OUT=FILE keeps the perf.data; PROF_REDIS_STATS=1 prints Redis's
# INFO commandstats per key; PROF_PERF_SCHED=1 profiles the last run's scheduler). PROF_SCHED_ARGS adds options to the scheduler's run; PROF_TRACE=1 prints, every
# 500 ms of each run, the tasks queued and the bytes unread at nginx and at the workers,
# Redis's slowest PINGs and slow log, and with PROF_LOG=debug each worker's longest silences. Not part of `make test`: for the closing note's profiles and quick comparisons
# of two builds (BIN_DIR).
set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN=${1:-$TOP/bin}
N=${PROF_KEYS:-50000}
WORKERS=${PROF_WORKERS:-2}
CONC=${PROF_CONC:-32}
MODE=${PROF_MODE:-files}
RUNS=${PROF_RUNS:-3}
DATA=/dev/shm/haul-prof-objs
T=$(mktemp -d /tmp/haul-prof.XXXXXX)
OUT=/dev/shm/haul-prof-out
. "$TOP/bench/lib/nginx.sh"
cleanup() {
    for p in ${WPIDS:-}; do kill "$p" 2>/dev/null; done
    for p in ${WPIDS:-}; do wait "$p" 2>/dev/null; done
    bench_nginx_stop 2>/dev/null
    [ -n "${RPID:-}" ] && kill "$RPID" 2>/dev/null
    rm -rf "$T" "$OUT"
}
trap cleanup EXIT
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

if [ ! -f "$DATA/keys.txt" ] || [ "$(wc -l < "$DATA/keys.txt")" != "$N" ]; then
    rm -rf "$DATA"
    /usr/bin/python3 "$TOP/bench/lib/smallobjs.py" "$DATA" bench "$N" >&2 || exit 1
fi
RP=$(freeport)
redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no --slowlog-log-slower-than 10000 \
    >"$T/redis.log" 2>&1 &
RPID=$!
NP=$(freeport)
BENCH_NGINX_WORKERS=1 BENCH_NGINX_MD5_ETAG=1 bench_nginx_start "$T/nginx" "$DATA" 127.0.0.1 "$NP" >&2 || exit 1
for _ in $(seq 50); do redis-cli -p "$RP" ping >/dev/null 2>&1 && break; sleep 0.1; done

cpu_of() { # utime+stime ticks of the given pids
    local s=0 p
    for p in "$@"; do s=$((s + $(awk '{print $14 + $15}' "/proc/$p/stat"))); done
    echo $s
}
WPIDS=""
mkdir -p "$OUT"
for i in $(seq "$WORKERS"); do
    "$BIN/haul-worker" --redis "redis://127.0.0.1:$RP/0" --queue prof --concurrency "$CONC" \
        --out-root "$OUT" --log-level "${PROF_LOG:-warn}" 2>>"$T/worker.log.$i" &
    WPIDS="$WPIDS $!"
done
sleep 0.5
TICK=$(getconf CLK_TCK)
args=(run --redis "redis://127.0.0.1:$RP/0" --queue prof --swift --container bench --keys "$DATA/keys.txt"
      --op get --batch 64 --no-check --retention 1)
for r in $(seq "$RUNS"); do
    rm -rf "$OUT/d"; mkdir -p "$OUT/d"
    if [ "$MODE" = files ]; then extra=(--max-inline 0 --out-dir "$OUT/d"); else extra=(--max-inline 1M); fi
    # shellcheck disable=SC2206 # PROF_SCHED_ARGS: more options for the scheduler, split on spaces
    extra+=(${PROF_SCHED_ARGS:-})
    perfpid=""
    if [ "${PROF_PERF:-0}" = 1 ] && [ "$r" = "$RUNS" ]; then
        perf record -F 2000 ${PROF_PERF_ARGS:--g} -o "$T/perf.data" -p "$(echo $WPIDS | tr ' ' ',')" >/dev/null 2>&1 &
        perfpid=$!
        sleep 0.3
    fi
    statpid=""
    if [ "${PROF_STAT:-0}" = 1 ]; then
        perf stat -e instructions:u,instructions:k,task-clock -x, -o "$T/stat.txt" \
            -p "$(echo $WPIDS | tr ' ' ',')" >/dev/null 2>&1 &
        statpid=$!
        sleep 0.3
    fi
    stracepid=""
    if [ "${PROF_STRACE:-0}" = 1 ] && [ "$r" = "$RUNS" ]; then
        strace ${PROF_STRACE_ARGS:--c} -f -o "$T/strace.txt" -p "$(echo $WPIDS | cut -d" " -f1)" -p "$(echo $WPIDS | cut -d" " -f2)" 2>/dev/null &
        stracepid=$!
        sleep 0.5
    fi
    tracepid=""
    pingpid=""
    if [ "${PROF_TRACE:-0}" = 1 ]; then
        # Redis's answer time: a PING every 20 ms; the slowest are printed
        /usr/bin/python3 -c '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
t0 = time.monotonic(); worst = []
try:
    while True:
        a = time.monotonic(); s.sendall(b"PING\r\n"); s.recv(64); d = time.monotonic() - a
        worst.append((d, a - t0)); worst.sort(reverse=True); del worst[5:]
        sys.stdout.write("\r" + " ".join("%dms@%.1fs" % (w * 1000, at) for w, at in worst) + "   "); sys.stdout.flush()
        time.sleep(0.02)
except BaseException: pass' "$RP" >"$T/ping.$r" 2>/dev/null &
        pingpid=$!
        # every 100 ms: seconds, tasks queued, keys the workers stored, rows written
        ( t00=$(date +%s%N); while :; do
            j=$(redis-cli -p "$RP" --scan --pattern 'haul:job:*' 2>/dev/null | head -1)
            printf '%s %s %s\n' $(( ($(date +%s%N) - t00) / 1000000 )) \
                "$(redis-cli -p "$RP" llen haul:q:prof 2>/dev/null)" \
                "$(ss -tnH "( sport = :$NP )" | awk '{r += $2} END {printf "n%d", r}')/$(ss -tnH "( dport = :$NP )" | awk '{r += $2} END {printf "w%d", r}')"
            sleep 0.1
          done >"$T/trace.$r" ) &
        tracepid=$!
    fi
    c0=$(cpu_of $WPIDS)
    t0=$(date +%s.%N)
    wrap=()
    if [ "${PROF_PERF_SCHED:-0}" = 1 ] && [ "$r" = "$RUNS" ]; then
        wrap=(perf record -F 2000 -g -o "$T/sched.perf" --)
    fi
    ST_AUTH="$BENCH_NGINX_ST_AUTH" ST_USER=u ST_KEY=k "${wrap[@]}" /usr/bin/time -o "$T/sched.time" -f '%U %S' \
        "$BIN/haul-scheduler" "${args[@]}" "${extra[@]}" \
        --out "$T/out.csv" 2>"$T/sched.err"
    rc=$?
    t1=$(date +%s.%N)
    [ $rc -eq 0 ] || tail -3 "$T/sched.err" >&2
    c1=$(cpu_of $WPIDS)
    if [ -n "$pingpid" ]; then
        kill "$pingpid" 2>/dev/null; wait "$pingpid" 2>/dev/null
        echo "  Redis's slowest PINGs: $(tr '\r' '\n' <"$T/ping.$r" | tail -1)"
    fi
    if [ -n "$tracepid" ]; then
        kill "$tracepid" 2>/dev/null; wait "$tracepid" 2>/dev/null
        echo "  trace (ms, queued tasks, bytes unread by nginx n / by the workers w):"
        awk 'NR % 3 == 1' "$T/trace.$r" | tr '\n' ';' | fold -w 200 | sed 's/^/    /'; echo
        if [ "${PROF_LOG:-}" = debug ]; then
            echo "  longest silences in each worker's log (ms, ended at):"
            for f in "$T"/worker.log.*; do
                grep -v heartbeat "$f" | awk '{ split($1, a, "T"); split(a[2], b, ":"); t = (b[1] * 3600 + b[2] * 60 + b[3]) * 1000;
                    if (p) printf "%d %s\n", t - p, $1; p = t }' | sort -rn | head -4 | paste -sd' ' | sed 's/^/    /'
                : >"$f"
            done
        fi
        echo "  Redis SLOWLOG (over 10 ms):"
        redis-cli -p "$RP" slowlog get 5 | paste -sd' ' | cut -c1-600 | sed 's/^/    /'
        redis-cli -p "$RP" slowlog reset >/dev/null
    fi
    [ -n "$perfpid" ] && { kill -INT "$perfpid"; wait "$perfpid" 2>/dev/null; }
    [ -n "$stracepid" ] && { kill -INT "$stracepid"; wait "$stracepid" 2>/dev/null; head -25 "$T/strace.txt"; [ -n "${PROF_STRACE_OUT:-}" ] && cp "$T/strace.txt" "$PROF_STRACE_OUT"; }
    if [ -n "$statpid" ]; then
        kill -INT "$statpid"; wait "$statpid" 2>/dev/null
        awk -F, -v n="$N" '$3 ~ /instructions/ {printf "  %s per key: %.0f\n", $3, $1 / n}' "$T/stat.txt"
    fi
    okrows=$(grep -c ',ok,200,' "$T/out.csv")
    files=""
    if [ "$MODE" = files ]; then files=" files=$(find "$OUT/d" -type f | wc -l)"; fi
    python3 - "$t0" "$t1" "$c0" "$c1" "$TICK" "$N" "$rc" "$okrows" "$files" "$(tail -1 "$T/sched.time")" <<'PY'
import sys
t0, t1, c0, c1, tick, n = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
try:
    sched = sum(float(x) for x in sys.argv[10].split()) / n * 1e6
except ValueError:
    sched = float("nan")
print("exit %s ok rows %s%s  %.2f s  %.0f keys/s  worker CPU %.1f us/key  scheduler %.1f us/key" % (
    sys.argv[7], sys.argv[8], sys.argv[9], t1 - t0, n / (t1 - t0), (c1 - c0) / tick / n * 1e6, sched))
PY
done
echo "workers' peak RSS (VmHWM): $(for p in $WPIDS; do awk '/VmHWM/ {printf "%.1f MB ", $2 / 1024}' "/proc/$p/status"; done)"
if [ "${PROF_REDIS_STATS:-0}" = 1 ]; then
    echo "-- Redis: calls and usec per call, all runs (INFO commandstats)"
    redis-cli -p "$RP" info commandstats | tr -d '\r' | grep '^cmdstat' | sed 's/cmdstat_//; s/:calls=/ /; s/,usec=/ /; s/,usec_per_call=/ /' |
        awk -v n="$((N * RUNS))" '{printf "  %-16s %9d calls %8.2f per key %8.1f us total/key\n", $1, $2, $2 / n, $3 / n}' | sort -k6 -rn | head -12
fi
if [ -f "$T/sched.perf" ]; then
    echo "-- the scheduler, by function"
    perf report -i "$T/sched.perf" --no-children --sort dso,sym --percent-limit 0.7 --stdio -g none 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -${PROF_TOP:-30}
fi
if [ -f "$T/perf.data" ]; then
    [ -n "${PROF_PERF_OUT:-}" ] && cp "$T/perf.data" "$PROF_PERF_OUT"
    echo "-- by object"
    perf report -i "$T/perf.data" --no-children --sort dso --stdio 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -12
    echo "-- by function"
    perf report -i "$T/perf.data" --no-children --sort dso,sym --percent-limit 0.7 --stdio -g none 2>/dev/null |
        grep -E '^ +[0-9.]+%' | head -${PROF_TOP:-30}
fi
cat "$T"/worker.log.* 2>/dev/null | grep -v '^$' | head -5
