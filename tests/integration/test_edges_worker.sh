#!/usr/bin/env bash
# A worker that keeps its promises when things go slowly or wrong, against a
# real redis-server and a real Swift (tempauth + s3api):
#   - a slow Swift auth server (tests/lib/fakeauth.py, a fake: no real one can
#     be made slow) against a short lease: the worker's loop never waits for
#     it, its lease holds, other jobs go on, and the keys of those credentials
#     share one authentication;
#   - a worker restarted under the same --name counts a delivery for every task
#     it finds orphaned, so a task that kills its workers reaches the poison-pill
#     cap;
#   - a listing taken over after its worker stopped mid-way (its lease lapsed)
#     resumes from the last committed page, and the stopped worker, resumed
#     later, adds no row: no row twice, none lost, the count checked;
#   - Redis full (maxmemory, noeviction) while a worker holds results: said
#     once, no new task taken, every result stored once Redis has room;
#   - secrets: a short Redis password never shown; no core dumps.
set -u
cd "$(dirname "$0")/../.."
TOP=$PWD
. tests/lib/servers.sh
. tests/lib/seed.sh
. tests/lib/testlib.sh
PY=/usr/bin/python3
SCHED=$TOP/bin/haul-scheduler WORKER=$TOP/bin/haul-worker
BUCKET=LSST-IR-FUSION-testfromopenstack
PIDS=()
test_stop() {
    for p in "${PIDS[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
}
haul_test_begin edges-worker --seed
R=$HAUL_TEST_REDIS_URL
export HAUL_REDIS_URL=$R
s3env() { env -u ST_AUTH AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing "$@"; }
read -r TOKEN SURL < <(haul_swift_token test:tester testing)

# 1. A slow auth server and a short lease. fakeauth answers after 8 s with the
#    real store's storage URL and a real token; the worker's lease is 3 s.
$PY tests/lib/fakeauth.py --port 0 --mode slow=8 --token "$TOKEN" --storage-url "$SURL" \
    --count-file "$T/auth.count" --log "$T/fakeauth.log" >"$T/fakeauth.port" 2>>"$T/fakeauth.log" &
PIDS+=($!)
wait_file "$T/fakeauth.port" || fail "fakeauth did not start"
FAKE=$(sed -n 's/^port=//p' "$T/fakeauth.port")
"$WORKER" --lease 3 --concurrency 16 --out-root "$T" 2>"$T/w-slow.log" &
WSLOW=$!
PIDS+=($WSLOW)
now() { date +%s.%N; }
secs_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
t0=$(now)
env -u AWS_ACCESS_KEY_ID "$SCHED" run --swift --auth-url "http://127.0.0.1:$FAKE/auth/v1.0" --user test:tester \
    --key testing --container "$BUCKET" --keys "$T/data/notebook-keys.txt" --op sidecar --no-check --out "$T/slow.csv" \
    2>"$T/slow.err" &
SLOWJOB=$!
sleep 1
# Meanwhile an S3 job on the same worker: done long before the auth answers.
s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket "$BUCKET" --prefix dummy --op sidecar --out "$T/fast.csv" 2>"$T/fast.err"
fastrc=$?
t_fast=$(secs_since "$t0")
wait $SLOWJOB
slowrc=$?
t_slow=$(secs_since "$t0")
nauth=$(cat "$T/auth.count" 2>/dev/null)
if [ $fastrc -eq 0 ] && [ $slowrc -eq 0 ] && awk -v f="$t_fast" -v s="$t_slow" 'BEGIN { exit !(f < 8 && s >= 8) }' \
   && [ "$(grep -c ',ok,' "$T/slow.csv")" -eq 80 ] && [ "$nauth" = 1 ] \
   && ! grep -q "lease had lapsed" "$T/w-slow.log" && ! grep -q "reaped" "$T/slow.err" "$T/fast.err" "$T/w-slow.log" \
   && grep -q "dummy/collated_7.zip,ok,200,18/18_1.f|44/44_1.f|44/44_2.f" "$T/slow.csv"; then
    ok "auth answering after 8 s, lease 3 s: lease held, an S3 job meanwhile done in $t_fast s, the Swift job (80 keys, one authentication) in $t_slow s"
else
    fail "slow auth (exit $slowrc/$fastrc, $t_fast s / $t_slow s, $nauth auths)" "$T/w-slow.log"
    tail -3 "$T/slow.err"
fi
haul_stop $WSLOW

