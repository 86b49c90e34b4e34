#!/usr/bin/env bash
# bench/run.sh -- `make bench`: haul against the notebook's methods and a load generator, side by
# side on the same servers in one run.  See bench/README.md for what is measured and how.
#
# It builds, on this machine, hosts in network namespaces (bench/lib/net.sh): a Redis host, a
# store host running OpenStack Swift (tempauth + s3api, tests/lib/servers.sh) and nginx (workload
# 2's stand-in store, bench/lib/nginx.sh), and four client hosts.  It seeds the notebook's
# bucket into Swift and workload 2's small objects (on tmpfs) for nginx, then runs bench/bench.py
# once with no added delay and once with BENCH_RTT_MS of round trip between the store and every
# other host (bench/netdelay via NFQUEUE: this kernel has no netem), and bench/report.py renders
# the table, the targets and the plot into BENCH_RESULTS.
#
# Settings (environment):
#   BENCH_RUNS=5          timed runs per row (the median is reported)
#   BENCH_WARMUP=1        untimed runs first
#   BENCH_RTT_MS=20       the added round trip of the delayed setting (0: no delayed setting)
#   BENCH_W2_KEYS=200000  workload 2's objects (1-16 KiB each)
#   BENCH_ONLY=           comma-separated substrings of row names (e.g. "haul,threads")
#   BENCH_WORKLOADS=w1,w2,w3,enqueue,window   (window: bench/window.sh, 10,000,000 keys, on
#                         loopback with its own redis-server, after the others)
#   BENCH_RESULTS=bench/results
# Needs root (namespaces, iptables) and about 2 GB of /dev/shm.
set -u
cd "$(dirname "$0")/.." || exit 2
TOP=$PWD
START=$SECONDS
RUNS=${BENCH_RUNS:-5}
WARMUP=${BENCH_WARMUP:-1}
RTT_MS=${BENCH_RTT_MS:-20}
W2_KEYS=${BENCH_W2_KEYS:-200000}
WORKLOADS=${BENCH_WORKLOADS:-w1,w2,w3,enqueue,window}
RESULTS=${BENCH_RESULTS:-$TOP/bench/results}
BUCKET=LSST-IR-FUSION-testfromopenstack
PY=/usr/bin/python3

