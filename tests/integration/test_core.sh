#!/usr/bin/env bash
# The core, end to end, against real servers: redis-server and an OpenStack
# Swift single node (tempauth + s3api), two haul-workers, haul-scheduler.
# Every check reads the real answer (sidecar text, bytes, counts).
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

WPIDS=()
test_stop() {
    for p in "${WPIDS[@]}"; do kill "$p" 2>/dev/null; done
}
haul_test_begin core --seed
haul_seed_special "$BUCKET" "$T/data" >/dev/null || { echo "FAIL seeding special"; exit 1; }
R=$HAUL_TEST_REDIS_URL

start_workers() {
    local n=$1 i
    for i in $(seq 1 "$n"); do
        "$WORKER" --redis "$R" --concurrency 16 --out-root "$T" >>"$T/worker$i.log" 2>&1 &
        WPIDS+=($!)
    done
}
stop_workers() {
    [ ${#WPIDS[@]} -gt 0 ] && haul_stop "${WPIDS[@]}"
    WPIDS=()
}
s3env()    { env -u ST_AUTH AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing "$@"; }
now() { date +%s.%N; }

start_workers 2

# 1. The notebook's job over S3: the listing 10 times, 800 keys, sidecar op.
t0=$(now)
s3env "$SCHED" run --redis "$R" --s3 "$HAUL_TEST_S3" --region us-east-1 --bucket "$BUCKET" \
    --prefix dummy --op sidecar --repeat 10 --out "$T/s3.csv" 2>"$T/s3.err"
rc=$?
t1=$(now)
if [ $rc -eq 0 ] && $PY tests/lib/check_results.py "$T/s3.csv" "$T/data/notebook-expected.tsv" 10 >"$T/s3.check"; then
    ok "notebook job over S3: 800 sidecar answers equal the expected text ($(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") s)"
else
    fail "notebook job over S3 (exit $rc)" "$T/s3.check"; cat "$T/s3.err"
fi

# 2. The same over Swift, JSON Lines; its results kept in Redis (--keep-results) to be counted.
t0=$(now)
swiftenv "$SCHED" run --redis "$R" --swift --container "$BUCKET" --prefix dummy --op sidecar \
    --repeat 10 --keep-results --format jsonl --out "$T/swift.jsonl" 2>"$T/swift.err"
rc=$?
t1=$(now)
if [ $rc -eq 0 ] && $PY tests/lib/check_results.py "$T/swift.jsonl" "$T/data/notebook-expected.tsv" 10 >"$T/swift.check"; then
    ok "notebook job over Swift: 800 sidecar answers equal the expected text ($(awk "BEGIN{printf \"%.2f\", $t1 - $t0}") s)"
else
    fail "notebook job over Swift (exit $rc)" "$T/swift.check"; cat "$T/swift.err"
fi
grep -h "keys/s" "$T/s3.err" "$T/swift.err" | sed 's/^/  /'
# The 800 keys are 80 distinct ones: each was fetched once.
sjob=$(haul_redis_cli ZREVRANGE haul:jobs 0 0)
check "notebook job: 80 distinct keys fetched once each (results stream, job hash)" "80 80 800" \
    "$(haul_redis_cli XLEN "haul:res:$sjob") $(haul_redis_cli HGET "haul:job:$sjob" distinct) $(haul_redis_cli HGET "haul:job:$sjob" keys)"

# 2b. Coalescing with duplicates scattered through a keys file (not a repeated listing):
# every occurrence answered, in order, and each distinct key fetched once; --no-coalesce
# fetches every occurrence.
$PY - "$T/data/notebook-expected.tsv" "$T/dups.txt" "$T/dups-expected.tsv" <<'PYEOF'
import random, sys
exp = [l.rstrip('\n').split('\t', 1) for l in open(sys.argv[1], encoding='utf-8')]
rnd = random.Random(7)
rows = [rnd.choice(exp[:50]) for _ in range(500)]
with open(sys.argv[2], 'w', encoding='utf-8') as k, open(sys.argv[3], 'w', encoding='utf-8') as e:
    for key, val in rows:
        k.write(key + '\n')
        e.write(key + '\t' + val + '\n')
