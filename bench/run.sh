#!/usr/bin/env bash
# bench/run.sh -- `make bench`: haul against the notebook's methods, a load generator and the
# command-line tools a user would pick, side by side on the same servers in one run.  See
# bench/README.md for what is measured and how.
#
# First, on plain loopback (no namespaces, no delay): workload 2 against an nginx with one
# worker process and a Redis of its own (w2plain), then a real Ceph RGW (tests/lib/rgw.sh)
# seeded with small objects (rgw).  Then it builds hosts in network namespaces
# (bench/lib/net.sh): a Redis host, a store host running OpenStack Swift (tempauth + s3api,
# tests/lib/servers.sh) and nginx (workload 2's stand-in store, and another for workload 4's
# large objects, bench/lib/nginx.sh), and four client hosts.  It seeds the notebook's bucket
# into Swift and workload 2's small objects (on tmpfs) for nginx, then runs bench/bench.py once
# with no added delay and once with BENCH_RTT_MS of round trip between the store and every
# other host (bench/netdelay via NFQUEUE: this kernel has no netem), and bench/report.py renders
# the table, the targets and the plot into BENCH_RESULTS.
#
# Settings (environment):
#   BENCH_RUNS=5          timed runs per row (the median is reported)
#   BENCH_WARMUP=1        untimed runs first (haul rows of up to 10,000 keys)
#   BENCH_RTT_MS=20       the added round trip of the delayed setting (0: no delayed setting)
#   BENCH_W2_KEYS=200000  workload 2's objects (1-16 KiB each)
#   BENCH_ONLY=           comma-separated substrings of row names (e.g. "haul,threads")
#   BENCH_WORKLOADS=w1,w2,w3,enqueue,w2plain,w4,rgw,wput,window   (window: bench/window.sh,
#                         10,000,000 keys, on loopback with its own redis-server, after the others)
#   BENCH_W2PLAIN_KEYS=50000        w2plain's keys (the first of workload 2's objects)
#   BENCH_W2PLAIN_CONC=32           w2plain and rgw: 2 workers x this; rclone and the AWS CLI
#                                   get 2 x this transfers / max_concurrent_requests
#   BENCH_W2PLAIN_RCLONE_KEYS=20000 rclone on the first N keys of w2plain (0: all)
#   BENCH_W2PLAIN_TOOL_RUNS=3       rclone and the AWS CLI in the first N rounds of w2plain only
#   BENCH_W2PLAIN_STORE_CAP=0.3     w2plain's store-bound rows: nginx held to this much of one core
#                                   (a cgroup CPU quota) while wrk and haul run again (0: no such rows)
#   BENCH_AWS_KEYS=4000             the AWS CLI on the first N keys (w2plain and rgw)
#   BENCH_RGW_KEYS=20000  BENCH_RGW_RUNS=3
#   BENCH_W4_SIZES=1024,1024,1024,1024,4096   workload 4's objects, MiB
#   BENCH_W4_RUNS=3       runs of workload 4's one-object rows
#   BENCH_W4_ALL_RUNS=1   runs of its all-objects rows (8 GiB a run)
#   BENCH_WPUT_KEYS=20000 the write rows' small files (1-16 KiB, smallobjs.py's first N)
#   BENCH_WPUT_SIZES=1024,1024,1024,1024   the write rows' large files, MiB (empty: none)
#   BENCH_WPUT_RUNS=3     runs of each write row      BENCH_WPUT_CONC=32  2 workers x this
#   BENCH_HAUL_ARGS=, BENCH_HAUL_WORKER_ARGS=   more options for every haul-scheduler run /
#                         haul-worker (after the row's own: they win)
#   BENCH_RESULTS=bench/results (bench/results/partial when BENCH_WORKLOADS or BENCH_ONLY
#                         leaves rows out, so that a partial run does not replace latest.md)
# Needs root (namespaces, iptables) and, with workload 4, about 20 GB of /dev/shm.
set -u
cd "$(dirname "$0")/.." || exit 2
TOP=$PWD
START=$SECONDS
RUNS=${BENCH_RUNS:-5}
WARMUP=${BENCH_WARMUP:-1}
RTT_MS=${BENCH_RTT_MS:-20}
W2_KEYS=${BENCH_W2_KEYS:-200000}
ALL_WORKLOADS=w1,w2,w3,enqueue,w2plain,w4,rgw,wput,window
WORKLOADS=${BENCH_WORKLOADS:-$ALL_WORKLOADS}
PLAIN_KEYS=${BENCH_W2PLAIN_KEYS:-50000}
STORE_CAP=${BENCH_W2PLAIN_STORE_CAP:-0.3}
PLAIN_CONC=${BENCH_W2PLAIN_CONC:-32}
RCLONE_KEYS=${BENCH_W2PLAIN_RCLONE_KEYS:-20000}
TOOL_RUNS=${BENCH_W2PLAIN_TOOL_RUNS:-3}
AWS_KEYS=${BENCH_AWS_KEYS:-4000}
RGW_KEYS=${BENCH_RGW_KEYS:-20000}
RGW_RUNS=${BENCH_RGW_RUNS:-3}
W4_SIZES=${BENCH_W4_SIZES:-1024,1024,1024,1024,4096}
W4_RUNS=${BENCH_W4_RUNS:-3}
W4_ALL_RUNS=${BENCH_W4_ALL_RUNS:-1}
PUT_KEYS=${BENCH_WPUT_KEYS:-20000}
PUT_SIZES=${BENCH_WPUT_SIZES-1024,1024,1024,1024}
PUT_RUNS=${BENCH_WPUT_RUNS:-3}
PUT_CONC=${BENCH_WPUT_CONC:-32}
PARTIAL=""
if [ "$WORKLOADS" != "$ALL_WORKLOADS" ] || [ -n "${BENCH_ONLY:-}" ]; then PARTIAL=1; fi
RESULTS=${BENCH_RESULTS:-$TOP/bench/results${PARTIAL:+/partial}}
BUCKET=LSST-IR-FUSION-testfromopenstack
W2_BUCKET=smallobjs
PY=/usr/bin/python3

