#!/usr/bin/env bash
# Sealed connection state and bad input, against a real Redis and Swift:
# with a key, no secret is anywhere in Redis; a task altered by one byte, a
# sealed task given to a worker without the key, a task in the clear given to
# a worker with a key, and malformed tasks (truncated, wrong types, huge
# lengths, unknown op, unknown version) all end as dead letters with their
# reason, and the worker stays up.
set -u
cd "$(dirname "$0")/../.."
TOP=$PWD
. tests/lib/servers.sh
. tests/lib/seed.sh
. tests/lib/testlib.sh
PY=/usr/bin/python3
BUCKET=LSST-IR-FUSION-testfromopenstack
SCHED=$TOP/bin/haul-scheduler WORKER=$TOP/bin/haul-worker
WP=""
test_stop() {
    [ -n "$WP" ] && kill "$WP" 2>/dev/null
}
haul_test_begin sec --seed
R=$HAUL_TEST_REDIS_URL
export ST_AUTH=$HAUL_TEST_ST_AUTH ST_USER=test:tester ST_KEY=testing
export AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing
export HAUL_REDIS_URL=$R
read -r TOKEN _ < <(haul_swift_token test:tester testing)
rpy() { HAUL_TEST_REDIS_PORT=$HAUL_TEST_REDIS_PORT PYTHONPATH=$TOP/tests/lib $PY - "$@"; }
start_worker() { "$WORKER" "$@" >>"$T/worker.log" 2>&1 & WP=$!; }
stop_worker() { [ -n "$WP" ] && haul_stop "$WP"; WP=""; }
dead_count() { haul_redis_cli LLEN haul:dead:default; }
wait_dead() { local want=$1 d=$((SECONDS + 10)); while [ "$(dead_count)" -lt "$want" ] && [ $SECONDS -lt $d ]; do sleep 0.1; done; }

# keygen makes a 0600 key file and will not overwrite one.
"$SCHED" keygen "$T/haul.key" >/dev/null
"$SCHED" keygen "$T/haul.key" 2>"$T/kg2.err"; kg2=$?
if [ "$(stat -c %a "$T/haul.key")" = 600 ] && grep -Eq '^[0-9a-f]{64}$' "$T/haul.key" && [ $kg2 -eq 2 ]; then
    ok "keygen: 64 hex digits, mode 600, refuses to overwrite"
else fail "keygen (mode $(stat -c %a "$T/haul.key"), second run exit $kg2)" "$T/kg2.err"; fi
export HAUL_KEY_FILE=$T/haul.key

# 1. Sealed tasks waiting in the queue: no secret anywhere in Redis.
job=$("$SCHED" submit --swift --container "$BUCKET" --prefix dummy --repeat 2 2>"$T/submit.err")
job2=$("$SCHED" submit --s3 "$HAUL_TEST_S3" --bucket "$BUCKET" --prefix dummy --repeat 2 2>>"$T/submit.err")
"$SCHED" submit --swift --token "$TOKEN" --storage-url "${HAUL_TEST_ST_AUTH%/auth/v1.0}/v1/AUTH_test" \
    --container "$BUCKET" --keys "$T/data/notebook-keys.txt" >/dev/null 2>>"$T/submit.err"
rpy "$TOKEN" >"$T/scan.txt" <<'PYEOF'
import os, sys, resp
r = resp.Redis(port=int(os.environ["HAUL_TEST_REDIS_PORT"]))
secrets = [b"testing", sys.argv[1].encode()]
keys, cursor = [], b"0"
while True:
    cursor, batch = r.cmd("SCAN", cursor, "COUNT", 1000)
    keys += batch
    if cursor == b"0": break
found = 0
for k in keys:
    blobs = [r.cmd("DUMP", k)]
    t = r.cmd("TYPE", k)
    if t == "list": blobs += r.cmd("LRANGE", k, 0, -1)
    elif t == "hash": blobs += r.cmd("HGETALL", k)
    elif t == "stream": blobs += [x for e in r.cmd("XRANGE", k, "-", "+") for x in e[1]]
    elif t == "string": blobs.append(r.cmd("GET", k))
    for b in blobs:
        for s in secrets:
            if b and s in b:
                print("secret found in", k); found += 1
print("%d keys scanned, %d tasks queued" % (len(keys), r.cmd("LLEN", "haul:q:default")))
sys.exit(1 if found else 0)
PYEOF
if [ $? -eq 0 ] && grep -q "tasks queued" "$T/scan.txt"; then
    ok "sealed jobs queued: no Swift key, S3 secret or Swift token in any Redis key ($(tail -1 "$T/scan.txt"))"
else fail "secret scan" "$T/scan.txt"; fi

# 2. The same jobs, run by a worker with the key: correct answers.
start_worker --key-file "$T/haul.key"
"$SCHED" collect "$job" --out "$T/sealed.csv" 2>"$T/c1.err"; rc1=$?
"$SCHED" collect "$job2" --out "$T/sealed2.csv" 2>"$T/c2.err"; rc2=$?
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && $PY tests/lib/check_results.py "$T/sealed.csv" "$T/data/notebook-expected.tsv" 2 >"$T/c.check" \
   && $PY tests/lib/check_results.py "$T/sealed2.csv" "$T/data/notebook-expected.tsv" 2 >>"$T/c.check"; then
    ok "sealed jobs over Swift and S3: 320 answers correct with the key"