die() { echo "bench: $*" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "needs root: it makes network namespaces and iptables rules (run as root, or in a root container)"

. tests/lib/servers.sh
. tests/lib/seed.sh
. bench/lib/net.sh
. bench/lib/nginx.sh

echo "== packages and tools"
tests/lib/deps.sh python3-boto3 python3-swiftclient python3-pandas python3-dask python3-distributed \
    python3-matplotlib redis-server redis-tools nginx-light wrk iptables iproute2 \
    libnetfilter-queue-dev pkg-config || exit 2
haul_servers_deps || exit 2
make -s --no-print-directory all bench-tools || exit 2

D=$(mktemp -d /dev/shm/haul-bench.XXXXXX) || exit 2
redis_pid=""
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    [ "$BASHPID" = "$$" ] || return 0
    bench_delay_off >/dev/null 2>&1
    bench_nginx_stop 2>/dev/null
    haul_servers_stop
    if [ -n "$redis_pid" ]; then kill "$redis_pid" 2>/dev/null; wait "$redis_pid" 2>/dev/null; fi
    bench_net_down
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== hosts (network namespaces) and servers under $D"
bench_net_up 4 || exit 2
H1=$BENCH_NS_H1
# Redis on its own host, next to the clients (never delayed).
ip netns exec "$BENCH_NS_REDIS" redis-server --bind "$BENCH_REDIS_IP" --port 6379 --save '' \
    --appendonly no --protected-mode no --daemonize no --logfile "$D/redis.log" &
redis_pid=$!
REDIS=redis://$BENCH_REDIS_IP:6379/0
for _ in $(seq 100); do
    [ "$(ip netns exec "$H1" redis-cli -u "$REDIS" PING 2>/dev/null)" = PONG ] && break
    sleep 0.05
done
[ "$(ip netns exec "$H1" redis-cli -u "$REDIS" PING 2>/dev/null)" = PONG ] || die "redis-server did not start (see $D/redis.log)"

export HAUL_TEST_NETNS=$BENCH_NS_STORE HAUL_TEST_SWIFT_ADDR=$BENCH_STORE_IP HAUL_TEST_NO_REDIS=1
haul_servers_start "$D/srv" || die "Swift did not start"
haul_seed_notebook "$BUCKET" "$D/notebook" >/dev/null || die "seeding the notebook bucket failed"
echo "   Swift (tempauth + s3api) on $BENCH_STORE_IP:$HAUL_TEST_SWIFT_PORT, notebook bucket seeded"

W2_BUCKET=smallobjs
t0=$SECONDS
"$PY" bench/lib/smallobjs.py "$D/objs" "$W2_BUCKET" "$W2_KEYS" >/dev/null || die "making workload 2's objects failed"
ngport=$(haul_free_port "$HAUL_TEST_SWIFT_PORT") || exit 2
BENCH_NETNS=$BENCH_NS_STORE bench_nginx_start "$D/nginx" "$D/objs" "$BENCH_STORE_IP" "$ngport" || die "nginx did not start"
echo "   $W2_KEYS objects for workload 2 written in $((SECONDS - t0)) s; nginx on $BENCH_STORE_IP:$ngport"

common=(--redis "$REDIS" --redis-pid "$redis_pid" --client-ns "$H1"
        --hosts "$(echo "$BENCH_HOST_NSS" | tr ' ' ',')"
        --swift-auth "http://$BENCH_STORE_IP:$HAUL_TEST_SWIFT_PORT/auth/v1.0"
        --s3 "http://$BENCH_STORE_IP:$HAUL_TEST_SWIFT_PORT" --nginx "http://$BENCH_STORE_IP:$ngport"
        --notebook "$D/notebook" --objs "$D/objs" --w2-bucket "$W2_BUCKET" --outroot "$D"
        --runs "$RUNS" --warmup "$WARMUP" --only "${BENCH_ONLY:-}")
mkdir -p "$D/work"
files=()
notes=()

rtt() { bench_rtt_ms "$H1" "$BENCH_STORE_IP" "$1"; }
wl_in() { local w out=(); for w in "$@"; do [[ ",$WORKLOADS," == *",$w,"* ]] && out+=("$w"); done; (IFS=,; echo "${out[*]}"); }

# --- no added delay: the hosts' veth links only -------------------------------------------
wl=$(wl_in w1 w2 enqueue)
if [ -n "$wl" ]; then
    base=$(rtt "$HAUL_TEST_SWIFT_PORT")
    echo "== setting 'no delay' (TCP connect h1 -> store: $base ms): $wl"
    notes+=("**no delay:** clients on host h1 reach the store host over veth links and a bridge; TCP connect measured at the start: $base ms.")
    "$PY" bench/bench.py --setting "no delay" --workloads "$wl" "${common[@]}" --work "$D/work" \
        --w2-conc "${BENCH_W2_CONC:-32}" --wrk-seconds 6 --py-keys 6000 --dask-div 2 \
        --out "$D/rows-nodelay.json" || die "bench.py failed (no delay)"
    files+=("$D/rows-nodelay.json")
fi

# --- the store made remote ------------------------------------------------------------------
wl=$(wl_in w1 w2 w3)
if [ "$RTT_MS" != 0 ] && [ -n "$wl" ]; then
    bench_delay_on "$RTT_MS" "$HAUL_TEST_SWIFT_PORT" "$ngport" || die "cannot add the delay"
    sw=$(rtt "$HAUL_TEST_SWIFT_PORT")
    ng=$(rtt "$ngport")
    rd=$(bench_rtt_ms "$H1" "$BENCH_REDIS_IP" 6379)
    echo "== setting '+$RTT_MS ms' (TCP connect h1 -> Swift $sw ms, -> nginx $ng ms, -> Redis $rd ms): $wl"
    awk -v a="$sw" -v b="$ng" -v want="$RTT_MS" 'BEGIN { exit !(a > want * 0.8 && b > want * 0.8) }' ||
        die "the delay is not there: connect takes $sw / $ng ms, want about $RTT_MS"
    notes+=("**+$RTT_MS ms:** bench/netdelay holds every TCP packet crossing the store host's switch port $((RTT_MS / 2)) ms (NFQUEUE; this kernel has no netem), so each round trip between the store and any other host gains $RTT_MS ms; Redis is on its own host and not delayed. TCP connect from h1 measured at the start: Swift $sw ms, nginx $ng ms, Redis $rd ms.")
    "$PY" bench/bench.py --setting "+$RTT_MS ms" --workloads "$wl" "${common[@]}" --work "$D/work" \
        --w2-conc "${BENCH_W2_CONC_DELAYED:-128}" --wrk-seconds 10 --py-keys 4000 --dask-div 4 \
        --w3-conc "${BENCH_W3_CONC:-64}" --w3-keys 20000 --out "$D/rows-delayed.json" || die "bench.py failed (+$RTT_MS ms)"
    files+=("$D/rows-delayed.json")
    bench_delay_off
fi

# --- Redis memory of a big job (bench/window.sh: its own redis-server, on loopback) ----------
if [ -n "$(wl_in window)" ]; then
    echo "== window: Redis memory of a 10,000,000-key job"
    BENCH_RESULTS=$RESULTS bash bench/window.sh || die "bench/window.sh failed"
    ran_window=1
fi

[ ${#files[@]} -gt 0 ] || [ -n "${ran_window:-}" ] || die "nothing was run (BENCH_WORKLOADS=$WORKLOADS)"
[ ${#files[@]} -gt 0 ] || exit 0
cmd="make bench"
[ "$RUNS" != 5 ] && cmd="BENCH_RUNS=$RUNS $cmd"
[ "$W2_KEYS" != 200000 ] && cmd="BENCH_W2_KEYS=$W2_KEYS $cmd"
[ "$WORKLOADS" != w1,w2,w3,enqueue,window ] && cmd="BENCH_WORKLOADS=$WORKLOADS $cmd"
[ -n "${BENCH_ONLY:-}" ] && cmd="BENCH_ONLY=$BENCH_ONLY $cmd"
nargs=()
for n in "${notes[@]}"; do nargs+=(--note "$n"); done
elapsed=$((SECONDS - START))
"$PY" bench/report.py --results "$RESULTS" --command "$cmd" --elapsed "$((elapsed / 60)) min $((elapsed % 60)) s" \
    "${nargs[@]}" "${files[@]}"