die() { echo "bench: $*" >&2; exit 2; }
[ "$(id -u)" -eq 0 ] || die "needs root: it makes network namespaces and iptables rules (run as root, or in a root container)"
wl_in() { local w out=(); for w in "$@"; do [[ ",$WORKLOADS," == *",$w,"* ]] && out+=("$w"); done; (IFS=,; echo "${out[*]}"); }
for w in ${WORKLOADS//,/ }; do
    [[ ",$ALL_WORKLOADS," == *",$w,"* ]] || die "unknown workload '$w' in BENCH_WORKLOADS (known: $ALL_WORKLOADS)"
done
NS_WL=$(wl_in w1 w2 w3 enqueue w4 wput)

. tests/lib/servers.sh
. tests/lib/seed.sh
. tests/lib/rgw.sh
. bench/lib/net.sh
. bench/lib/nginx.sh

echo "== packages and tools"
tests/lib/deps.sh python3-boto3 python3-swiftclient python3-pandas python3-dask python3-distributed \
    python3-matplotlib redis-server redis-tools nginx-light wrk iptables iproute2 \
    libnetfilter-queue-dev pkg-config rclone awscli curl || exit 2
if [ -n "$NS_WL" ]; then haul_servers_deps || exit 2; fi
if [ -n "$(wl_in rgw)" ]; then haul_rgw_deps || exit 2; fi
make -s --no-print-directory all bench-tools || exit 2

# Workload 4 holds its objects and one download on tmpfs at once: checked before anything runs.
if [ -n "$(wl_in w4)" ]; then
    need=$(( $(echo "$W4_SIZES" | tr , '\n' | awk '{ s += $1 } END { print s }') * 2 + 3072 ))
    have=$(df -Pk /dev/shm | awk 'NR == 2 { print int($4 / 1024) }')
    [ "$have" -ge "$need" ] || die "workload 4 needs about $need MiB free on /dev/shm (its objects, one download, the small objects); there are $have (set BENCH_W4_SIZES, or leave w4 out of BENCH_WORKLOADS)"
fi
# The write rows hold their files and one run's objects in Swift (on tmpfs too); with w4, its
# first objects are the same bytes as wput's large files and are hard-linked, not copied.
if [ -n "$(wl_in wput)" ]; then
    need=$(( $(echo "0,$PUT_SIZES" | tr , '\n' | awk '{ s += $1 } END { print s }') * 2 + PUT_KEYS * 40 / 1024 + 1024 ))
    have=$(df -Pk /dev/shm | awk 'NR == 2 { print int($4 / 1024) }')
    [ "$have" -ge "$need" ] || die "the write rows need about $need MiB free on /dev/shm; there are $have (set BENCH_WPUT_SIZES or BENCH_WPUT_KEYS)"
fi

D=$(mktemp -d /dev/shm/haul-bench.XXXXXX) || exit 2
redis_pid="" plain_redis_pid="" ngpids=()
# shellcheck disable=SC2317  # run by the EXIT trap
cleanup() {
    [ "$BASHPID" = "$$" ] || return 0
    bench_delay_off >/dev/null 2>&1
    local p
    for p in "${ngpids[@]}"; do BENCH_NGINX_PID=$p bench_nginx_stop 2>/dev/null; done
    haul_rgw_stop "$D/rgw"
    haul_servers_stop
    for p in $redis_pid $plain_redis_pid; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    bench_net_down
    rm -rf "$D"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# nginx_up DIR ROOT ADDR PORT: one more nginx (bench/lib/nginx.sh keeps the pid of one; the
# cleanup stops every one started here).  BENCH_NETNS, BENCH_NGINX_*: as for bench_nginx_start.
nginx_up() {
    BENCH_NGINX_PID=""
    bench_nginx_start "$@" || return 1
    ngpids+=("$BENCH_NGINX_PID")
}
nginx_down() { BENCH_NGINX_PID=$1 bench_nginx_stop; }

# aws_subset N: a bucket W2_BUCKET-firstN holding the first N keys of W2_BUCKET, for the AWS
# CLI (it copies a prefix, not a list of keys): links to the same directories of 1000 objects,
# so N is rounded up to a thousand; and its listing pages (bench/lib/s3listing.py).
aws_subset() {
    local n=$1 d
    mkdir -p "$D/objs/$W2_BUCKET-first$n/small" || return 1
    for d in $(head -n "$n" "$D/objs/keys.txt" | cut -d/ -f2 | uniq); do
        ln -sfn "../../$W2_BUCKET/small/$d" "$D/objs/$W2_BUCKET-first$n/small/$d" || return 1
    done
    head -n "$n" "$D/objs/expected.tsv" >"$D/first$n.tsv"
    "$PY" bench/lib/s3listing.py "$D/first$n.tsv" "$D/listings" "$W2_BUCKET-first$n" small/ 2>/dev/null
}

# put_trees: the write rows' files under $D/wput (the workers' --in-root): small/ holds the
# first PUT_KEYS of smallobjs.py's objects (the same seed: the same bytes as workload 2's) in
# src/small/, big/ the PUT_SIZES files of bigobjs.sh in src/big/ -- workload 4's own when they
# are there (same size and index: the same bytes), hard-linked -- and etags.tsv, each large
# file's S3 multipart ETag in rclone's (5 MiB) and the AWS CLI's (8 MiB) part sizes, which is
# what the store lists for their multipart uploads.
put_trees() {
    local t0=$SECONDS root=$D/wput/big i mib=() reuse=1
    if [ "$PUT_KEYS" -gt 0 ]; then
        "$PY" bench/lib/smallobjs.py "$D/wput/small" src "$PUT_KEYS" >/dev/null || return 1
    fi
    [ -n "$PUT_SIZES" ] || return 0
    IFS=, read -r -a mib <<<"$PUT_SIZES"
    for i in "${!mib[@]}"; do [ -f "$D/big/bigobjs/big/obj-$i-${mib[$i]}m.bin" ] || reuse=""; done
    if [ -n "$reuse" ]; then
        mkdir -p "$root/src/big" && : >"$root/keys.txt" && : >"$root/expected.tsv" || return 1
        for i in "${!mib[@]}"; do
            ln "$D/big/bigobjs/big/obj-$i-${mib[$i]}m.bin" "$root/src/big/" || return 1
            echo "big/obj-$i-${mib[$i]}m.bin" >>"$root/keys.txt"
            grep -F "big/obj-$i-${mib[$i]}m.bin$(printf '\t')" "$D/big/expected.tsv" >>"$root/expected.tsv" || return 1
        done
    else
        bench/lib/bigobjs.sh "$root" src "$PUT_SIZES" || return 1
    fi
    "$PY" bench/lib/putstore.py etags "$root/expected.tsv" "$root/src" 5242880 8388608 >"$root/etags.tsv" || return 1
    echo "   the write rows' files: $PUT_KEYS small, $PUT_SIZES MiB, in $((SECONDS - t0)) s"
}

mkdir -p "$D/work"
files=()
notes=()
case $AWS_KEYS in *000) ;; *) die "BENCH_AWS_KEYS must be a multiple of 1000 (the objects are laid out 1000 a directory)" ;; esac
AWS_BUCKET=$W2_BUCKET-first$AWS_KEYS

