#!/usr/bin/env bash
# The deployment users run: compose.yaml with Docker, end to end.
#
# Makes sure Docker is there (docker/docker.sh, as `make up` does: as root
# installs docker.io and docker-compose, starts dockerd -- logging to
# HAUL_DOCKERD_LOG -- when none answers, and leaves it running, makes the
# debian:bookworm-slim base image with debootstrap when it is missing), builds the images
# (timed), then, on the compose file itself, under a project name of its own:
#
#   1. `up --scale worker=3 --exit-code-from scheduler`, as a user would:
#      the scheduler exits 0; its output shows every zip's sidecar text and
#      the summary; its CSV (copied out of the container) holds the 800
#      expected rows in order; after a Redis restart (the AOF) the job's
#      results stream names at least two of the project's worker containers,
#      and no task is left queued, held or dead;
#   2. the job again with `--scale worker=1`, then `--scale worker=4`, the
#      store and Redis already up, 3 times each (HAUL_COMPOSE_REPS): each
#      right, the results from exactly 1, then from at least 2, workers; the
#      median times printed;
#   3. `--profile monitoring up serve prometheus` beside the 4 workers (with
#      the other spelling of Compose when both are installed): Prometheus's
#      API says it scrapes the 4 workers and serve, 4 live workers, the last
#      job's 800 keys done; serve's /metrics answers on the host's loopback.
#
# Then `down -v`: containers, network and volumes go; the images stay, so a
# second run builds from cache.  Hermetic: the caller's HAUL_*, ST_*, AWS_*,
# OS_* variables and the repository's .env (if any) are not used.
#
# When Docker cannot be installed or started, it says so and FAILS -- unless
# HAUL_SKIP_DOCKER=1, which makes that a skip (0 passed, 0 failed).
# Settings: HAUL_COMPOSE_NO_CACHE=1 builds without the cache (a cold build);
# HAUL_COMPOSE_TIMEOUT=600 seconds per compose run; HAUL_KEEP=1 keeps the
# project and the files after a run.
set -u
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD

passed=0 failed=0
ok()   { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/  | /' "$2" | tail -25; }
info() { echo "  $*"; }
now()  { date +%s.%N; }
secs() { awk "BEGIN{printf \"%.1f\", $2 - $1}"; }

# Docker missing or dead is a failure, said loudly, unless asked to skip.
no_docker() {
    if [ "${HAUL_SKIP_DOCKER:-}" = 1 ]; then
        echo "SKIP Docker Compose test: $1 (HAUL_SKIP_DOCKER=1)"
        echo "0 passed, 0 failed"
        exit 0
    fi
    echo "FAIL ======================================================================"
    echo "FAIL Docker Compose test cannot run: $1"
    echo "FAIL (set HAUL_SKIP_DOCKER=1 to skip it on a machine without Docker)"
    echo "FAIL ======================================================================"
    echo "0 passed, 1 failed"
    exit 1
}

# ---- Docker itself -------------------------------------------------------

. docker/docker.sh
haul_docker_ready || no_docker "$HAUL_DOCKER_WHY"
COMPOSE=("${HAUL_COMPOSE[@]}")
info "$(docker version -f 'Docker {{.Server.Version}}' 2>/dev/null), $("${COMPOSE[@]}" version --short 2>/dev/null || "${COMPOSE[@]}" version | head -1) (${COMPOSE[*]})"

# ---- the project ---------------------------------------------------------

# The caller's configuration must not leak in: compose.yaml reads these.
for v in $(compgen -e); do
    case $v in
        HAUL_SKIP_DOCKER | HAUL_KEEP | HAUL_COMPOSE_* | HAUL_DOCKERD_LOG | HAUL_DEBIAN_MIRROR) ;;
        HAUL_* | ST_* | AWS_* | OS_* | COMPOSE_*) unset "$v" ;;
    esac
done

