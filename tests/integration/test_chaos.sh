#!/usr/bin/env bash
# Chaos: a 20,000-key head job over Swift, 4 workers, one of them killed with
# SIGKILL every 3 s and replaced, Redis killed (SIGKILL) and restarted from its
# AOF (appendfsync everysec) once mid-job. The output must hold every key
# exactly once with the right size and ETag, and no task may be left in any
# queue or processing list.
set -u
cd "$(dirname "$0")/../.."
TOP=$PWD
. tests/lib/servers.sh
. tests/lib/seed.sh
. tests/lib/testlib.sh
PY=/usr/bin/python3
BUCKET=LSST-IR-FUSION-testfromopenstack
REPEAT=${HAUL_CHAOS_REPEAT:-250}   # 80 keys x 250 = 20,000

declare -A WPID=()
REDIS2=""
test_stop() {
    for p in "${WPID[@]}"; do kill -9 "$p" 2>/dev/null; done
    [ -n "$REDIS2" ] && kill -9 "$REDIS2" 2>/dev/null
}
haul_test_begin chaos --seed
R=$HAUL_TEST_REDIS_URL
RDIR=$HAUL_TEST_DIR/redis
# Turn the AOF on (the harness starts Redis without persistence) and wait for its first rewrite.
haul_redis_cli CONFIG SET appendfsync everysec >/dev/null
haul_redis_cli CONFIG SET appendonly yes >/dev/null
for _ in $(seq 100); do
    haul_redis_cli INFO persistence | grep -q 'aof_rewrite_in_progress:0' &&
        haul_redis_cli INFO persistence | grep -q 'aof_enabled:1' && break
    sleep 0.1
done
export ST_AUTH=$HAUL_TEST_ST_AUTH ST_USER=test:tester ST_KEY=testing
# The figures at the end count the job's result entries (duplicates delivered): keep them.
export HAUL_KEEP_RESULTS=1

n=0
start_worker() {
    n=$((n + 1))
    "$TOP/bin/haul-worker" --redis "$R" --concurrency 8 --lease 3 >>"$T/worker-$n.log" 2>&1 &
    WPID[$n]=$!
    disown "${WPID[$n]}"   # no "Killed" notices from bash when the chaos loop kills it
}
for _ in 1 2 3 4; do start_worker; done

t0=$(date +%s.%N)
"$TOP/bin/haul-scheduler" run --redis "$R" --swift --container "$BUCKET" --prefix dummy --op head \
    --repeat "$REPEAT" --no-coalesce --batch 8 --format jsonl --out "$T/out.jsonl" 2>"$T/sched.err" &
spid=$!

kills=0 restarts=0 rstart=$((SECONDS + 8))
while kill -0 $spid 2>/dev/null; do
    sleep 3
    kill -0 $spid 2>/dev/null || break
    # SIGKILL one random live worker and start a replacement.
    ids=("${!WPID[@]}")
    victim=${ids[$((RANDOM % ${#ids[@]}))]}
    kill -9 "${WPID[$victim]}" 2>/dev/null && kills=$((kills + 1))
    unset "WPID[$victim]"
    start_worker
    if [ $restarts -eq 0 ] && [ $SECONDS -ge $rstart ]; then
        # Redis dies hard and comes back from its AOF on the same port.
        kill -9 "$(cat "$HAUL_TEST_DIR/run/redis.pid")"
        sleep 1
        setsid redis-server --bind 127.0.0.1 --port "$HAUL_TEST_REDIS_PORT" --dir "$RDIR" \
            --appendonly yes --appendfsync everysec --save '' --logfile "$T/redis2.log" \
            --protected-mode no --daemonize no >/dev/null 2>&1 &
        REDIS2=$!
        disown "$REDIS2"
        restarts=1
    fi
done
wait $spid; rc=$?
t1=$(date +%s.%N)
secs=$(awk "BEGIN{printf \"%.1f\", $t1 - $t0}")
job=$(haul_redis_cli ZREVRANGE haul:jobs 0 0)
entries=$(haul_redis_cli XLEN "haul:res:$job")

if [ $rc -eq 0 ] && $PY - "$T/out.jsonl" "$T/data/notebook-keys.txt" "$T/data/objects" "$REPEAT" >"$T/check.txt" 2>&1 <<'PYEOF'
import hashlib, json, os, sys
out, keysf, objdir, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
keys = [k.rstrip("\n") for k in open(keysf, encoding="utf-8")] * repeat
rows = [json.loads(l) for l in open(out, encoding="utf-8")]
assert len(rows) == len(keys), "%d rows, expected %d" % (len(rows), len(keys))
bad = 0
for i, (r, k) in enumerate(zip(rows, keys)):
    body = open(os.path.join(objdir, k), "rb").read()
    v = json.loads(r["value"]) if r["status"] == "ok" else None
    if r["key"] != k or v is None or v["size"] != len(body) or v["etag"] != hashlib.md5(body).hexdigest():
        bad += 1
        if bad < 5: print("row %d: %r" % (i, r))
assert bad == 0, "%d wrong rows" % bad
print("%d rows, each key once, sizes and ETags right" % len(rows))
PYEOF
then ok "chaos: $(cat "$T/check.txt") ($secs s, $kills worker SIGKILLs, $restarts Redis SIGKILL+restart)"
else fail "chaos output (exit $rc)" "$T/check.txt"; tail -5 "$T/sched.err"; fi

held=0
for k in $(haul_redis_cli --scan --pattern 'haul:proc:*'); do held=$((held + $(haul_redis_cli LLEN "$k"))); done
queued=$(haul_redis_cli LLEN haul:q:default)
dead=$(haul_redis_cli LLEN haul:dead:default)
if [ "$held" -eq 0 ] && [ "$queued" -eq 0 ] && [ "$dead" -eq 0 ]; then
    ok "chaos: nothing left in the queue, the processing lists or the dead letters"
else fail "chaos: left behind: $queued queued, $held held, $dead dead"; fi
reaped=$(cat "$T"/worker-*.log "$T/sched.err" | grep -o 'reaped [0-9]* worker(s)[^;]*: [0-9]* task(s) requeued' | awk '{s += $(NF-2)} END {print s+0}')
echo "  figures: keys $((80 * REPEAT)); worker kills $kills; Redis restarts $restarts; tasks requeued by reapers $reaped;"
echo "           result entries in the stream $entries (duplicates delivered $((entries - 80 * REPEAT)), after any lost with the AOF's last second);"
echo "           duplicates in the output 0 and keys lost 0 when the check above passed"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