# Workload 2's objects: as many as the largest of the workloads that use them needs.
nobj=0
at_least() { if [ "$1" -gt "$nobj" ]; then nobj=$1; fi; }
if [ -n "$(wl_in w2 w3 enqueue)" ]; then at_least "$W2_KEYS"; fi
if [ -n "$(wl_in w2plain)" ]; then at_least "$PLAIN_KEYS"; fi
if [ -n "$(wl_in rgw)" ]; then at_least "$RGW_KEYS"; fi
if [ -n "$(wl_in w2plain rgw)" ]; then at_least "$AWS_KEYS"; fi
if [ "$nobj" -gt 0 ]; then
    t0=$SECONDS
    "$PY" bench/lib/smallobjs.py "$D/objs" "$W2_BUCKET" "$nobj" >/dev/null || die "making workload 2's objects failed"
    echo "== $nobj small objects written in $((SECONDS - t0)) s"
fi

# --- plain loopback: no namespaces, no delay ------------------------------------------------
if [ -n "$(wl_in w2plain rgw)" ]; then
    pport=$(haul_free_port) || exit 2
    redis-server --bind 127.0.0.1 --port "$pport" --save '' --appendonly no --protected-mode no \
        --daemonize no --logfile "$D/redis-plain.log" &
    plain_redis_pid=$!
    PREDIS=redis://127.0.0.1:$pport/0
    for _ in $(seq 100); do [ "$(redis-cli -u "$PREDIS" PING 2>/dev/null)" = PONG ] && break; sleep 0.05; done
    [ "$(redis-cli -u "$PREDIS" PING 2>/dev/null)" = PONG ] || die "redis-server did not start (see $D/redis-plain.log)"
    plain=(--setting "plain loopback" --redis "$PREDIS" --redis-pid "$plain_redis_pid" --client-ns ""
           --objs "$D/objs" --w2-bucket "$W2_BUCKET" --outroot "$D" --work "$D/work" --runs "$RUNS"
           --warmup "$WARMUP" --only "${BENCH_ONLY:-}" --w2-workers 2 --w2-conc "$PLAIN_CONC" --w2-batch 64)
    aws_subset "$AWS_KEYS" || die "the AWS CLI's bucket failed"