T=$(mktemp -d /tmp/haul-compose.XXXXXX)
P=haultest$$$(printf '%04x' $((RANDOM)))
# The compose file's variables: none set but one. The test reads each job's results stream
# afterwards (80 distinct results; which worker did what), so the scheduler keeps them
# (--keep-results) instead of trimming what it has written.
echo HAUL_KEEP_RESULTS=1 >"$T/empty.env"
dc() {
    "${COMPOSE[@]}" --env-file "$T/empty.env" -p "$P" -f "$TOP/compose.yaml" \
        --project-directory "$TOP" "$@"
}
cleanup() {
    if [ "$failed" -ne 0 ]; then
        echo "  (the last lines of each service's log:)"
        dc logs --no-color --tail 15 2>&1 | sed 's/^/  | /' | tail -80
    fi
    if [ -n "${HAUL_KEEP:-}" ]; then
        echo "  (kept: compose project $P, files in $T)"
        return
    fi
    dc down -v --remove-orphans -t 5 >"$T/down.log" 2>&1 ||
        { echo "  down failed:"; sed 's/^/  | /' "$T/down.log"; }
    if [ "$failed" -eq 0 ]; then rm -rf "$T"; else echo "  (test files kept in $T)"; fi
}
trap cleanup EXIT

TIMEOUT=${HAUL_COMPOSE_TIMEOUT:-600}
rcli() { dc exec -T redis redis-cli "$@"; }

# The answers the store must give: the seeded dataset, generated here the
# same way the objstore image seeds it.
. tests/lib/servers.sh
. tests/lib/seed.sh
mkdir -p "$T/data/objects"
_haul_seed_write notebook "$T/data" "$T/seed.list" ||
    { fail "generating the notebook dataset"; echo "$passed passed, $failed failed"; exit 1; }
EXPECTED=$T/data/notebook-expected.tsv

# ---- images --------------------------------------------------------------

if ! docker/base-image.sh debian:bookworm-slim >"$T/base.log" 2>&1; then
    fail "base image debian:bookworm-slim (docker/base-image.sh)" "$T/base.log"
    echo "$passed passed, $failed failed"
    exit 1
fi
cache="warm cache"
docker image inspect haul:latest haul-objstore:latest haul-redis:latest >/dev/null 2>&1 ||
    cache="cold: some images were missing"
build=(build)
[ "${COMPOSE[0]}" = docker-compose ] && build+=(--parallel)
if [ "${HAUL_COMPOSE_NO_CACHE:-}" = 1 ]; then
    build+=(--no-cache)
    cache="cold: --no-cache"
fi
# The scheduler's image is the worker's (same tag): build it once.
t0=$(now)
if dc "${build[@]}" redis objstore worker >"$T/build.log" 2>&1; then
    t1=$(now)
    BUILD_S=$(secs "$t0" "$t1")
    ok "images built: haul, haul-objstore, haul-redis in $BUILD_S s ($cache)"
    docker image ls --format '{{.Repository}}:{{.Tag}} {{.Size}}' |
        grep -E '^(haul|haul-objstore|haul-redis):latest ' | sed 's/^/  /'
else
    fail "building the images" "$T/build.log"
    echo "$passed passed, $failed failed"
    exit 1
fi

# results_by_worker JOB: "COUNT WORKER" lines, one per worker that stored results.
results_by_worker() {
    rcli XRANGE "haul:res:$1" - + | awk 'prev == "worker" { print } { prev = $0 }' |
        sort | uniq -c | sort -rn
}
latest_job() { rcli ZREVRANGE haul:jobs 0 0 | tr -d '\r'; }

# wait_healthy SERVICE N: until N containers of SERVICE report healthy (120 s).
wait_healthy() {
    local svc=$1 n=$2 c h
    for _ in $(seq 240); do
        h=0
        for c in $(dc ps -q "$svc" 2>/dev/null); do
            [ "$(docker inspect -f '{{.State.Health.Status}}' "$c" 2>/dev/null)" = healthy ] && h=$((h + 1))
        done
        [ "$h" -ge "$n" ] && return 0
        sleep 0.5
    done
    echo "  $svc: $h of $n containers healthy after 120 s"
    return 1
}

# ---- 1. the whole demo, as a user runs it --------------------------------

