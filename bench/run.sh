#!/usr/bin/env bash
# bench/run.sh -- `make bench`: the notebook's workload, haul against the notebook's methods,
# side by side on one store in one run.  Starts redis-server and OpenStack Swift (tempauth +
# s3api) with tests/lib/servers.sh, seeds the notebook's 80-object bucket, and runs
# bench/bench.py on loopback and (BENCH_DELAY=1, the default) through bench/delayproxy.py,
# which adds 20 ms of round trip between every client (haul's workers included) and the store.
#
# Settings (environment):
#   BENCH_RUNS=5        timed runs per contender and setting (the median is reported)
#   BENCH_WARMUP=1      untimed runs first (per process for Python, per setting for haul)
#   BENCH_DELAY=1       also the +20 ms setting (0: loopback only)
#   BENCH_RTT_MS=20     the round trip the delay proxy adds
#   BENCH_ONLY=         comma-separated substrings of contender names (e.g. "haul,threads")
#   BENCH_RESULTS=bench/results
# Writes BENCH_RESULTS/latest.md (table, command, machine), latest.csv, latest-runs.csv.
set -u
cd "$(dirname "$0")/.." || exit 2
TOP=$PWD
RUNS=${BENCH_RUNS:-5}
WARMUP=${BENCH_WARMUP:-1}
DELAY=${BENCH_DELAY:-1}
RTT_MS=${BENCH_RTT_MS:-20}
RESULTS=${BENCH_RESULTS:-$TOP/bench/results}
BUCKET=LSST-IR-FUSION-testfromopenstack
PY=/usr/bin/python3

. tests/lib/servers.sh
. tests/lib/seed.sh

# The reference clients, from Debian (installed as root; otherwise the command is printed).
tests/lib/deps.sh python3-boto3 python3-swiftclient python3-pandas python3-dask \
    python3-distributed redis-tools || exit 1
haul_servers_deps || exit 1

D=$(mktemp -d /tmp/haul-bench.XXXXXX)
proxy_pid=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    [ "$BASHPID" = "$$" ] || return 0
    if [ -n "$proxy_pid" ]; then kill -TERM "$proxy_pid" 2>/dev/null; wait "$proxy_pid" 2>/dev/null; fi
    haul_servers_stop
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== servers (redis-server, Swift with tempauth + s3api) under $D"
haul_servers_start "$D/srv" || exit 1
haul_seed_notebook "$BUCKET" "$D/data" >/dev/null || exit 1
mkdir -p "$D/work"
redis_pid=$(cat "$D/srv/run/redis.pid")
settings=("loopback=$HAUL_TEST_S3,$HAUL_TEST_ST_AUTH")
notes=()

if [ "$DELAY" = 1 ]; then
    dport=$(haul_free_port "$HAUL_TEST_SWIFT_PORT") || exit 1
    coproc DP { exec "$PY" "$TOP/bench/delayproxy.py" "$dport" 127.0.0.1 "$HAUL_TEST_SWIFT_PORT" "$RTT_MS" 2>"$D/delayproxy.log"; }
    proxy_pid=$DP_PID
    read -r -t 10 ready _ <&"${DP[0]}" || { echo "bench: the delay proxy did not start" >&2; cat "$D/delayproxy.log" >&2; exit 1; }
    [ "$ready" = ready ] || exit 1
    # Verify the delay, and that Swift's storage URL points back at the proxy.
    verify=$("$PY" - "$HAUL_TEST_SWIFT_PORT" "$dport" <<'EOF'
import http.client, socket, sys, time
direct, delayed = int(sys.argv[1]), int(sys.argv[2])
def fresh(port):
    """connect + one request on a new connection, and a second request on the same one (ms)."""
    t0 = time.perf_counter()
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=10)
    c.connect()
    c.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    c.request('GET', '/healthcheck'); c.getresponse().read()
    t1 = time.perf_counter()
    c.request('GET', '/healthcheck'); c.getresponse().read()
    t2 = time.perf_counter()
    c.close()
    return (t1 - t0) * 1000, (t2 - t1) * 1000
def med(xs): xs = sorted(xs); return xs[len(xs) // 2]
d = [fresh(direct) for _ in range(7)]
p = [fresh(delayed) for _ in range(7)]
c = http.client.HTTPConnection('127.0.0.1', delayed, timeout=10)
c.request('GET', '/auth/v1.0', headers={'X-Auth-User': 'test:tester', 'X-Auth-Key': 'testing'})
r = c.getresponse(); r.read()
url = r.getheader('X-Storage-Url')
ok_url = (':%d/' % delayed) in (url or '')
print('direct: new connection + request %.1f ms, next request %.1f ms; '
      'through the delay proxy: %.1f ms and %.1f ms (added: %.1f ms and %.1f ms); '
      'auth through the proxy gives X-Storage-Url %s (%s)' % (
      med(x[0] for x in d), med(x[1] for x in d), med(x[0] for x in p), med(x[1] for x in p),
      med(x[0] for x in p) - med(x[0] for x in d), med(x[1] for x in p) - med(x[1] for x in d),
      url, 'points at the proxy' if ok_url else 'DOES NOT point at the proxy'))
sys.exit(0 if ok_url else 1)
EOF
    ) || { echo "bench: $verify" >&2; exit 1; }
    echo "== delay proxy on port $dport, +$RTT_MS ms round trip: $verify"
    notes+=(--note "**+$RTT_MS ms setting:** every client reaches the store through bench/delayproxy.py (port $dport), which forwards each chunk $((RTT_MS / 2)) ms late in each direction and holds a new connection's first bytes one extra round trip (the TCP handshake a real remote store costs). Redis stays on loopback (it sits next to the workers). Measured at the start of this run: $verify.")
    settings+=("+${RTT_MS}ms=http://127.0.0.1:$dport,http://127.0.0.1:$dport/auth/v1.0")
fi

echo "== the notebook's workload: $RUNS runs per contender (set BENCH_RUNS), ${#settings[@]} setting(s)"
cmd="make bench"
[ "$RUNS" != 5 ] && cmd="BENCH_RUNS=$RUNS $cmd"
[ "$DELAY" != 1 ] && cmd="BENCH_DELAY=$DELAY $cmd"
[ -n "${BENCH_ONLY:-}" ] && cmd="BENCH_ONLY=$BENCH_ONLY $cmd"
args=()
for s in "${settings[@]}"; do args+=(--setting "$s"); done
"$PY" "$TOP/bench/bench.py" --redis "$HAUL_TEST_REDIS_URL" --redis-pid "$redis_pid" \
    --data "$D/data" --work "$D/work" "${args[@]}" --runs "$RUNS" --warmup "$WARMUP" \
    --only "${BENCH_ONLY:-}" --results "$RESULTS" --command "$cmd" "${notes[@]}"
rc=$?
if [ $rc -ne 0 ]; then
    echo "bench: bench.py failed ($rc); worker logs:" >&2
    tail -n 20 "$D"/work/worker*.log >&2 2>/dev/null
fi
exit $rc