PYEOF
ndistinct=$(cut -f1 "$T/dups-expected.tsv" | sort -u | wc -l)
for mode in coalesce no-coalesce; do
    swiftenv "$SCHED" run --redis "$R" --swift --container "$BUCKET" --keys "$T/dups.txt" --op sidecar \
        --"$mode" --batch 7 --keep-results --out "$T/dups-$mode.csv" 2>"$T/dups-$mode.err"
    rc=$?
    djob=$(haul_redis_cli ZREVRANGE haul:jobs 0 0)
    want=$ndistinct; [ "$mode" = no-coalesce ] && want=500
    fetched=$(haul_redis_cli XLEN "haul:res:$djob")
    if [ $rc -eq 0 ] && [ "$fetched" = "$want" ] &&
        $PY tests/lib/check_results.py "$T/dups-$mode.csv" "$T/dups-expected.tsv" 1 >"$T/dups-$mode.check"; then
        ok "--$mode: 500 keys with duplicates scattered, every row right and in order, $fetched fetched"
    else fail "--$mode (exit $rc, $fetched results, want $want)" "$T/dups-$mode.check"; cat "$T/dups-$mode.err"; fi
done

# 3. get over both APIs: every body written to files and compared byte for byte.
for store in s3 swift; do
    out="$T/get-$store"
    if [ $store = s3 ]; then
        s3env "$SCHED" run --redis "$R" --s3 "$HAUL_TEST_S3" --bucket "$BUCKET" --keys "$T/data/special-keys.txt" \
            --op get --max-inline 0 --out-dir "$out" --format jsonl --out "$out.jsonl" 2>"$out.err"
    else
        swiftenv "$SCHED" run --redis "$R" --swift --container "$BUCKET" --keys "$T/data/special-keys.txt" \
            --op get --max-inline 0 --out-dir "$out" --format jsonl --out "$out.jsonl" 2>"$out.err"
    fi
    rc=$? bad=0 n=0
    while IFS= read -r k; do
        n=$((n + 1))
        cmp -s "$T/data/objects/$k" "$out/$k" || { bad=1; echo "  differs: $k" >>"$out.err"; }
    done <"$T/data/special-keys.txt"
    if [ $rc -eq 0 ] && [ $bad -eq 0 ] && [ "$(wc -l <"$out.jsonl")" -eq "$n" ]; then
        ok "get over $store: $n keys with spaces, '+', '%', unicode, deep paths, 300 kB: files equal the objects"
    else
        fail "get over $store (exit $rc)" "$out.err"
    fi
done

# 4. get inline, over S3: the values are the objects' text.
grep -v '\.bin$' "$T/data/special-keys.txt" >"$T/text-keys.txt"
: >"$T/text-expected.tsv"
while IFS= read -r k; do printf '%s\t%s\n' "$k" "$(cat "$T/data/objects/$k")" >>"$T/text-expected.tsv"; done <"$T/text-keys.txt"
s3env "$SCHED" run --redis "$R" --s3 "$HAUL_TEST_S3" --bucket "$BUCKET" --keys "$T/text-keys.txt" \
    --op get --out "$T/inline.csv" 2>"$T/inline.err"
rc=$?
if [ $rc -eq 0 ] && $PY tests/lib/check_results.py "$T/inline.csv" "$T/text-expected.tsv" 1 >"$T/inline.check"; then
    ok "get inline over S3: values equal the objects' text"
else
    fail "get inline over S3 (exit $rc)" "$T/inline.check"; cat "$T/inline.err"
fi

# 5. head over both APIs: size and ETag (MD5) of each object.
for store in s3 swift; do
    if [ $store = s3 ]; then
        s3env "$SCHED" run --redis "$R" --s3 "$HAUL_TEST_S3" --bucket "$BUCKET" --keys "$T/data/special-keys.txt" \
            --op head --format jsonl --out "$T/head-$store.jsonl" 2>"$T/head-$store.err"
    else
        swiftenv "$SCHED" run --redis "$R" --swift --container "$BUCKET" --keys "$T/data/special-keys.txt" \
            --op head --format jsonl --out "$T/head-$store.jsonl" 2>"$T/head-$store.err"
    fi
    rc=$?
    if [ $rc -eq 0 ] && $PY - "$T/head-$store.jsonl" "$T/data/objects" >"$T/head-$store.check" <<'PYEOF'