fi

if [ -n "$(wl_in w2plain)" ]; then
    ngport=$(haul_free_port "$pport") || exit 2
    BENCH_NETNS="" BENCH_NGINX_WORKERS=1 BENCH_NGINX_MD5_ETAG=1 BENCH_NGINX_LISTINGS=$D/listings \
        nginx_up "$D/nginx-plain" "$D/objs" 127.0.0.1 "$ngport" || die "nginx (plain loopback) did not start"
    echo "== setting 'plain loopback' (nginx, 1 worker process, on 127.0.0.1:$ngport; Redis on 127.0.0.1:$pport): w2plain"
    [ "$STORE_CAP" != 0 ] && notes+=("**store-bound (plain loopback):** nginx, its workers and their threads in a cgroup of their own whose CPU quota holds them to $STORE_CAP of one core during each of these rows' runs (bench/lib/cpucap.py); the clients and Redis are free. The store sets the pace, as the users' remote Ceph does, and a client's keys/s says how busy it keeps the store at the same number of requests in flight.")
    notes+=("**plain loopback:** no namespaces: nginx (1 worker process, MD5 ETags), Redis, RGW and the clients on 127.0.0.1 of this machine, sharing its 2 cores.")
    "$PY" bench/bench.py --workloads w2plain "${plain[@]}" --nginx "http://127.0.0.1:$ngport" \
        --w2-keys "$PLAIN_KEYS" --token "$BENCH_NGINX_TOKEN" --wrk-seconds 6 \
        --store-pid "$BENCH_NGINX_PID" --store-cap "$STORE_CAP" \
        --rclone-keys "$RCLONE_KEYS" --aws-keys "$AWS_KEYS" --aws-bucket "$AWS_BUCKET" --tool-runs "$TOOL_RUNS" \
        --out "$D/rows-plain.json" || die "bench.py failed (w2plain)"
    files+=("$D/rows-plain.json")
    nginx_down "${ngpids[-1]}"
