#!/usr/bin/env bash
# Chaos on the write side: a put over S3 (Swift's s3api) of 600 small files
# and 3 files of 11 MiB in parts (--segment-size 5M, multipart uploads), 3
# workers, one of them SIGKILLed every 2 s and replaced, Redis SIGKILLed and
# restarted from its AOF (appendfsync everysec) once mid-job. Afterwards:
# one row per file, every row ok; every object holds its file's bytes (the
# small ones by their MD5 ETag, the large ones read back whole); no
# unfinished multipart upload left in the bucket; nothing left in a queue, a
# processing list or the dead letters.
set -u
cd "$(dirname "$0")/../.."
TOP=$PWD
. tests/lib/servers.sh
. tests/lib/testlib.sh
PY=/usr/bin/python3
declare -A WPID=()
REDIS2=""
test_stop() {
    for p in "${WPID[@]}"; do kill -9 "$p" 2>/dev/null; done
    [ -n "$REDIS2" ] && kill -9 "$REDIS2" 2>/dev/null
}
haul_test_begin put-chaos
R=$HAUL_TEST_REDIS_URL
RDIR=$HAUL_TEST_DIR/redis
haul_redis_cli CONFIG SET appendfsync everysec >/dev/null
haul_redis_cli CONFIG SET appendonly yes >/dev/null
for _ in $(seq 100); do
    haul_redis_cli INFO persistence | grep -q 'aof_rewrite_in_progress:0' &&
        haul_redis_cli INFO persistence | grep -q 'aof_enabled:1' && break
    sleep 0.1
done
haul_swift_mkcontainer chaosput || { echo "FAIL making the bucket"; echo "0 passed, 1 failed"; exit 1; }

# The tree: 600 files of 1-8 KiB in 20 directories, 3 of 11 MiB.
IN=$T/in
$PY - "$IN/tree" <<'PYEOF'
import os, random, sys
root = sys.argv[1]
random.seed(7)
for i in range(600):
    d = os.path.join(root, "d%02d" % (i % 20))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%04d.dat" % i), "wb") as f:
        f.write(os.urandom(random.randint(1024, 8192)))
for i in range(3):
    with open(os.path.join(root, "big%d.bin" % i), "wb") as f:
        f.write(os.urandom(11 * 1048576 + i))
PYEOF

n=0
start_worker() {
    n=$((n + 1))
    "$TOP/bin/haul-worker" --redis "$R" --concurrency 8 --lease 3 --part-streams 2 --in-root "$IN" \
        --out-root "$T" >>"$T/worker-$n.log" 2>&1 &
    WPID[$n]=$!
    disown "${WPID[$n]}"
}
for _ in 1 2 3; do start_worker; done

t0=$(date +%s.%N)
AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing "$TOP/bin/haul-scheduler" run --redis "$R" \
    --s3 "$HAUL_TEST_S3" --bucket chaosput --op put --from-dir "$IN/tree" --prefix c/ --segment-size 5M \
    --batch 8 --out "$T/out.csv" 2>"$T/sched.err" &
spid=$!
kills=0 restarts=0 rstart=$((SECONDS + 4))
while kill -0 $spid 2>/dev/null; do
    sleep 2
    kill -0 $spid 2>/dev/null || break
    ids=("${!WPID[@]}")
    victim=${ids[$((RANDOM % ${#ids[@]}))]}
    kill -9 "${WPID[$victim]}" 2>/dev/null && kills=$((kills + 1))
    unset "WPID[$victim]"
    start_worker
    if [ $restarts -eq 0 ] && [ $SECONDS -ge $rstart ]; then
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
secs=$(awk "BEGIN{printf \"%.1f\", $(date +%s.%N) - $t0}")

if [ $rc -eq 0 ] && $PY - "$T/out.csv" "$IN/tree" "$HAUL_TEST_S3" >"$T/check.txt" 2>&1 <<'PYEOF'
import csv, hashlib, os, sys
import boto3
out, root, url = sys.argv[1:4]
files = sorted(os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)
rows = list(csv.DictReader(open(out)))
keys = [r["key"] for r in rows]
assert sorted(keys) == sorted("c/" + f for f in files), "rows: %d for %d files (or other keys)" % (len(rows), len(files))
assert len(set(keys)) == len(keys), "a key twice"
notok = [r for r in rows if r["status"] != "ok"]
assert not notok, "%d rows not ok, the first: %r" % (len(notok), notok[0])
c = boto3.client("s3", endpoint_url=url, aws_access_key_id="test:tester", aws_secret_access_key="testing",
                 region_name="us-east-1")
objs = {}
for page in c.get_paginator("list_objects_v2").paginate(Bucket="chaosput"):
    for o in page.get("Contents", []):
        objs[o["Key"]] = o["ETag"].strip('"')
bad = 0
for f in files:
    body = open(os.path.join(root, f), "rb").read()
    md5 = hashlib.md5(body).hexdigest()
    etag = objs.get("c/" + f)
    if etag is None:
        bad += 1
    elif "-" in etag:  # in parts: read back whole
        got = c.get_object(Bucket="chaosput", Key="c/" + f)["Body"].read()
        bad += got != body
    else:
        bad += etag != md5
assert bad == 0, "%d objects missing or not their file" % bad
left = c.list_multipart_uploads(Bucket="chaosput").get("Uploads", [])
assert not left, "%d unfinished multipart uploads left" % len(left)
print("%d rows, each file once and ok, every object its file's bytes, no unfinished upload" % len(rows))
PYEOF
then ok "put chaos: $(cat "$T/check.txt") ($secs s, $kills worker SIGKILLs, $restarts Redis SIGKILL+restart)"
else fail "put chaos output (exit $rc)" "$T/check.txt"; tail -5 "$T/sched.err"; fi

held=0
for k in $(haul_redis_cli --scan --pattern 'haul:proc:*'); do held=$((held + $(haul_redis_cli LLEN "$k"))); done
queued=$(haul_redis_cli LLEN haul:q:default)
dead=$(haul_redis_cli LLEN haul:dead:default)
check "put chaos: nothing left in the queue, the processing lists or the dead letters" "0 0 0" "$queued $held $dead"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