# 2. A worker restarted under the same --name: what it finds in its
#    processing list is requeued with a delivery counted, and at the cap
#    (--max-deliveries) dead-lettered. Two real tasks are put there by hand, as
#    an earlier worker of that name would have left them: one delivered twice.
printf 'dummy/collated_0.zip\n' >"$T/one.txt"
job=$(s3env "$SCHED" submit --s3 "$HAUL_TEST_S3" --bucket "$BUCKET" --keys "$T/one.txt" --queue orphans 2>/dev/null)
job2=$(s3env "$SCHED" submit --s3 "$HAUL_TEST_S3" --bucket "$BUCKET" --keys "$T/one.txt" --queue orphans 2>/dev/null)
HAUL_TEST_REDIS_PORT=$HAUL_TEST_REDIS_PORT PYTHONPATH=$TOP/tests/lib $PY - <<'PYEOF'
import os, struct, resp
r = resp.Redis(port=int(os.environ["HAUL_TEST_REDIS_PORT"]))
a = r.cmd("LPOP", "haul:q:orphans")
b = bytearray(r.cmd("LPOP", "haul:q:orphans"))
b[13:17] = struct.pack(">I", 2)          # delivered twice already
r.cmd("RPUSH", "haul:proc:phoenix", a)
r.cmd("RPUSH", "haul:proc:phoenix", bytes(b))
PYEOF
"$WORKER" --name phoenix --queue orphans --max-deliveries 3 --out-root "$T" 2>"$T/phoenix.log" &
WP=$!
PIDS+=($WP)
d=$((SECONDS + 15))
while [ "$(haul_redis_cli LLEN haul:dead:orphans)" -lt 1 ] && [ $SECONDS -lt $d ]; do sleep 0.1; done
while [ "$(haul_redis_cli XLEN "haul:res:$job")" -lt 1 ] && [ $SECONDS -lt $d ]; do sleep 0.1; done
haul_stop $WP
haul_redis_cli LINDEX haul:dead:orphans 0 >"$T/dead.txt"
dead=$(head -1 "$T/dead.txt")
attempt=$(haul_redis_cli XRANGE "haul:res:$job" - + | grep -A1 '^attempt$' | tail -1)
if echo "$dead" | grep -q "reason=delivered 3 times.*poison-pill cap: --max-deliveries 3.*worker=phoenix.*attempt=3" \
   && grep -aq "$job2" "$T/dead.txt" && [ "$attempt" = 1 ] \
   && grep -q "found 2 task(s) in haul:proc:phoenix.*1 requeued with a delivery counted, 1 dead-lettered" "$T/phoenix.log"; then
    ok "restart under the same --name: the orphan answered on its delivery 1, the one delivered twice dead-lettered at the cap of 3"
else fail "restart under the same name (attempt '$attempt', dead '${dead:0:160}')" "$T/phoenix.log"; fi

# 3. A listing taken over mid-way. 1,500 objects: two pages. A fault-injecting
#    proxy (tests/lib/faultproxy.py, a test tool) holds every request for a
#    later page (with marker=) 6 s, so worker A is caught between its committed
#    first page and the second; it is stopped (SIGSTOP) until its 3 s lease
#    lapses, worker B is reaped its task and resumes from the checkpoint; A,
#    resumed at the end, finds the checkpoint moved and adds no row.
mkdir -p "$T/many"
: >"$T/many.list"
for i in $(seq -w 1 1500); do printf 'o%s\n' "$i" >"$T/many/o$i"; printf 'o%s\t%s\n' "$i" "$T/many/o$i" >>"$T/many.list"; done
haul_swift_mkcontainer many && haul_swift_put_many many "$T/many.list" || fail "seeding 1,500 objects"
$PY tests/lib/faultproxy.py --upstream "127.0.0.1:$HAUL_TEST_SWIFT_PORT" --listen 127.0.0.1:0 \
    --fault-all --pstall 1 --stall-seconds 6 --never '^(?!.*marker=)' --log-all \
    --ready-file "$T/fp.port" --log "$T/fp.log" 2>>"$T/fp.log" &
PIDS+=($!)
wait_file "$T/fp.port" || fail "faultproxy did not start"
FP=$(cat "$T/fp.port")
"$WORKER" --name lister-a --queue lists --lease 3 --out-root "$T" 2>"$T/lister-a.log" &
WA=$!
PIDS+=($WA)
env ST_AUTH="http://127.0.0.1:$FP/auth/v1.0" ST_USER=test:tester ST_KEY=testing \
    "$SCHED" run --swift --container many --op list --queue lists --out "$T/many.csv" 2>"$T/many.err" &