fi

if [ -n "$(wl_in rgw)" ]; then
    t0=$SECONDS
    haul_rgw_start "$D/rgw" >/dev/null || die "Ceph RGW did not start"
    # Seeded with rclone (not timed): the first RGW_KEYS objects, and the AWS CLI's bucket.
    printf '[rgw]\ntype = s3\nprovider = Ceph\naccess_key_id = %s\nsecret_access_key = %s\nendpoint = %s\nregion = %s\nforce_path_style = true\n' \
        "$HAUL_TEST_RGW_ACCESS_KEY" "$HAUL_TEST_RGW_SECRET_KEY" "$HAUL_TEST_RGW_S3" "$HAUL_TEST_RGW_REGION" \
        >"$D/rclone-seed.conf"
    rgw_rclone() { env -u AWS_CA_BUNDLE RCLONE_CONFIG="$D/rclone-seed.conf" rclone "$@"; }
    head -n "$RGW_KEYS" "$D/objs/keys.txt" >"$D/rgw-keys.txt"
    head -n "$AWS_KEYS" "$D/objs/keys.txt" >"$D/rgw-aws-keys.txt"
    for b in "$W2_BUCKET:$D/rgw-keys.txt:$RGW_KEYS" "$AWS_BUCKET:$D/rgw-aws-keys.txt:$AWS_KEYS"; do
        IFS=: read -r bk kf want <<<"$b"
        rgw_rclone mkdir "rgw:$bk" || die "cannot make RGW's bucket $bk"
        rgw_rclone copy --transfers 64 --no-check-dest --s3-no-check-bucket --files-from-raw "$kf" \
            --no-traverse "$D/objs/$W2_BUCKET" "rgw:$bk" ||
            die "seeding RGW's bucket $bk failed"
        n=$(rgw_rclone size --json "rgw:$bk" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["count"])')
        [ "$n" = "$want" ] || die "RGW's bucket $bk holds $n objects after seeding, not $want"
    done
    echo "== setting 'plain loopback' (Ceph RGW at $HAUL_TEST_RGW_S3, $RGW_KEYS + $AWS_KEYS objects seeded in $((SECONDS - t0)) s): rgw"
    notes+=("**RGW:** a real Ceph 16.2 RGW (tests/lib/rgw.sh: one monitor, one OSD with memstore, radosgw's beast frontend) on 127.0.0.1, beside Redis and the clients on the same 2 cores; seeded by rclone before the rows.")
    "$PY" bench/bench.py --workloads rgw "${plain[@]}" --rgw-s3 "$HAUL_TEST_RGW_S3" \
        --rgw-region "$HAUL_TEST_RGW_REGION" --rgw-bucket "$W2_BUCKET" \
        --rgw-access-key "$HAUL_TEST_RGW_ACCESS_KEY" --rgw-secret-key "$HAUL_TEST_RGW_SECRET_KEY" \
        --rgw-keys "$RGW_KEYS" --rgw-aws-keys "$AWS_KEYS" --rgw-aws-bucket "$AWS_BUCKET" \
        --rgw-runs "$RGW_RUNS" --out "$D/rows-rgw.json" || die "bench.py failed (rgw)"
    files+=("$D/rows-rgw.json")
    haul_rgw_stop "$D/rgw"
    rm -rf "$D/rgw"