import hashlib, json, os, sys
bad = 0
for line in open(sys.argv[1], encoding="utf-8"):
    r = json.loads(line)
    body = open(os.path.join(sys.argv[2], r["key"]), "rb").read()
    v = json.loads(r["value"])
    if v["size"] != len(body) or v["etag"] != hashlib.md5(body).hexdigest() or r["bytes"] != len(body):
        print("  %s: %r" % (r["key"], v)); bad = 1
sys.exit(bad)
PYEOF
    then ok "head over $store: size and ETag of every key match the objects"
    else fail "head over $store (exit $rc)" "$T/head-$store.check"; cat "$T/head-$store.err"; fi
done

# 6. A missing key is an error row with http 404, the others still answered; exit 1.
printf 'dummy/collated_7.zip\ndummy/no-such.zip\ndummy/1/1_1.f\n' >"$T/missing-keys.txt"
for store in s3 swift; do
    if [ $store = s3 ]; then
        s3env "$SCHED" run --redis "$R" --s3 "$HAUL_TEST_S3" --bucket "$BUCKET" --keys "$T/missing-keys.txt" \
            --op sidecar --format jsonl --out "$T/missing-$store.jsonl" 2>"$T/missing-$store.err"
    else
        swiftenv "$SCHED" run --redis "$R" --swift --container "$BUCKET" --keys "$T/missing-keys.txt" \
            --op sidecar --format jsonl --out "$T/missing-$store.jsonl" 2>"$T/missing-$store.err"
    fi
    rc=$?
    if [ $rc -eq 1 ] && $PY - "$T/missing-$store.jsonl" >"$T/missing-$store.check" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
assert [r["key"] for r in rows] == ["dummy/collated_7.zip", "dummy/no-such.zip", "dummy/1/1_1.f"], rows
assert rows[0]["status"] == "ok" and rows[0]["value"] == "18/18_1.f|44/44_1.f|44/44_2.f", rows[0]
assert rows[1]["status"] == "error" and rows[1]["http"] == 404, rows[1]
assert "404" in rows[1]["error"] and "no-such.zip.metadata" in rows[1]["error"], rows[1]
assert rows[2]["status"] == "ok" and rows[2]["value"] == "", rows[2]
PYEOF
    then ok "missing key over $store: error row with http 404, exit 1, other rows answered"
    else fail "missing key over $store (exit $rc)" "$T/missing-$store.check"; cat "$T/missing-$store.jsonl"; fi
done

# 7. A wrong secret: one clear message naming the store and the status, exit 2, no secret shown.
env -u ST_AUTH AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=WrongSecret123 \
    "$SCHED" run --redis "$R" --s3 "$HAUL_TEST_S3" --bucket "$BUCKET" --op sidecar --out "$T/x.csv" 2>"$T/wrong-s3.err"
rc=$?
if [ $rc -eq 2 ] && grep -q "S3 .*403 SignatureDoesNotMatch (check the secret key and region)" "$T/wrong-s3.err" \
   && ! grep -q WrongSecret123 "$T/wrong-s3.err"; then
    ok "wrong S3 secret: exit 2, '$(head -c 120 "$T/wrong-s3.err")'"
else fail "wrong S3 secret (exit $rc)" "$T/wrong-s3.err"; fi
env ST_AUTH="$HAUL_TEST_ST_AUTH" ST_USER=test:tester ST_KEY=WrongKey123 \
    "$SCHED" run --redis "$R" --swift --container "$BUCKET" --op sidecar --out "$T/x.csv" 2>"$T/wrong-swift.err"
rc=$?
if [ $rc -eq 2 ] && grep -q "Swift auth at .* as test:tester: 401 Unauthorized" "$T/wrong-swift.err" \
   && ! grep -q WrongKey123 "$T/wrong-swift.err"; then
    ok "wrong Swift key: exit 2, '$(head -c 120 "$T/wrong-swift.err")'"
else fail "wrong Swift key (exit $rc)" "$T/wrong-swift.err"; fi

