#!/usr/bin/env bash
# Metrics, end to end, against real servers: redis-server, an OpenStack Swift
# single node, two haul-workers with --metrics-listen, haul-scheduler serve, and
# Debian's prometheus scraping all three every second. The notebook's job (800
# keys, fetched without coalescing so the workers answer each one), then every
# check reads Prometheus's HTTP API: what it scraped must be the job's real
# figures. No page may hold a secret. Then the progress lines of a collector
# whose log is a file, and the scrape cost of serve with 64 workers' and 50
# jobs' worth of records in Redis.
set -u
cd "$(dirname "$0")/../.."
TOP=$PWD
. tests/lib/servers.sh
. tests/lib/seed.sh
. tests/lib/testlib.sh

PY=/usr/bin/python3
BUCKET=LSST-IR-FUSION-testfromopenstack
SCHED=$TOP/bin/haul-scheduler
WORKER=$TOP/bin/haul-worker
PROMETHEUS=$(command -v prometheus || echo /usr/bin/prometheus)

if [ ! -x "$PROMETHEUS" ]; then
    # make test installs it (Makefile DEB_PKGS, tests/lib/deps.sh); run by hand without it:
    echo "skipped: Debian's prometheus is not installed (apt-get install prometheus, or make deps)"
    echo "0 passed, 0 failed"
    exit 0
fi

PIDS=()
test_stop() {
    [ ${#PIDS[@]} -gt 0 ] && haul_stop "${PIDS[@]}" 2>/dev/null
}
haul_test_begin metrics --seed
R=$HAUL_TEST_REDIS_URL
mapfile -t P < <(HAUL_PORT_COUNT=5 haul_free_port "$HAUL_TEST_SWIFT_PORT" "$HAUL_TEST_REDIS_PORT")
PW1=${P[0]} PW2=${P[1]} PS=${P[2]} PP=${P[3]} PS64=${P[4]}

# wait_http URL: until it answers 200, for at most 15 s.
wait_http() {
    local d=$((SECONDS + 15))
    until curl -fsS -o /dev/null "$1" 2>/dev/null; do
        [ $SECONDS -ge $d ] && return 1
        sleep 0.1
    done
}
# promq QUERY: the values of an instant query, sorted, space-separated ("none": no series).
promq() {
    curl -fsS --get --data-urlencode "query=$1" "http://127.0.0.1:$PP/api/v1/query" 2>/dev/null |
        $PY -c 'import json, sys
r = json.load(sys.stdin)["data"]["result"]
print(" ".join(sorted(x["value"][1] for x in r)) if r else "none")' 2>/dev/null || echo "error"
}
# prom_check NAME QUERY WANT: ok once the query answers WANT (within 20 s: a scrape a second).
prom_check() {
    local d=$((SECONDS + 20)) got
    while :; do
        got=$(promq "$2")
        [ "$got" = "$3" ] && { ok "$1 ($2 = $got)"; return 0; }
        [ $SECONDS -ge $d ] && break
        sleep 0.5
    done
    fail "$1"
    printf '  | query:    %s\n  | expected: %s\n  | actual:   %s\n' "$2" "$3" "$got"
}

for i in 1 2; do
    port=$([ $i = 1 ] && echo "$PW1" || echo "$PW2")
    "$WORKER" --redis "$R" --name "metrics-w$i" --concurrency 16 --out-root "$T" \
        --metrics-listen "127.0.0.1:$port" >>"$T/worker$i.log" 2>&1 &
    PIDS+=($!)
done
"$SCHED" serve --redis "$R" --listen "127.0.0.1:$PS" >>"$T/serve.log" 2>&1 &
PIDS+=($!)
if wait_http "http://127.0.0.1:$PW1/metrics" && wait_http "http://127.0.0.1:$PW2/metrics" &&
   wait_http "http://127.0.0.1:$PS/metrics"; then
    ok "two workers and serve answer /metrics"
else
    fail "the metrics pages did not come up" "$T/serve.log"; tail -5 "$T/worker1.log"
    echo "$passed passed, $failed failed"; exit 1
fi
# The format, as a scraper sees it: the content type, and no method but GET/HEAD.
ctype=$(curl -fsS -o /dev/null -w '%{content_type}' "http://127.0.0.1:$PW1/metrics")
check "a worker's /metrics is Prometheus's text format" "text/plain; version=0.0.4; charset=utf-8" "$ctype"
check "POST is refused (405)" "405" "$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PS/metrics")"
check "an unknown path is 404" "404" "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PW1/secrets")"