else fail "sealed jobs (exit $rc1/$rc2)" "$T/c.check"; fi
stop_worker
haul_redis_cli DEL haul:q:default >/dev/null

# 3. A sealed task altered by one byte (a key of the batch) is refused.
printf 'dummy/collated_0.zip\n' >"$T/one.txt"
"$SCHED" submit --swift --container "$BUCKET" --keys "$T/one.txt" >/dev/null 2>&1
rpy <<'PYEOF'
import os, resp
r = resp.Redis(port=int(os.environ["HAUL_TEST_REDIS_PORT"]))
t = bytearray(r.cmd("LPOP", "haul:q:default"))
i = t.index(b"collated_0") + 9
t[i] ^= 0x01   # collated_0 -> collated_1
r.cmd("RPUSH", "haul:q:default", bytes(t))
PYEOF
start_worker --key-file "$T/haul.key"
wait_dead 1
if [ "$(dead_count)" -eq 1 ] && haul_redis_cli LINDEX haul:dead:default 0 | grep -aq "failed authentication"; then
    ok "a sealed task altered by one byte is refused: $(haul_redis_cli LINDEX haul:dead:default 0 | head -1 | cut -c1-110)"
else fail "altered task (dead: $(dead_count))" "$T/worker.log"; fi

# 4. A task in the clear, given to a worker with a key, is refused (a forgery could point anywhere).
env -u HAUL_KEY_FILE "$SCHED" submit --swift --container "$BUCKET" --keys "$T/one.txt" >/dev/null 2>&1
wait_dead 2
if haul_redis_cli LINDEX haul:dead:default 1 | grep -aq "not sealed"; then
    ok "a task in the clear is refused by a worker with a key"
else fail "clear task to keyed worker (dead: $(dead_count))" "$T/worker.log"; fi
stop_worker

# 5. A sealed task, given to a worker without the key: a clear message, dead letter.
"$SCHED" submit --swift --container "$BUCKET" --keys "$T/one.txt" >/dev/null 2>&1
env -u HAUL_KEY_FILE "$WORKER" >>"$T/worker.log" 2>&1 & WP=$!
wait_dead 3
if haul_redis_cli LINDEX haul:dead:default 2 | grep -aq "task is sealed: this worker has no key" \
   && grep -q "task is sealed" "$T/worker.log"; then
    ok "a sealed task is refused by a worker without the key, saying so"
else fail "sealed task to keyless worker (dead: $(dead_count))" "$T/worker.log"; fi

# 6. Malformed tasks: each a dead letter with its reason; the worker stays up.
rpy <<'PYEOF'
import os, resp
r = resp.Redis(port=int(os.environ["HAUL_TEST_REDIS_PORT"]))
q = "haul:q:default"
def s(x): return bytes([0xa0 | len(x)]) + x.encode()
good = bytes([0x86]) + s("v") + b"\x01" + s("id") + s("j:1") + s("job") + s("j") + s("op") + s("head") \
     + s("bucket") + s("b") + s("keys") + b"\x91" + s("k")
r.cmd("RPUSH", q, good[:-3])                                   # truncated
r.cmd("RPUSH", q, good.replace(s("op") + s("head"), s("op") + b"\x07"))  # wrong type
r.cmd("RPUSH", q, good.replace(b"\x91" + s("k"), b"\xdd\xff\xff\xff\xff"))  # 4 billion keys
r.cmd("RPUSH", q, good.replace(s("head"), s("shred")))        # unknown op
r.cmd("RPUSH", q, good.replace(s("v") + b"\x01", s("v") + b"\x09"))  # unknown version
PYEOF
wait_dead 8
reasons=$(haul_redis_cli LRANGE haul:dead:default 3 -1 | grep -a '^reason=' | cut -c1-90)
if [ "$(dead_count)" -eq 8 ] && kill -0 $WP 2>/dev/null \
   && echo "$reasons" | grep -q "truncated" && echo "$reasons" | grep -q "'op'" \
   && [ "$(echo "$reasons" | grep -c "truncated")" -eq 2 ] && echo "$reasons" | grep -q "unknown operation 'shred'" \
   && echo "$reasons" | grep -q "version 9"; then
    ok "malformed tasks dead-lettered, worker up; reasons:"; echo "$reasons" | sed 's/^/       /'
else fail "malformed tasks (dead: $(dead_count))" "$T/worker.log"; echo "$reasons"; fi

# 7. status shows the dead letters; requeue-dead moves them back.
"$SCHED" status >"$T/status.txt" 2>&1
stop_worker
"$SCHED" requeue-dead >"$T/rq.txt" 2>&1
if grep -q "8 dead" "$T/status.txt" && grep -q "dead: .*version 9" "$T/status.txt" && grep -q "^8 dead letter" "$T/rq.txt" \
   && [ "$(dead_count)" -eq 0 ] && [ "$(haul_redis_cli LLEN haul:q:default)" -eq 8 ]; then
    ok "status lists dead letters with reasons; requeue-dead moved all 8 back to the queue"
else fail "status / requeue-dead" "$T/status.txt"; cat "$T/rq.txt"; fi
if ! grep -q testing "$T"/*.log "$T"/*.err "$T/status.txt" 2>/dev/null; then ok "no secret in logs or status"; else fail "a secret in logs"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