# 8. A second account without access to the bucket.
env -u ST_AUTH AWS_ACCESS_KEY_ID=test2:tester2 AWS_SECRET_ACCESS_KEY=testing2 \
    "$SCHED" run --redis "$R" --s3 "$HAUL_TEST_S3" --bucket "$BUCKET" --op sidecar --out "$T/x.csv" 2>"$T/acct-s3.err"
rc=$?
if [ $rc -eq 2 ] && grep -Eq "S3 list $BUCKET: (404 NoSuchBucket|403 AccessDenied)" "$T/acct-s3.err"; then
    ok "second account over S3: exit 2, '$(head -c 140 "$T/acct-s3.err")'"
else fail "second account over S3 (exit $rc)" "$T/acct-s3.err"; fi
env ST_AUTH="$HAUL_TEST_ST_AUTH" ST_USER=test2:tester2 ST_KEY=testing2 \
    "$SCHED" run --redis "$R" --swift --container "$BUCKET" --op sidecar --out "$T/x.csv" 2>"$T/acct-swift.err"
rc=$?
if [ $rc -eq 2 ] && grep -Eq "Swift list $BUCKET: (404|403)" "$T/acct-swift.err"; then
    ok "second account over Swift: exit 2, '$(head -c 140 "$T/acct-swift.err")'"
else fail "second account over Swift (exit $rc)" "$T/acct-swift.err"; fi

# 9. A malformed task pushed by hand goes to the dead-letter list; workers carry on.
haul_redis_cli RPUSH haul:q:default "this is not msgpack" >/dev/null
haul_redis_cli RPUSH haul:q:default "$(printf '\x81\xa1v\x02')" >/dev/null
deadline=$((SECONDS + 10))
while [ "$(haul_redis_cli LLEN haul:dead:default)" -lt 2 ] && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
dead=$(haul_redis_cli LRANGE haul:dead:default 0 -1)
printf 'dummy/collated_0.zip\n' >"$T/one.txt"
s3env "$SCHED" run --redis "$R" --s3 "$HAUL_TEST_S3" --bucket "$BUCKET" --keys "$T/one.txt" --out "$T/after.csv" 2>/dev/null
rc=$?
alive=0; for p in "${WPIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=$((alive + 1)); done
if [ "$(haul_redis_cli LLEN haul:dead:default)" -eq 2 ] && echo "$dead" | grep -q '^reason=task: not a msgpack map' \
   && [ "$(echo "$dead" | grep -c '^reason=task')" -eq 2 ] && [ $rc -eq 0 ] && [ $alive -eq 2 ] \
   && grep -q '7/7_1.f|7/7_2.f|98/98_2.f' "$T/after.csv"; then
    ok "malformed tasks dead-lettered with their reasons; both workers alive and serving"
else
    fail "malformed task (dead: $(haul_redis_cli LLEN haul:dead:default), rc $rc, alive $alive)"; echo "$dead" | head -c 600
fi

# 10. collect after the scheduler is killed mid-job (every task queued, no result read: nothing
# trimmed). env, not the s3env function, so that $! is the scheduler itself and SIGKILL reaches it.
stop_workers
env -u ST_AUTH AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing \
    "$SCHED" run --redis "$R" --s3 "$HAUL_TEST_S3" --bucket "$BUCKET" --prefix dummy --op sidecar \
    --repeat 10 --out "$T/killed.csv" 2>"$T/killed.err" &
spid=$!
job=""; deadline=$((SECONDS + 20))
while [ -z "$job" ] && [ $SECONDS -lt $deadline ]; do
    job=$(grep -o 'job [0-9a-f-]* submitted' "$T/killed.err" | awk '{print $2}'); sleep 0.1
done
kill -9 $spid 2>/dev/null; wait $spid 2>/dev/null
start_workers 2
s3env "$SCHED" collect "$job" --redis "$R" --out "$T/collected.csv" 2>"$T/collect.err"
rc=$?
if [ -n "$job" ] && [ $rc -eq 0 ] && $PY tests/lib/check_results.py "$T/collected.csv" "$T/data/notebook-expected.tsv" 10 >"$T/collect.check"; then
    ok "collect $job after the scheduler was killed: 800 answers correct"