cat >"$T/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: haul-worker
    static_configs:
      - targets: ['127.0.0.1:$PW1', '127.0.0.1:$PW2']
  - job_name: haul-serve
    static_configs:
      - targets: ['127.0.0.1:$PS']
EOF
"$PROMETHEUS" --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom" \
    --web.listen-address="127.0.0.1:$PP" --log.level=warn >>"$T/prometheus.log" 2>&1 &
PIDS+=($!)
if wait_http "http://127.0.0.1:$PP/-/ready"; then
    ok "prometheus $("$PROMETHEUS" --version 2>&1 | awk 'NR==1{print $3}') is up, scraping every second"
else
    fail "prometheus did not start" "$T/prometheus.log"; echo "$passed passed, $failed failed"; exit 1
fi
prom_check "Prometheus scrapes both workers and serve" 'count(up == 1)' "3"

# The notebook's job: the listing 10 times, 800 keys; --no-coalesce so the workers answer
# each of the 800 (with coalescing they would fetch the 80 distinct keys once).
t0=$SECONDS
swiftenv "$SCHED" run --redis "$R" --swift --container "$BUCKET" --prefix dummy --op sidecar \
    --repeat 10 --no-coalesce --out "$T/job.csv" 2>"$T/job.err"
rc=$?
job=$(haul_redis_cli ZREVRANGE haul:jobs 0 0)
if [ $rc -eq 0 ] && $PY tests/lib/check_results.py "$T/job.csv" "$T/data/notebook-expected.tsv" 10 >"$T/job.check"; then
    ok "notebook job $job: 800 sidecar answers right ($((SECONDS - t0)) s)"
else
    fail "notebook job (exit $rc)" "$T/job.check"; cat "$T/job.err"
fi
tasks=$(haul_redis_cli HGET "haul:job:$job" tasks)

# What Prometheus scraped from the workers.
prom_check "the workers' results add up to the job's 800 keys" 'sum(haul_worker_results_total{op="sidecar"})' "800"
prom_check "every result ok" 'sum(haul_worker_results_total{op="sidecar",status="ok"})' "800"
prom_check "both workers took part" 'count(sum by (instance) (haul_worker_results_total{op="sidecar"}) > 0)' "2"
prom_check "tasks taken equal the job's tasks ($tasks)" 'sum(haul_worker_tasks_taken_total)' "$tasks"
prom_check "tasks stored equal the job's tasks" 'sum(haul_worker_tasks_stored_total)' "$tasks"
prom_check "no dead letters, no retries" 'sum(haul_worker_tasks_dead_lettered_total) + sum(haul_worker_retries_total)' "0"
prom_check "the latency histogram counts every request" \
    'sum(haul_worker_request_duration_seconds_count) == bool sum(haul_worker_requests_total)' "1"
prom_check "sidecar requests over Swift were 200s" \
    'sum(haul_worker_requests_total{op="sidecar",store="swift",code="200"}) > bool 0' "1"
prom_check "nothing in flight after the job" 'sum(haul_worker_requests_in_flight)' "0"
prom_check "each worker renews its lease" 'count(haul_worker_lease_renewals_total > 0)' "2"
prom_check "each worker reports its resident memory" 'count(haul_worker_resident_memory_bytes > 1000000)' "2"
# What Prometheus scraped from serve, which reads Redis.
prom_check "serve: the job's keys done equal its keys (800)" "haul_job_keys_done{job_id=\"$job\"}" "800"
prom_check "serve: the job's keys" "haul_job_keys{job_id=\"$job\"}" "800"
prom_check "serve: no key failed" "haul_job_keys_failed{job_id=\"$job\"}" "0"
prom_check "serve: the job is done" "haul_job_state{job_id=\"$job\",state=\"done\"}" "1"
prom_check "serve: the queue is empty (tasks, keys)" \
    'haul_queue_tasks{queue="default"} + haul_queue_keys{queue="default"}' "0"