LJ=$!
d=$((SECONDS + 20))
while ! haul_redis_cli --scan --pattern 'haul:lpos:*' | grep -q . && [ $SECONDS -lt $d ]; do sleep 0.05; done
kill -STOP $WA
ckpt=$(haul_redis_cli HGETALL "$(haul_redis_cli --scan --pattern 'haul:lpos:*' | head -1)" | tail -1 | cut -f1,2)
"$WORKER" --name lister-b --queue lists --lease 3 --out-root "$T" 2>"$T/lister-b.log" &
WB=$!
PIDS+=($WB)
wait $LJ
ljrc=$?
job=$(haul_redis_cli ZREVRANGE haul:jobs 0 0)
xlen_done=$(haul_redis_cli XLEN "haul:res:$job")
kill -CONT $WA
d=$((SECONDS + 20))
while ! grep -q "checkpoint moved" "$T/lister-a.log" && [ $SECONDS -lt $d ]; do sleep 0.1; done
sleep 1
haul_stop $WA $WB
rows=$(($(wc -l <"$T/many.csv") - 1))
uniq_rows=$(tail -n +2 "$T/many.csv" | cut -d, -f1 | sort -u | wc -l)
b_first=$(grep -c "pass=.* GET /v1/AUTH_test/many?format=json&limit=1000 " "$T/fp.log")
late=$(($(haul_redis_cli XLEN "haul:res:$job") - xlen_done))
if [ $ljrc -eq 0 ] && [ "$rows" -eq 1500 ] && [ "$uniq_rows" -eq 1500 ] && [ "$ckpt" = "$(printf '1000\t0')" ] \
   && [ "$b_first" -eq 1 ] && grep -q "checkpoint moved" "$T/lister-a.log" && [ "$late" -le 1 ]; then
    ok "listing taken over at its checkpoint (1000 rows committed): 1,500 rows once each, the first page fetched once; the stalled worker, resumed, added no row"
else
    fail "listing taken over (exit $ljrc, $rows rows, $uniq_rows distinct, checkpoint '$ckpt', first page fetched $b_first times, $late entries added after the job ended)" "$T/lister-a.log"
    tail -5 "$T/lister-b.log" "$T/many.err"
fi

# 4. Redis full (maxmemory, noeviction) while a worker holds results: it says
#    so once, takes no new task, and stores them as soon as Redis has room.
#    The store is reached through a proxy that holds each object GET 3 s, so
#    the results are due after Redis was filled.
$PY tests/lib/faultproxy.py --upstream "127.0.0.1:$HAUL_TEST_SWIFT_PORT" --listen 127.0.0.1:0 \
    --pstall 1 --stall-seconds 3 --ready-file "$T/fp2.port" --log "$T/fp2.log" 2>>"$T/fp2.log" &
PIDS+=($!)
wait_file "$T/fp2.port" || fail "faultproxy did not start"
grep '\.zip$' "$T/data/notebook-keys.txt" >"$T/zips.txt"
job=$(s3env "$SCHED" submit --s3 "http://127.0.0.1:$(cat "$T/fp2.port")" --bucket "$BUCKET" --keys "$T/zips.txt" \
      --queue full --batch 4 2>"$T/full-submit.err")
"$WORKER" --queue full --concurrency 16 --out-root "$T" 2>"$T/full.log" &
WF=$!
PIDS+=($WF)
d=$((SECONDS + 10))
while [ "$(haul_redis_cli LLEN haul:q:full)" -gt 0 ] && [ $SECONDS -lt $d ]; do sleep 0.05; done
used=$(haul_redis_cli INFO memory | sed -n 's/^used_memory:\([0-9]*\).*/\1/p')
haul_redis_cli CONFIG SET maxmemory-policy noeviction >/dev/null
haul_redis_cli CONFIG SET maxmemory $((used + 65536)) >/dev/null
haul_redis_cli EVAL "redis.call('SET', KEYS[1], string.rep('x', 1048576))" 1 haul:test-junk >/dev/null
d=$((SECONDS + 20))
until grep -q "Redis is out of memory" "$T/full.log" || [ $SECONDS -ge $d ]; do sleep 0.1; done
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }   # utime + stime, in clock ticks
c0=$(cpu $WF)
sleep 3   # a few of its retries: waiting, not spinning
c1=$(cpu $WF)
spun=$(( (c1 - c0) * 100 / $(getconf CLK_TCK) ))   # % of one core over the 3 s, x3
nres_full=$(haul_redis_cli XLEN "haul:res:$job")
haul_redis_cli DEL haul:test-junk >/dev/null
haul_redis_cli CONFIG SET maxmemory 0 >/dev/null
d=$((SECONDS + 20))
until grep -q "Redis accepts writes again" "$T/full.log" || [ $SECONDS -ge $d ]; do sleep 0.1; done
s3env "$SCHED" collect "$job" --out "$T/full.csv" 2>"$T/full-collect.err"
rc=$?
haul_stop $WF
if [ $rc -eq 0 ] && [ "$nres_full" -eq 0 ] && [ "$(grep -c "Redis is out of memory" "$T/full.log")" -eq 1 ] \
   && [ "$spun" -lt 30 ] \
   && grep -q "Redis accepts writes again" "$T/full.log" && [ "$(grep -c ',ok,200,' "$T/full.csv")" -eq 16 ]; then
    ok "Redis full while a worker held 16 results: said once, waited (CPU $((spun / 3))% of a core), nothing lost, all 16 stored when Redis had room"