fi
if [ -n "$plain_redis_pid" ]; then
    kill "$plain_redis_pid"
    wait "$plain_redis_pid" 2>/dev/null
    plain_redis_pid=""
fi

# --- hosts in network namespaces ------------------------------------------------------------
if [ -n "$NS_WL" ]; then
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

    ports=("$HAUL_TEST_SWIFT_PORT")
    ngport="" bigport=""
    if [ -n "$(wl_in w2 w3 enqueue)" ]; then   # (workload 1 is Swift's alone)
        ngport=$(haul_free_port "$HAUL_TEST_SWIFT_PORT") || exit 2
        BENCH_NETNS=$BENCH_NS_STORE nginx_up "$D/nginx" "$D/objs" "$BENCH_STORE_IP" "$ngport" || die "nginx did not start"
        ports+=("$ngport")
        echo "   nginx for workload 2 on $BENCH_STORE_IP:$ngport"
    fi
    if [ -n "$(wl_in w4)" ]; then
        bench/lib/bigobjs.sh "$D/big" bigobjs "$W4_SIZES" || die "making workload 4's objects failed"
        "$PY" bench/lib/s3listing.py "$D/big/expected.tsv" "$D/big-listings" bigobjs big/ 2>/dev/null || exit 2
        bigport=$(haul_free_port "$HAUL_TEST_SWIFT_PORT" "$ngport") || exit 2
        BENCH_NETNS=$BENCH_NS_STORE BENCH_NGINX_MD5_ETAG=1 BENCH_NGINX_LISTINGS=$D/big-listings \
            nginx_up "$D/nginx-big" "$D/big" "$BENCH_STORE_IP" "$bigport" || die "nginx (workload 4) did not start"
        ports+=("$bigport")
        echo "   nginx for workload 4 on $BENCH_STORE_IP:$bigport"
    fi
    if [ -n "$(wl_in wput)" ]; then
        put_trees || die "making the write rows' files failed"
    fi

    common=(--redis "$REDIS" --redis-pid "$redis_pid" --client-ns "$H1"
            --hosts "$(echo "$BENCH_HOST_NSS" | tr ' ' ',')"
            --swift-auth "http://$BENCH_STORE_IP:$HAUL_TEST_SWIFT_PORT/auth/v1.0"
            --s3 "http://$BENCH_STORE_IP:$HAUL_TEST_SWIFT_PORT" --nginx "http://$BENCH_STORE_IP:$ngport"
            --notebook "$D/notebook" --objs "$D/objs" --w2-bucket "$W2_BUCKET" --outroot "$D"
            --big "$D/big" --big-url "http://$BENCH_STORE_IP:$bigport" --w4-runs "$W4_RUNS"
            --w4-all-runs "$W4_ALL_RUNS" --runs "$RUNS" --warmup "$WARMUP" --only "${BENCH_ONLY:-}"
            --wput "$D/wput" --wput-conc "$PUT_CONC" --wput-runs "$PUT_RUNS")
fi

rtt() { bench_rtt_ms "$H1" "$BENCH_STORE_IP" "$1"; }