else fail "collect after kill (job '$job', exit $rc)" "$T/collect.check"; cat "$T/collect.err"; fi

# 11. list and list-buckets ops.
s3env "$SCHED" run --redis "$R" --s3 "$HAUL_TEST_S3" --bucket "$BUCKET" --op list --format jsonl --out "$T/list.jsonl" 2>"$T/list.err"
rc=$?
want=$(cat "$T/data/notebook-keys.txt" "$T/data/special-keys.txt" | sort -u | wc -l)
got=$($PY -c 'import json,sys; print(len({json.loads(l)["key"] for l in open(sys.argv[1])}))' "$T/list.jsonl" 2>/dev/null)
if [ $rc -eq 0 ] && [ "$got" = "$want" ] && grep -q '"key": *"special/ünï cødé/日本.txt"' "$T/list.jsonl"; then
    ok "list over S3: $got keys, every one of the bucket"
else fail "list over S3 (exit $rc, $got keys, want $want)" "$T/list.err"; fi
swiftenv "$SCHED" run --redis "$R" --swift --op list-buckets --keep-results --format jsonl --out "$T/lb.jsonl" 2>"$T/lb.err"
rc=$?
if [ $rc -eq 0 ] && grep -q "\"key\": *\"$BUCKET\"" "$T/lb.jsonl"; then
    ok "list-buckets over Swift names the container"
else fail "list-buckets over Swift (exit $rc)" "$T/lb.err"; fi

# 12. Usage and infrastructure errors.
"$SCHED" run --bogus 2>"$T/u.err"; rc=$?
if [ $rc -eq 2 ] && grep -q -- "unknown option --bogus" "$T/u.err"; then ok "bad flag named, exit 2"; else fail "bad flag (exit $rc)" "$T/u.err"; fi
"$SCHED" status --redis redis://127.0.0.1:1/0 2>"$T/r.err"; rc=$?
if [ $rc -eq 2 ] && grep -q "cannot connect to Redis at redis://127.0.0.1:1/0" "$T/r.err"; then
    ok "unreachable Redis (scheduler): exit 2, names the URL"
else fail "unreachable Redis (scheduler, exit $rc)" "$T/r.err"; fi
timeout 10 "$WORKER" --redis redis://:sekretpw@127.0.0.1:1/0 2>"$T/rw.err"; rc=$?
if [ $rc -eq 2 ] && grep -q "cannot connect to Redis at redis://:\*\*\*@127.0.0.1:1/0" "$T/rw.err" && ! grep -q sekretpw "$T/rw.err"; then
    ok "unreachable Redis (worker): exit 2, names the URL without its password"
else fail "unreachable Redis (worker, exit $rc)" "$T/rw.err"; fi

# 13. status is readable and shows no secret; results (kept by the list-buckets job) are readable
# with redis-cli.
"$SCHED" status --redis "$R" >"$T/status.txt" 2>&1
lastjob=$(haul_redis_cli ZREVRANGE haul:jobs 0 0)
if grep -q "workers: 2 alive" "$T/status.txt" && grep -q "default .*tasks waiting" "$T/status.txt" \
   && grep -q "^  $lastjob  done .*list-buckets swift/ .* 1 rows written, 0 failed" "$T/status.txt" \
   && ! grep -q testing "$T/status.txt" && haul_redis_cli XRANGE "haul:res:$lastjob" - + COUNT 1 | grep -q '^status$'; then
    ok "status shows queues, 2 workers and jobs, no secret; XRANGE shows results as text"
else fail "status" "$T/status.txt"; fi

# 14. An expired Swift token: workers re-authenticate once and answer. One
# worker, its token cached by a first job, so the job after the flush meets
# the expired token (with two, which worker holds a cached token and which
# tasks have requests would decide it).
stop_workers
start_workers 1
swiftenv "$SCHED" run --redis "$R" --swift --op list-buckets --out /dev/null 2>/dev/null
exec 3<>"/dev/tcp/127.0.0.1/$HAUL_TEST_MEMCACHED_PORT" && printf 'flush_all\r\n' >&3 && read -r -t 5 reply <&3; exec 3>&-
swiftenv "$SCHED" run --redis "$R" --swift --container "$BUCKET" --prefix dummy --op sidecar \
    --repeat 10 --out "$T/reauth.csv" 2>"$T/reauth.err"