else fail "Redis full (collect exit $rc, $nres_full results while full, CPU $((spun / 3))% while waiting)" "$T/full.log"; fi

# 4b. Redis frozen (SIGSTOP) for 12 s: hiredis's async API has no timeout of
#     its own, so the worker drops a connection whose commands go unanswered
#     for 10 s and makes a new one; it spins meanwhile no more than it waits;
#     once Redis runs again it renews its lease and serves the next job.
RP3=$(haul_free_port)
redis-server --port "$RP3" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" >"$T/redis3.log" 2>&1 &
RPID3=$!
PIDS+=($RPID3)
d=$((SECONDS + 10))
until redis-cli -p "$RP3" PING 2>/dev/null | grep -q PONG || [ $SECONDS -ge $d ]; do sleep 0.05; done
"$WORKER" --redis "redis://127.0.0.1:$RP3/0" --queue frozen --lease 30 --out-root "$T" 2>"$T/frozen.log" &
WFZ=$!
PIDS+=($WFZ)
d=$((SECONDS + 10))
until grep -q "serving queue" "$T/frozen.log" || [ $SECONDS -ge $d ]; do sleep 0.05; done
sleep 0.5
kill -STOP $RPID3
c0=$(cpu $WFZ)
sleep 12.5
c1=$(cpu $WFZ)
kill -CONT $RPID3
fz_cpu=$(( (c1 - c0) * 100 / $(getconf CLK_TCK) ))
s3env "$SCHED" run --redis "redis://127.0.0.1:$RP3/0" --queue frozen --s3 "$HAUL_TEST_S3" --bucket "$BUCKET" \
    --keys "$T/data/notebook-keys.txt" --op sidecar --out "$T/frozen.csv" 2>"$T/frozen.err"
rc=$?
haul_stop $WFZ
if [ $rc -eq 0 ] && [ "$(($(wc -l <"$T/frozen.csv") - 1))" -eq 80 ] && grep -q "lost Redis connection (no answer for" "$T/frozen.log" \
   && [ "$fz_cpu" -lt 10 ]; then
    ok "Redis frozen 12 s: the worker dropped the silent connection ('$(grep -o 'no answer for [0-9]* ms' "$T/frozen.log" | head -1)'), used ${fz_cpu}% of a core meanwhile, and served the next job (80 rows)"
else fail "Redis frozen (exit $rc, CPU ${fz_cpu}%)" "$T/frozen.log"; fi

# 5. Secrets. A Redis with a two-letter password: the worker never shows it.
RP2=$(haul_free_port)
redis-server --port "$RP2" --bind 127.0.0.1 --save '' --appendonly no --requirepass ab \
    --dir "$T" >"$T/redis2.log" 2>&1 &
PIDS+=($!)
d=$((SECONDS + 10))
until redis-cli -p "$RP2" -a ab --no-auth-warning PING 2>/dev/null | grep -q PONG || [ $SECONDS -ge $d ]; do sleep 0.05; done
"$WORKER" --redis "redis://:ab@127.0.0.1:$RP2/0" --log-level debug --out-root "$T" 2>"$T/pw.log" &
WPW=$!
PIDS+=($WPW)
d=$((SECONDS + 10))
until grep -q "serving queue" "$T/pw.log" || [ $SECONDS -ge $d ]; do sleep 0.05; done
core=$(awk '/Max core file size/ {print $5, $6}' "/proc/$WPW/limits")
haul_stop $WPW
"$WORKER" --redis "redis://:xy@127.0.0.1:1/0" 2>"$T/pw2.log"
if grep -q "at redis://:\*\*\*@127.0.0.1:$RP2/0" "$T/pw.log" && ! grep -q ":ab@" "$T/pw.log" \
   && grep -q "redis://:\*\*\*@127.0.0.1:1/0" "$T/pw2.log" && ! grep -q "xy@" "$T/pw2.log"; then
    ok "a two-letter Redis password is shown as *** ($(grep -o 'at redis://[^ ]*' "$T/pw.log" | head -1))"
else fail "short Redis password in the log" "$T/pw.log"; fi
check "no core dumps: the worker's core file size limit" "0 0" "$core"

if ! grep -q "testing\|$TOKEN" "$T"/w-*.log "$T"/lister-*.log "$T"/*.err "$T/phoenix.log"; then
    ok "no secret (key, token) in worker logs or scheduler messages"
else fail "a secret in the logs"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