t0=$(now)
timeout "$TIMEOUT" "${COMPOSE[@]}" --env-file "$T/empty.env" -p "$P" -f "$TOP/compose.yaml" \
    --project-directory "$TOP" up --no-color --scale worker=3 --exit-code-from scheduler \
    >"$T/up.log" 2>&1
rc=$?
t1=$(now)
UP_S=$(secs "$t0" "$t1")
if [ $rc -eq 0 ]; then
    ok "up --scale worker=3 --exit-code-from scheduler: the scheduler exited 0 ($UP_S s from nothing running)"
else
    fail "up --scale worker=3 --exit-code-from scheduler: exit $rc after $UP_S s" "$T/up.log"
fi

# Every zip's sidecar, as the scheduler printed it.
sched_out=$T/scheduler.out
grep -E '^scheduler[-_]1 +\| ' "$T/up.log" | sed -E 's/^scheduler[-_]1 +\| //' >"$sched_out"
nwant=0 found=0 missing=""
while IFS=$'\t' read -r k v; do
    [ -n "$v" ] || continue
    nwant=$((nwant + 1))
    if grep -qF "  $k,ok,200,$v," "$sched_out"; then
        found=$((found + 1))
    else
        missing="$missing $k"
    fi
done <"$EXPECTED"
if [ "$nwant" -eq 16 ] && [ "$found" -eq 16 ]; then
    ok "the scheduler's output shows all 16 sidecars, e.g. $(grep -oF 'dummy/collated_7.zip,ok,200,18/18_1.f|44/44_1.f|44/44_2.f' "$sched_out" | head -1)"
else
    fail "the scheduler's output shows $found of $nwant sidecars (missing:$missing)" "$sched_out"
fi
# Sealed by default: no container said the credentials travel in the clear.
if ! grep -q "in the clear" "$T/up.log" && grep -q "made a new key in /keys/haul.key" "$T/up.log"; then
    ok "tasks sealed by default: one container made the key, nobody warned of secrets in the clear"
else
    fail "sealing by default (key made: $(grep -c 'made a new key' "$T/up.log"), clear warnings: $(grep -c 'in the clear' "$T/up.log"))" "$T/up.log"
fi
summary=$(grep -E '^haul: job .*: 800 keys, 800 ok, 0 errors' "$sched_out" | tail -1)
if [ -n "$summary" ]; then
    ok "summary line: ${summary#haul: }"
else
    fail "no '800 keys, 800 ok, 0 errors' summary in the scheduler's output" "$sched_out"
fi

# The CSV itself, from the stopped container's volume.
sc=$(dc ps -a -q scheduler | head -1)
if [ -n "$sc" ] && docker cp "$sc:/out/metadata.csv" "$T/metadata.csv" 2>"$T/cp.err" &&
    /usr/bin/python3 tests/lib/check_results.py "$T/metadata.csv" "$EXPECTED" 10 >"$T/check.out"; then
    ok "/out/metadata.csv: 800 rows, the listing 10 times in order, every value the seeded one"
else
    cat "$T/cp.err" >>"$T/check.out" 2>/dev/null
    fail "/out/metadata.csv is not the expected 800 rows" "$T/check.out"
fi

# --exit-code-from stopped every service: bring Redis back, from its volume.
dc start redis >"$T/start.log" 2>&1
for _ in $(seq 60); do
    [ "$(rcli PING 2>/dev/null | tr -d '\r')" = PONG ] && break
    sleep 0.5
done
job=$(latest_job)
# 800 keys, 80 distinct: each distinct key fetched once, one result each.
if [ -n "$job" ] && [ "$(rcli HGET "haul:job:$job" state | tr -d '\r')" = "done" ] &&
    [ "$(rcli HGET "haul:job:$job" keys | tr -d '\r')" = 800 ] &&
    [ "$(rcli HGET "haul:job:$job" distinct | tr -d '\r')" = 80 ] &&
    [ "$(rcli XLEN "haul:res:$job" | tr -d '\r')" = 80 ]; then
    ok "after a Redis restart (AOF, volume): job $job is done, 800 keys, its 80 distinct keys' results kept"