prom_check "serve: no dead letter" 'haul_queue_dead_letters{queue="default"}' "0"
prom_check "serve: two live workers" 'haul_workers_live{queue="default"}' "2"
prom_check "serve: Redis up" 'haul_redis_up' "1"

# The JSON the dashboard polls: the same job, done.
curl -fsS "http://127.0.0.1:$PS/api/status.json" >"$T/status.json"
if $PY - "$T/status.json" "$job" >"$T/status.check" 2>&1 <<'PYEOF'
import json, sys
s = json.load(open(sys.argv[1]))
j = [j for j in s["jobs"] if j["id"] == sys.argv[2]][0]
assert (j["state"], j["keys"], j["done"], j["failed"], j["op"]) == ("done", 800, 800, 0, "sidecar"), j
assert sorted(w["id"] for w in s["workers"]) == ["metrics-w1", "metrics-w2"], s["workers"]
assert sum(w["keys_done"] for w in s["workers"]) == 800, s["workers"]
q = [q for q in s["queues"] if q["name"] == "default"][0]
assert (q["tasks"], q["dead"], q["workers"]) == (0, 0, 2), q
PYEOF
then ok "/api/status.json: job done 800/800, workers metrics-w1 and metrics-w2 with 800 keys done"
else fail "/api/status.json" "$T/status.check"; fi

# No secret on any page: the Swift key (testing), the tasks' credentials.
leak=0
for url in "http://127.0.0.1:$PW1/metrics" "http://127.0.0.1:$PW2/metrics" "http://127.0.0.1:$PS/metrics" \
           "http://127.0.0.1:$PS/api/status.json" "http://127.0.0.1:$PS/" "http://127.0.0.1:$PW1/"; do
    curl -fsS "$url" >"$T/page" || { leak=1; echo "  | cannot read $url"; continue; }
    if grep -q -e testing -e "X-Auth-Token" -e AUTH_tk "$T/page"; then leak=1; echo "  | $url holds a secret"; fi
done
[ $leak -eq 0 ] && ok "no page holds the Swift key or a token" || fail "a page holds a secret"

# A collector whose stderr is a file prints a progress line every --progress-interval:
# a job on a queue no worker serves yet, collected until two lines said 0/800, then a
# worker comes.
swiftenv "$SCHED" submit --redis "$R" --queue slow --swift --container "$BUCKET" --prefix dummy \
    --op sidecar --repeat 10 >"$T/slow.id" 2>"$T/slow.submit.err"
sjob=$(cat "$T/slow.id")
"$SCHED" collect "$sjob" --redis "$R" --progress-interval 1 --out "$T/slow.csv" 2>"$T/slow.err" &
cpid=$!
d=$((SECONDS + 20))
until [ "$(grep -c "^haul: job $sjob: 0/800 keys" "$T/slow.err")" -ge 2 ] || [ $SECONDS -ge $d ]; do sleep 0.1; done
"$WORKER" --redis "$R" --queue slow --name metrics-slow --out-root "$T" >>"$T/worker-slow.log" 2>&1 &
PIDS+=($!)
wait $cpid
rc=$?
nlines=$(grep -c "^haul: job $sjob: [0-9]*/800 keys ([0-9]*%), [0-9]* keys/s, ETA .*, [0-9]* errors, .* elapsed$" "$T/slow.err")
if [ $rc -eq 0 ] && [ "$nlines" -ge 2 ] && grep -q "^haul: job $sjob: 0/800 keys (0%), 0 keys/s, ETA unknown, 0 errors" "$T/slow.err" &&
   grep -q "^haul: job $sjob: 800 keys, 800 ok, 0 errors" "$T/slow.err" && ! grep -q $'\r' "$T/slow.err"; then
    ok "collect with stderr to a file: $nlines progress lines ('$(grep -m1 "^haul: job $sjob: 0/800" "$T/slow.err" | cut -c1-90)'), then the summary"