rc=$?
reauths=$(cat "$T"/worker*.log | grep -c "refused with 401; authenticated again")
if [ $rc -eq 0 ] && [ "$reauths" -eq 1 ] \
   && $PY tests/lib/check_results.py "$T/reauth.csv" "$T/data/notebook-expected.tsv" 10 >"$T/reauth.check"; then
    ok "expired Swift token (memcached flushed): $reauths re-authentication(s), 800 answers correct"
else fail "expired Swift token (exit $rc, $reauths re-auths, memcached said '${reply:-}')" "$T/reauth.check"; cat "$T/reauth.err"; fi

# 15. SIGTERM: the worker finishes the tasks it holds, stores their results, and exits 0;
# the rest stay queued and another worker completes the job.
stop_workers
job=$(s3env "$SCHED" submit --redis "$R" --s3 "$HAUL_TEST_S3" --bucket "$BUCKET" --prefix dummy \
      --op sidecar --repeat 10 --batch 8 2>/dev/null)
"$WORKER" --redis "$R" --concurrency 2 --name sigterm-test 2>"$T/sigterm.log" &
wpid=$!
deadline=$((SECONDS + 10))
while [ "$(haul_redis_cli XLEN "haul:res:$job")" -lt 1 ] && [ $SECONDS -lt $deadline ]; do sleep 0.02; done
kill -TERM $wpid
wait $wpid; wrc=$?
held=$(haul_redis_cli LLEN haul:proc:sigterm-test)
partial=$(haul_redis_cli XLEN "haul:res:$job")
start_workers 2
s3env "$SCHED" collect "$job" --redis "$R" --out "$T/sigterm.csv" 2>"$T/sigterm.err"
rc=$?
if [ $wrc -eq 0 ] && [ "$held" -eq 0 ] && [ "$partial" -lt 80 ] && [ $((partial % 8)) -eq 0 ] && [ $rc -eq 0 ] \
   && $PY tests/lib/check_results.py "$T/sigterm.csv" "$T/data/notebook-expected.tsv" 10 >"$T/sigterm.check"; then
    ok "SIGTERM: worker exited 0 after storing whole tasks ($partial of 80 distinct keys' results), nothing held; job completed by others"
else fail "SIGTERM (worker exit $wrc, held $held, partial $partial, collect $rc)" "$T/sigterm.log"; cat "$T/sigterm.check" 2>/dev/null; fi

# 16. cancel: the job's queued tasks are dropped by the workers, its collector stops.
stop_workers
job=$(s3env "$SCHED" submit --redis "$R" --s3 "$HAUL_TEST_S3" --bucket "$BUCKET" --prefix dummy \
      --op sidecar --repeat 10 2>/dev/null)
s3env "$SCHED" collect "$job" --redis "$R" --out "$T/cancelled.csv" 2>"$T/cancel-collect.err" &
cpid=$!
sleep 0.5
"$SCHED" cancel "$job" --redis "$R" >"$T/cancel.out" 2>&1; crc=$?
start_workers 2
wait $cpid; collect_rc=$?
deadline=$((SECONDS + 10))
while [ "$(haul_redis_cli LLEN haul:q:default)" -gt 0 ] && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
if [ $crc -eq 0 ] && [ $collect_rc -eq 2 ] && grep -q "was cancelled" "$T/cancel-collect.err" \
   && [ "$(haul_redis_cli LLEN haul:q:default)" -eq 0 ] && [ "$(haul_redis_cli XLEN "haul:res:$job")" -eq 0 ] \
   && [ "$(haul_redis_cli HGET "haul:job:$job" state)" = cancelled ]; then
    ok "cancel: collector stopped (exit 2), workers dropped all $(haul_redis_cli HGET "haul:job:$job" tasks) tasks unanswered"