else
    fail "job '${job:-none}' not found done with 800 keys and 80 results after a Redis restart" "$T/start.log"
fi

# Who did the work: worker ids are <container hostname>:<pid>.
results_by_worker "$job" >"$T/workers.txt"
hosts=$(for c in $(dc ps -a -q worker); do docker inspect -f '{{.Config.Hostname}}' "$c"; done)
nw=$(wc -l <"$T/workers.txt")
strangers=$(awk '{ split($2, a, ":"); print a[1] }' "$T/workers.txt" | grep -vxF "$hosts" || true)
if [ "$nw" -ge 2 ] && [ -z "$strangers" ]; then
    ok "the work was spread: $nw of the 3 worker containers stored results ($(awk '{printf "%s%s %s keys", s, $2, $1; s=", "}' "$T/workers.txt"))"
else
    fail "results from $nw worker(s), expected at least 2 of the project's 3${strangers:+ (not ours: $strangers)}" "$T/workers.txt"
fi

queued=$(rcli LLEN haul:q:default | tr -d '\r')
dead=$(rcli LLEN haul:dead:default | tr -d '\r')
held=0
for k in $(rcli --scan --pattern 'haul:proc:*' | tr -d '\r'); do
    held=$((held + $(rcli LLEN "$k" | tr -d '\r')))
done
if [ "$queued" = 0 ] && [ "$dead" = 0 ] && [ "$held" = 0 ]; then
    ok "haul:q:default is empty, no task held in haul:proc:*, no dead letter"
else
    fail "left over: $queued queued, $held held, $dead dead"
fi

# ---- 2. the job over 1 worker, then 4 ------------------------------------

# run_job N: the job HAUL_COMPOSE_REPS (3) times with N workers, Redis and the
# store up; sets JOB_S (the median wall time of `run --rm scheduler`) and
# SCHED_S (the median of the scheduler's own figure, submit to last result).
REPS=${HAUL_COMPOSE_REPS:-3}
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] : "-") }'; }
run_job() {
    local n=$1 out t0 t1 rc r nw walls="" scheds="" bad=""
    JOB_S=- SCHED_S=-
    if ! { dc up -d --scale "worker=$n" objstore worker >"$T/scale$n.log" 2>&1 &&
        wait_healthy objstore 1 >>"$T/scale$n.log" &&
        wait_healthy worker "$n" >>"$T/scale$n.log"; }; then
        fail "--scale worker=$n: the store and $n healthy workers did not come up" "$T/scale$n.log"
        return 1
    fi
    for r in $(seq "$REPS"); do
        out=$T/run$n.$r.log
        t0=$(now)
        timeout "$TIMEOUT" "${COMPOSE[@]}" --env-file "$T/empty.env" -p "$P" -f "$TOP/compose.yaml" \
            --project-directory "$TOP" run --rm -T scheduler >"$out" 2>&1
        rc=$?
        t1=$(now)
        walls="$walls $(secs "$t0" "$t1")"
        scheds="$scheds $(sed -nE 's/^haul: job .*: 800 keys, 800 ok, 0 errors, ([0-9.]+) s.*/\1/p' "$out" | tail -1)"
        results_by_worker "$(latest_job)" >"$T/workers$n.txt"
        nw=$(wc -l <"$T/workers$n.txt")
        if [ $rc -ne 0 ] || ! grep -qE '^haul: job .*: 800 keys, 800 ok, 0 errors' "$out"; then
            bad="run $r: run --rm scheduler exited $rc"
        elif [ "$n" -eq 1 ] && [ "$nw" -ne 1 ]; then
            bad="run $r: results from $nw workers, expected 1"; out=$T/workers$n.txt
        elif [ "$n" -gt 1 ] && [ "$nw" -lt 2 ]; then
            bad="run $r: results from only $nw worker"; out=$T/workers$n.txt
        fi
        if [ -n "$bad" ]; then
            fail "--scale worker=$n: $bad" "$out"
            return 1
        fi
    done
    JOB_S=$(tr ' ' '\n' <<<"$walls" | grep . | median)
    SCHED_S=$(tr ' ' '\n' <<<"$scheds" | grep . | median)
    ok "--scale worker=$n: the job $REPS times, each right, results from $nw worker(s) in the last; median $JOB_S s (run --rm scheduler), scheduler's own figure $SCHED_S s"
}
run_job 1
J1=$JOB_S S1=$SCHED_S
run_job 4
J4=$JOB_S S4=$SCHED_S