else
    fail "progress lines of collect (exit $rc, $nlines lines)" "$T/slow.err"
fi

# The scrape cost at scale: serve on another Redis database holding 64 live workers and 50
# jobs (the most it shows), a queue of 1000 tasks; CPU time of serve per scrape of /metrics.
R64=${R%/0}/1
now=$(($(date +%s) * 1000))
{
    for i in $(seq 1 64); do
        echo "HSET haul:worker:w$i host host$i pid $i queue default concurrency 32 started $now last_seen $now tasks_done 100 keys_done 1600 retries 1 inflight 32 state running"
        echo "EXPIRE haul:worker:w$i 60"
        echo "ZADD haul:workers $now w$i"
    done
    for i in $(seq 1 50); do
        echo "HSET haul:job:job$i state running op sidecar store s3 bucket b queue default keys 100000 distinct 100000 tasks 6250 done 50000 failed 10 errors_by \"error 404 7,error 503 3\" created $now"
        echo "EXPIRE haul:job:job$i 600"
        echo "ZADD haul:jobs $now job$i"
    done
    echo "SADD haul:queues default"
} | haul_redis_cli -n 1 >/dev/null
# 1000 real tasks: submitted without a worker on that database.
swiftenv "$SCHED" submit --redis "$R64" --swift --container "$BUCKET" --keys <(for i in $(seq 16000); do echo "k$i"; done) \
    --op sidecar --no-check --max-queued 0 >/dev/null 2>"$T/s64.err" || true
"$SCHED" serve --redis "$R64" --listen "127.0.0.1:$PS64" >>"$T/serve64.log" 2>&1 &
spid=$!
PIDS+=($spid)
if wait_http "http://127.0.0.1:$PS64/metrics"; then
    # CPU of a process (user + system) over 50 scrapes of URL, per scrape; and the time
    # from connecting to the last byte, as curl measures it (not curl's own start).
    cost() {
        local pid=$1 url=$2 c0 c1 ticks wall=0 t
        ticks=$(getconf CLK_TCK)
        c0=$(awk '{print $14 + $15}' "/proc/$pid/stat")
        for i in $(seq 50); do
            t=$(curl -fsS -o "$T/m64" -w '%{time_total}' "$url")
            wall=$(awk -v a="$wall" -v b="$t" 'BEGIN{print a + b}')
        done
        c1=$(awk '{print $14 + $15}' "/proc/$pid/stat")
        awk -v a="$c0" -v b="$c1" -v t="$ticks" -v w="$wall" \
            'BEGIN{printf "%.2f ms CPU and %.1f ms", (b - a) * 1000 / t / 50, w * 1000 / 50}'
    }
    wcost=$(cost "${PIDS[0]}" "http://127.0.0.1:$PW1/metrics")
    wseries=$(grep -vc '^#' "$T/m64")
    ok "a worker's scrape after the job: $wcost per scrape, $wseries series"
    per=$(cost "$spid" "http://127.0.0.1:$PS64/metrics")
    series=$(grep -vc '^#' "$T/m64")
    qkeys=$(grep '^haul_queue_keys{queue="default"}' "$T/m64" | awk '{print $2}')
    if grep -q '^haul_workers_live{queue="default"} 64$' "$T/m64" && grep -q '^haul_jobs_shown 50$' "$T/m64" &&
       [ "$qkeys" = 16000 ]; then
        ok "serve's scrape with 64 workers, 50 jobs and 1000 tasks in Redis: $per per scrape, $series series, $(wc -c <"$T/m64") bytes"
    else
        fail "serve at 64 workers' scale (queue keys $qkeys)" "$T/m64"
    fi
else
    fail "serve on database 1 did not come up" "$T/serve64.log"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