# --- no added delay: the hosts' veth links only -------------------------------------------
wl=$(wl_in w1 w2 enqueue w4 wput)
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
wl=$(wl_in w1 w2 w3 w4 wput)
if [ "$RTT_MS" != 0 ] && [ -n "$wl" ]; then
    bench_delay_on "$RTT_MS" "${ports[@]}" || die "cannot add the delay"
    sw=$(rtt "$HAUL_TEST_SWIFT_PORT")
    rd=$(bench_rtt_ms "$H1" "$BENCH_REDIS_IP" 6379)
    ng=$sw big=$sw
    if [ -n "$ngport" ]; then ng=$(rtt "$ngport"); fi
    if [ -n "$bigport" ]; then big=$(rtt "$bigport"); fi
    echo "== setting '+$RTT_MS ms' (TCP connect h1 -> Swift $sw ms, -> nginx $ng / $big ms, -> Redis $rd ms): $wl"
    awk -v a="$sw" -v b="$ng" -v c="$big" -v want="$RTT_MS" 'BEGIN { exit !(a > want * 0.8 && b > want * 0.8 && c > want * 0.8) }' ||
        die "the delay is not there: connect takes $sw / $ng / $big ms, want about $RTT_MS"
    notes+=("**+$RTT_MS ms:** bench/netdelay holds every TCP packet crossing the store host's switch port $((RTT_MS / 2)) ms (NFQUEUE; this kernel has no netem), so each round trip between the store and any other host gains $RTT_MS ms; Redis is on its own host and not delayed. TCP connect from h1 measured at the start: Swift $sw ms, nginx $ng ms (workload 4's: $big ms), Redis $rd ms.")
    "$PY" bench/bench.py --setting "+$RTT_MS ms" --workloads "$wl" "${common[@]}" --work "$D/work" \
        --w2-conc "${BENCH_W2_CONC_DELAYED:-128}" --wrk-seconds 10 --py-keys 4000 --dask-div 4 \
        --w3-conc "${BENCH_W3_CONC:-64}" --w3-keys 20000 --out "$D/rows-delayed.json" || die "bench.py failed (+$RTT_MS ms)"
    files+=("$D/rows-delayed.json")
    bench_delay_off
fi
rm -rf "$D/big"

# --- Redis memory of a big job (bench/window.sh: its own redis-server, on loopback) ----------
if [ -n "$(wl_in window)" ]; then
    echo "== window: Redis memory of a 10,000,000-key job"
    BENCH_RESULTS=$RESULTS bash bench/window.sh || die "bench/window.sh failed"
    ran_window=1
fi

[ ${#files[@]} -gt 0 ] || [ -n "${ran_window:-}" ] || die "nothing was run (BENCH_WORKLOADS=$WORKLOADS)"
[ ${#files[@]} -gt 0 ] || exit 0
cmd="make bench"
for v in BENCH_RUNS BENCH_W2_KEYS BENCH_WORKLOADS BENCH_ONLY BENCH_RTT_MS BENCH_W2PLAIN_KEYS \
    BENCH_W2PLAIN_CONC BENCH_W2PLAIN_RCLONE_KEYS BENCH_W2PLAIN_TOOL_RUNS BENCH_AWS_KEYS BENCH_RGW_KEYS BENCH_RGW_RUNS \
    BENCH_W4_SIZES BENCH_W4_RUNS BENCH_W4_ALL_RUNS BENCH_WPUT_KEYS BENCH_WPUT_SIZES BENCH_WPUT_RUNS \
    BENCH_WPUT_CONC BENCH_HAUL_ARGS BENCH_HAUL_WORKER_ARGS; do
    [ -n "${!v:-}" ] && cmd="$v=\"${!v}\" $cmd"
done
nargs=()
for n in "${notes[@]}"; do nargs+=(--note "$n"); done
elapsed=$((SECONDS - START))
"$PY" bench/report.py --results "$RESULTS" --command "$cmd" --elapsed "$((elapsed / 60)) min $((elapsed % 60)) s" \
    "${nargs[@]}" "${files[@]}"