# ---- 3. the monitoring profile ---------------------------------------------

# serve (the dashboard and /metrics from Redis) and Debian's Prometheus
# (docker/prometheus) beside the 4 workers, published on the host's
# loopback on free ports. Prometheus must find every worker replica (DNS)
# and serve, and its API must show what Redis shows: 4 live workers, the
# last job's 800 keys done. Spelled with the other Compose when both are
# there (`docker compose` and `docker-compose`): each spelling runs once.
if [ "${COMPOSE[0]}" = docker ] && command -v docker-compose >/dev/null 2>&1; then
    MCOMPOSE=(docker-compose)
else
    MCOMPOSE=("${COMPOSE[@]}")
fi
mdc() {
    env HAUL_SERVE_PORT="$SPORT" HAUL_PROMETHEUS_PORT="$PPORT" "${MCOMPOSE[@]}" --env-file "$T/empty.env" \
        -p "$P" -f "$TOP/compose.yaml" --project-directory "$TOP" --profile monitoring "$@"
}
read -r SPORT PPORT < <(/usr/bin/python3 -c '
import socket
s = [socket.socket() for _ in range(2)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
t0=$(now)
if mdc build prometheus >"$T/mon-build.log" 2>&1 && mdc up -d serve prometheus >"$T/mon-up.log" 2>&1; then
    want_job=$(latest_job)
    prom() { curl -s --max-time 5 "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" |
        /usr/bin/python3 -c 'import json, sys; r = json.load(sys.stdin)["data"]["result"]; print(r[0]["value"][1] if r else "none")' 2>/dev/null; }
    deadline=$((SECONDS + 120)) got=""
    while [ $SECONDS -lt $deadline ]; do
        got="$(prom 'count(up{job="haul-worker"} == 1)') $(prom 'up{job="haul-serve"}') $(prom 'haul_workers_live') $(prom "haul_job_keys_done{job_id=\"$want_job\"}")"
        [ "$got" = "4 1 4 800" ] && break
        sleep 2
    done
    if [ "$got" = "4 1 4 800" ]; then
        ok "--profile monitoring (${MCOMPOSE[*]}): Prometheus scrapes the 4 workers and serve; live workers 4, the last job's keys done 800 ($(secs "$t0" "$(now)") s, image build included)"
    else
        curl -s --max-time 5 "http://127.0.0.1:$PPORT/api/v1/targets" >"$T/mon-targets.json" 2>&1
        fail "--profile monitoring: Prometheus saw 'workers up, serve up, live workers, keys done' = '$got', not '4 1 4 800'" "$T/mon-targets.json"
    fi
    if curl -s --max-time 5 "http://127.0.0.1:$SPORT/metrics" | grep -q '^haul_queue_tasks{queue="default"} 0$'; then
        ok "--profile monitoring: serve's /metrics on the host's loopback: the queue empty"
    else
        fail "--profile monitoring: serve's /metrics at 127.0.0.1:$SPORT"
    fi
else
    fail "--profile monitoring (${MCOMPOSE[*]}): build or up failed" "$T/mon-up.log"
    tail -n 20 "$T/mon-build.log" | sed 's/^/  | /'
fi

info "timings: image build $BUILD_S s ($cache)"
info "whole demo, up --scale worker=3 --exit-code-from scheduler, store start-up included: $UP_S s"
info "the job alone (800 keys), median of $REPS, run --rm scheduler: 1 worker $J1 s (scheduler $S1 s), 4 workers $J4 s (scheduler $S4 s)"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