else fail "cancel (cancel $crc, collect $collect_rc, queue $(haul_redis_cli LLEN haul:q:default))" "$T/cancel-collect.err"; fi
timeout 10 "$SCHED" collect "$job" --redis "$R" --out "$T/cancelled2.csv" 2>"$T/cancel-collect2.err"; rc=$?
if [ $rc -eq 2 ] && grep -q "was cancelled" "$T/cancel-collect2.err"; then
    ok "collect of a job cancelled earlier: exit 2 at once, saying so"
else fail "collect of a cancelled job (exit $rc)" "$T/cancel-collect2.err"; fi

# 17. --retention: a collected job's hash and results expire.
printf 'dummy/collated_3.zip\n' >"$T/one3.txt"
s3env "$SCHED" run --redis "$R" --s3 "$HAUL_TEST_S3" --bucket "$BUCKET" --keys "$T/one3.txt" \
    --retention 1 --out "$T/ret.csv" 2>/dev/null
rjob=$(haul_redis_cli ZREVRANGE haul:jobs 0 0)
ttl=$(haul_redis_cli PTTL "haul:res:$rjob")
sleep 1.2
if [ "$ttl" -gt 0 ] && [ "$ttl" -le 1000 ] && [ "$(haul_redis_cli EXISTS "haul:res:$rjob" "haul:job:$rjob")" -eq 0 ]; then
    ok "--retention 1: the collected job's results and hash expired"
else fail "retention (pttl $ttl, exists $(haul_redis_cli EXISTS "haul:res:$rjob" "haul:job:$rjob"))"; fi

# 18. SIGTERM with transfers stuck (a store that accepts and never answers):
# after --shutdown-timeout the worker returns its tasks to the queue and exits 0.
stop_workers
$PY -c 'import socket,time,sys
s=socket.socket(); s.bind(("127.0.0.1",0)); s.listen(64); print(s.getsockname()[1], flush=True); time.sleep(60)' >"$T/mute.port" &
mute=$!
deadline=$((SECONDS + 5)); while [ ! -s "$T/mute.port" ] && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
s3env "$SCHED" submit --redis "$R" --s3 "http://127.0.0.1:$(cat "$T/mute.port")" --bucket "$BUCKET" \
    --keys "$T/text-keys.txt" --op get --batch 2 --no-check >/dev/null 2>&1
"$WORKER" --redis "$R" --name stuck --shutdown-timeout 1 2>"$T/stuck.log" &
wpid=$!
deadline=$((SECONDS + 5))
while [ "$(haul_redis_cli LLEN haul:q:default)" -gt 0 ] && [ $SECONDS -lt $deadline ]; do sleep 0.05; done
t0=$SECONDS
kill -TERM $wpid; wait $wpid; wrc=$?
took=$((SECONDS - t0))
kill $mute 2>/dev/null
if [ $wrc -eq 0 ] && [ $took -le 4 ] && [ "$(haul_redis_cli LLEN haul:q:default)" -eq 2 ] \
   && [ "$(haul_redis_cli LLEN haul:proc:stuck)" -eq 0 ] && grep -q "returned 2 unfinished task" "$T/stuck.log"; then
    ok "SIGTERM with stuck transfers: exit 0 within the bound (${took} s), both tasks back in the queue"
else fail "shutdown bound (exit $wrc, ${took} s, queued $(haul_redis_cli LLEN haul:q:default))" "$T/stuck.log"; fi
haul_redis_cli DEL haul:q:default >/dev/null
start_workers 2

# 19. No secret in any log.
stop_workers
if ! grep -l -e testing -e WrongSecret123 -e WrongKey123 "$T"/worker*.log "$T"/*.err >/dev/null 2>&1; then
    ok "no secret in worker logs or scheduler messages"
else fail "a secret appears in: $(grep -l -e testing -e WrongSecret123 -e WrongKey123 "$T"/worker*.log "$T"/*.err | tr '\n' ' ')"; fi
held=0
for k in $(haul_redis_cli --scan --pattern 'haul:proc:*'); do held=$((held + $(haul_redis_cli LLEN "$k"))); done
if [ $held -eq 0 ] && [ "$(haul_redis_cli LLEN haul:q:default)" = 0 ]; then
    ok "queue and processing lists empty at the end"
else fail "queue not empty: $(haul_redis_cli LLEN haul:q:default)"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
