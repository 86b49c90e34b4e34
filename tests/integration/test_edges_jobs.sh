#!/usr/bin/env bash
# A job always ends, and Redis does not grow with it -- against a real redis-server and Swift,
# with sealed tasks and signed results (a key for every process): a task altered in the queue,
# a task removed beside an unreadable dead letter, the poison-pill cap, a failed listing, a
# listing that lost a row, forged result rows, the submission window and trimming (Redis memory
# against the same job without them), the expiry of every key a job makes (collected, cancelled,
# failed, uncollected, abandoned mid-submission), a collector with no worker, bucket names.
# Every check reads the real answer: row texts, counts, TTL values.
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

WPIDS=() BGPIDS=()
test_stop() {
    for p in "${BGPIDS[@]}" "${WPIDS[@]}"; do kill "$p" 2>/dev/null; done
}
haul_test_begin edges --seed
R=$HAUL_TEST_REDIS_URL
export HAUL_REDIS_URL=$R ST_AUTH=$HAUL_TEST_ST_AUTH ST_USER=test:tester ST_KEY=testing
"$SCHED" keygen "$T/haul.key" >/dev/null
export HAUL_KEY_FILE=$T/haul.key

rcli() { haul_redis_cli "$@"; }
rpy() { HAUL_TEST_REDIS_PORT=$HAUL_TEST_REDIS_PORT PYTHONPATH=$TOP/tests/lib $PY - "$@"; }
start_worker() { # QUEUE [options]
    local q=$1; shift
    "$WORKER" --queue "$q" "$@" >>"$T/worker-$q.log" 2>&1 &
    WPIDS+=($!)
}
# ttls JOB: "KEY TTL" for every haul:* key named after JOB.
ttls() { local k; for k in $(rcli --scan --pattern "haul:*$1*"); do echo "$k $(rcli TTL "$k")"; done; }
# all_ttls_in JOB LO HI: every key of JOB has a TTL in LO..HI; prints them on one line.
all_ttls_in() {
    local lines bad
    lines=$(ttls "$1")
    bad=$(echo "$lines" | awk -v lo="$2" -v hi="$3" 'NF == 2 && ($2 < lo || $2 > hi)')
    echo "$lines" | tr '\n' ';'
    [ -n "$lines" ] && [ -z "$bad" ]
}

# Six keys of the notebook's bucket, zips (with a sidecar) and plain ones, and their answers.
$PY - "$T/data/notebook-expected.tsv" "$T/keys6.txt" "$T/keys6.tsv" <<'PYEOF'
import sys
rows = [l.rstrip('\n').split('\t', 1) for l in open(sys.argv[1], encoding='utf-8')]
zips = [r for r in rows if r[0].endswith('.zip')][:3]
plain = [r for r in rows if not r[0].endswith('.zip')][:3]
six = [zips[0], plain[0], zips[1], plain[1], zips[2], plain[2]]
open(sys.argv[2], 'w').write(''.join(k + '\n' for k, _ in six))
open(sys.argv[3], 'w').write(''.join(k + '\t' + v + '\n' for k, v in six))
PYEOF
mapfile -t K6 <"$T/keys6.txt"
# check_rows JSONL TSV ERRSPEC: the rows are TSV's keys in order; rows named in ERRSPEC
# ("2,3:text|text") are errors whose message holds every text, the others ok with TSV's value.
check_rows() {
    $PY - "$@" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding='utf-8')]
exp = [l.rstrip('\n').split('\t', 1) for l in open(sys.argv[2], encoding='utf-8')]
spec = sys.argv[3] if len(sys.argv) > 3 else ''
errs, texts = set(), []
if spec:
    idx, _, t = spec.partition(':')
    errs = {int(i) for i in idx.split(',')}
    texts = t.split('|')
assert len(rows) == len(exp), '%d rows, want %d' % (len(rows), len(exp))
for i, (r, (k, v)) in enumerate(zip(rows, exp)):
    if i in errs:
        assert r['status'] == 'error' and r['http'] is None, (i, r)
        for t in texts:
            assert t in r['error'], (i, t, r['error'])
    else:
        assert r['key'] == k and r['status'] == 'ok' and r['value'] == v, (i, r, v)
print('%d rows right' % len(rows))
PYEOF
}

start_worker default --concurrency 16
start_worker default --concurrency 16

# ---- in the background: a collector with no worker on its queue says so -----------------
nw_job=$("$SCHED" submit --swift --container "$BUCKET" --keys "$T/keys6.txt" --queue nowork 2>"$T/nw-submit.err")
timeout 60 "$SCHED" collect "$nw_job" --out "$T/nw.csv" 2>"$T/nw.err" &
NWPID=$!
BGPIDS+=($NWPID)

# ---- in the background: a task removed from Redis, beside a dead letter no job can be read from
lost_job=$("$SCHED" submit --swift --container "$BUCKET" --keys "$T/keys6.txt" --batch 3 --queue lostq 2>"$T/lost-submit.err")
rpy "$lost_job" <<'PYEOF'
import os, sys, resp
r = resp.Redis(port=int(os.environ["HAUL_TEST_REDIS_PORT"]))
q = "haul:q:lostq"
t = r.cmd("LPOP", q)                       # the job's task 0 is gone: in no list at all
assert (sys.argv[1] + ":0").encode() in t
r.cmd("RPUSH", q, "this is not a task")    # a dead letter whose job cannot be read
PYEOF
start_worker lostq
lt0=$SECONDS
timeout 90 "$SCHED" collect "$lost_job" --format jsonl --out "$T/lost.jsonl" 2>"$T/lost.err" &
LOSTPID=$!
BGPIDS+=($LOSTPID)

# ---- 1. a sealed task altered in the queue: its keys are error rows, the others answered --
ajob=$("$SCHED" submit --swift --container "$BUCKET" --keys "$T/keys6.txt" --batch 2 --queue alter 2>"$T/a-submit.err")
altered=$(rpy "${K6[2]}" <<'PYEOF'
import os, sys, resp
r = resp.Redis(port=int(os.environ["HAUL_TEST_REDIS_PORT"]))
q, key = "haul:q:alter", sys.argv[1].encode()
for i, t in enumerate(r.cmd("LRANGE", q, 0, -1)):
    if key in t:
        t = bytearray(t)
        j = t.index(key)
        t[j] ^= 0x01                      # 'd' -> 'e': dummy/... -> eummy/...
        r.cmd("LSET", q, i, bytes(t))
        print(t[j:j + len(key)].decode())
        break
PYEOF
)
start_worker alter
timeout 60 "$SCHED" collect "$ajob" --format jsonl --out "$T/a.jsonl" 2>"$T/a.err"; rc=$?
if [ $rc -eq 1 ] && check_rows "$T/a.jsonl" "$T/keys6.tsv" "2,3:task $ajob:1 was dead-lettered|failed authentication" >"$T/a.check" 2>&1 \
   && [ "$($PY -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[2])["key"])' "$T/a.jsonl")" = "$altered" ]; then
    ok "altered task: exit 1, 6 rows, the task's 2 keys error rows ('$(sed -n 3p "$T/a.jsonl" | $PY -c 'import json,sys; print(json.load(sys.stdin)["error"][:110])')...'), 4 sidecars right"
else fail "altered task (exit $rc, altered key '$altered')" "$T/a.check"; cat "$T/a.err"; fi
check "the altered task's first row shows the key as the dead task names it (unauthenticated)" "$altered" \
    "$($PY -c 'import json,sys; print(json.loads(open(sys.argv[1]).readlines()[2])["key"])' "$T/a.jsonl")"
timeout 20 "$SCHED" collect "$ajob" --out "$T/a2.csv" 2>"$T/a2.err"; rc=$?
if [ $rc -eq 2 ] && grep -q "was collected already: its results were trimmed" "$T/a2.err"; then
    ok "collect again after trimming: exit 2, '$(cut -c1-150 "$T/a2.err")...'"
else fail "collect of a trimmed job (exit $rc)" "$T/a2.err"; fi

# ---- 2. the poison-pill cap: a task whose workers died 5 times ---------------------------------
pjob=$("$SCHED" submit --swift --container "$BUCKET" --keys "$T/keys6.txt" --batch 2 --queue poison 2>"$T/p-submit.err")
rpy "$pjob" <<'PYEOF'
import os, sys, resp
r = resp.Redis(port=int(os.environ["HAUL_TEST_REDIS_PORT"]))
t = bytearray(r.cmd("LPOP", "haul:q:poison"))
assert (sys.argv[1] + ":0").encode() in t and t[1:13] == b"\xa1v\x01\xa7attempt\xce", t[:17]
t[13:17] = (4).to_bytes(4, "big")       # delivered 4 times already, to workers that died
r.cmd("RPUSH", "haul:proc:fake-dead", bytes(t))
r.cmd("ZADD", "haul:leases:poison", 1, "fake-dead")   # its lease lapsed long ago
PYEOF
start_worker poison
timeout 60 "$SCHED" collect "$pjob" --max-deliveries 5 --format jsonl --out "$T/p.jsonl" 2>"$T/p.err"; rc=$?
if [ $rc -eq 1 ] && check_rows "$T/p.jsonl" "$T/keys6.tsv" "0,1:task $pjob:0 was dead-lettered|delivered 5 times|poison-pill cap" >"$T/p.check" 2>&1; then
    ok "poison-pill cap: the reaper dead-lettered the task, its 2 keys are error rows, 4 answered, exit 1"
else fail "poison-pill cap (exit $rc)" "$T/p.check"; cat "$T/p.err"; fi

# ---- 3. a listing of a container that does not exist, unchecked: one error row, promptly --
t0=$SECONDS
timeout 60 "$SCHED" run --swift --container no-such-container-here --op list --no-check --format jsonl \
    --out "$T/l404.jsonl" 2>"$T/l404.err"; rc=$?
took=$((SECONDS - t0))
if [ $rc -eq 1 ] && [ "$(wc -l <"$T/l404.jsonl")" -eq 1 ] && $PY - "$T/l404.jsonl" <<'PYEOF'
import json, sys
r = json.loads(open(sys.argv[1]).readline())
assert r['status'] == 'error' and r['http'] == 404 and '404' in r['error'], r
PYEOF
then ok "--op list of a missing container with --no-check: one error row ($(cut -c1-90 "$T/l404.jsonl")...), exit 1 in ${took} s"
else fail "listing of a missing container (exit $rc, ${took} s)" "$T/l404.err"; cat "$T/l404.jsonl"; fi

# ---- 4. the listing count: a row deleted from the stream between worker and collector -------
ljob=$("$SCHED" submit --swift --container "$BUCKET" --op list --queue listq 2>"$T/lc-submit.err")
start_worker listq
LQW=${WPIDS[-1]}
deadline=$((SECONDS + 30))
until rcli XRANGE "haul:res:$ljob" - + | grep -qx eof || [ $SECONDS -ge $deadline ]; do sleep 0.1; done
haul_stop "$LQW"
deleted=$(rpy "$ljob" <<'PYEOF'
import os, sys, resp
r = resp.Redis(port=int(os.environ["HAUL_TEST_REDIS_PORT"]))
s = "haul:res:" + sys.argv[1]
rows = [(i, dict(zip(kv[::2], kv[1::2]))) for i, kv in r.cmd("XRANGE", s, "-", "+")]
listed = [(i, d) for i, d in rows if b"eof" not in d]
i, d = listed[len(listed) // 2]
r.cmd("XDEL", s, i)
print(d[b"key"].decode())
PYEOF
)
timeout 60 "$SCHED" collect "$ljob" --format jsonl --out "$T/lc.jsonl" 2>"$T/lc.err"; rc=$?
if [ $rc -eq 1 ] && $PY - "$T/lc.jsonl" "$deleted" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
ok = [r for r in rows if r['status'] == 'ok']
err = [r for r in rows if r['status'] != 'ok']
assert len(ok) == 79 and sys.argv[2] not in {r['key'] for r in ok}, len(ok)
assert len(err) == 1 and err[0]['error'] == \
    "listing of prefix '' reported 80 entries but 79 rows arrived (rows lost in Redis)", err
PYEOF
then ok "listing count: 79 rows and '$(grep -o "listing of prefix[^\"]*" "$T/lc.jsonl")', exit 1"
else fail "listing count (exit $rc, deleted '$deleted')" "$T/lc.err"; tail -2 "$T/lc.jsonl"; fi

# ---- 5. forged result entries (no MAC, a wrong MAC) are dropped and counted -------------------
fjob=$("$SCHED" submit --swift --container "$BUCKET" --keys "$T/keys6.txt" --batch 2 --queue forge 2>"$T/f-submit.err")
rcli XADD "haul:res:$fjob" NOMKSTREAM '*' key "${K6[0]}" i 0 status ok http 200 value FORGED bytes 6 \
    worker evil task "$fjob:0" >/dev/null
rcli XADD "haul:res:$fjob" NOMKSTREAM '*' key "${K6[1]}" i 1 status ok http 200 value FORGED bytes 6 \
    worker evil task "$fjob:0" mac 0123456789abcdef0123456789abcdef >/dev/null
start_worker forge
timeout 60 "$SCHED" collect "$fjob" --format jsonl --out "$T/f.jsonl" 2>"$T/f.err"; rc=$?
if [ $rc -eq 0 ] && check_rows "$T/f.jsonl" "$T/keys6.tsv" >"$T/f.check" 2>&1 \
   && grep -q "2 result entries dropped: their MAC did not verify" "$T/f.err" \
   && grep -q "2 forged entries dropped" "$T/f.err"; then
    ok "forged rows: both dropped (no MAC, wrong MAC), said at the end and in the summary; 6 real rows, exit 0"
else fail "forged rows (exit $rc)" "$T/f.check"; cat "$T/f.err"; fi

# ---- 6. the window: 100,000 no-request keys, --max-queued 50, against the whole job at once --
$PY -c 'import sys
with open(sys.argv[1], "w") as f:
    for i in range(100000): f.write("win/obj-%06d.dat\n" % i)' "$T/win-keys.txt"
start_worker win --concurrency 32
start_worker win --concurrency 32
# sample OUT: LLEN haul:q:win and Redis used_memory every 10 ms until OUT.stop exists.
sample() {
    rpy "$1" <<'PYEOF' &
import os, sys, time, resp
r = resp.Redis(port=int(os.environ["HAUL_TEST_REDIS_PORT"]))
out = sys.argv[1]
def mem():
    for l in r.cmd("INFO", "memory").decode().splitlines():
        if l.startswith("used_memory:"): return int(l.split(":")[1])
base = mem(); peak = base; qmax = 0; n = 0
while not os.path.exists(out + ".stop"):
    qmax = max(qmax, r.cmd("LLEN", "haul:q:win")); peak = max(peak, mem()); n += 1
    time.sleep(0.01)
open(out, "w").write("%d %d %d %d\n" % (base, peak, qmax, n))
PYEOF
    SAMPLER=$!
}
win_run() { # NAME OPTIONS...
    local name=$1; shift
    sample "$T/$name.mem"
    sleep 0.2
    "$SCHED" run --swift --container "$BUCKET" --keys "$T/win-keys.txt" --queue win --batch 16 "$@" \
        --out "$T/$name.csv" 2>"$T/$name.err"
    WRC=$?
    touch "$T/$name.mem.stop"; wait "$SAMPLER"
    WJOB=$(grep -o 'job [0-9a-f-]* submitted' "$T/$name.err" | awk '{print $2}')
}
win_rows_ok() {
    $PY - "$1" <<'PYEOF'
import sys
lines = open(sys.argv[1]).read().split("\n")
assert lines[0] == "key,status,http,value,bytes,error,verified" and lines[-1] == "", lines[:2]
rows = lines[1:-1]
assert len(rows) == 100000, len(rows)
for i, l in enumerate(rows):
    assert l == 'win/obj-%06d.dat,ok,,"",,,none' % i, (i, l)
PYEOF
}
win_run window --max-queued 50
read -r base1 peak1 qmax1 n1 <"$T/window.mem"
xlen1=$(rcli XLEN "haul:res:$WJOB")
if [ $WRC -eq 0 ] && win_rows_ok "$T/window.csv" >"$T/window.check" 2>&1 && [ "$qmax1" -le 50 ] && [ "$xlen1" -eq 0 ]; then
    ok "window: 100,000 rows right; haul:q:win never above 50 tasks ($qmax1 at most, $n1 samples); stream trimmed to $xlen1 entries ($(grep -o '[0-9]* keys/s' "$T/window.err"))"
else fail "window (exit $WRC, queue up to $qmax1, XLEN $xlen1)" "$T/window.check"; tail -3 "$T/window.err"; fi
wjob1=$WJOB
win_run whole --max-queued 0 --keep-results
read -r base2 peak2 qmax2 _ <"$T/whole.mem"
rcli DEL "haul:res:$WJOB" >/dev/null
d1=$((peak1 - base1)) d2=$((peak2 - base2))
if [ $WRC -eq 0 ] && win_rows_ok "$T/whole.csv" >"$T/whole.check" 2>&1 && [ $((d1 * 4)) -lt "$d2" ]; then
    ok "Redis used_memory peak above idle: $((d1 / 1024)) KiB with the window and trimming, $((d2 / 1024)) KiB for the whole job at once and results kept (queue up to $qmax2 tasks)"
else fail "window memory (exit $WRC): $d1 bytes with the window, $d2 without" "$T/whole.check"; fi

# ---- 7. every key a job makes expires ------------------------------------------------------
# collected (the window job; and one with duplicate runs)
if all_ttls_in "$wjob1" 86000 86400 >"$T/ttl1.txt"; then
    ok "collected: every key of the job has the retention's TTL: $(cat "$T/ttl1.txt")"
else fail "TTLs after run: $(cat "$T/ttl1.txt")"; fi
"$SCHED" run --swift --container "$BUCKET" --keys "$T/keys6.txt" --repeat 3 --retention 500 --out "$T/rep.csv" 2>"$T/rep.err"; rc=$?
djob=$(grep -o 'job [0-9a-f-]* submitted' "$T/rep.err" | awk '{print $2}')
if [ $rc -eq 0 ] && [ "$(rcli EXISTS "haul:dup:$djob")" = 1 ] && all_ttls_in "$djob" 400 500 >"$T/ttl2.txt" \
   && [ "$(($(wc -l <"$T/rep.csv") - 1))" -eq 18 ]; then
    ok "collected with --repeat 3: 18 rows; job, results and duplicate runs expire: $(cat "$T/ttl2.txt")"
else fail "TTLs of a job with duplicate runs (exit $rc): $(cat "$T/ttl2.txt")" "$T/rep.err"; fi
# cancelled
cjob=$("$SCHED" submit --swift --container "$BUCKET" --keys "$T/keys6.txt" --repeat 2 --queue idle --job-ttl 7200 2>/dev/null)
"$SCHED" cancel "$cjob" --retention 300 >/dev/null 2>&1; rc=$?
if [ $rc -eq 0 ] && [ "$(rcli HGET "haul:job:$cjob" state)" = cancelled ] && all_ttls_in "$cjob" 200 300 >"$T/ttl3.txt" \
   && [ "$(rcli SISMEMBER haul:cancelled "$cjob")" = 1 ]; then
    ok "cancelled: state cancelled, in haul:cancelled, every key expires in the retention: $(cat "$T/ttl3.txt")"
else fail "TTLs after cancel (exit $rc): $(cat "$T/ttl3.txt")"; fi
# failed while being submitted (a key over 1024 bytes, after the first tasks)
{ head -4 "$T/keys6.txt"; head -c 2000 /dev/zero | tr '\0' x; echo; tail -2 "$T/keys6.txt"; } >"$T/badkeys.txt"
fjob2=$("$SCHED" submit --swift --container "$BUCKET" --keys "$T/badkeys.txt" --batch 2 --queue idle --retention 600 2>"$T/fail.err"); rc=$?
if [ $rc -eq 2 ] && grep -q "key 5 is 2000 bytes long; the limit is 1024" "$T/fail.err" \
   && [ "$(rcli HGET "haul:job:$fjob2" state)" = failed ] && all_ttls_in "$fjob2" 500 600 >"$T/ttl4.txt"; then
    ok "failed submission: exit 2, '$(grep -o 'key 5 is.*' "$T/fail.err")', state failed, keys expire: $(cat "$T/ttl4.txt")"
else fail "failed submission (exit $rc, job '$fjob2'): $(cat "$T/ttl4.txt" 2>/dev/null)" "$T/fail.err"; fi
# uncollected
ujob=$("$SCHED" submit --swift --container "$BUCKET" --keys "$T/keys6.txt" --queue idle --job-ttl 3600 2>/dev/null)
if all_ttls_in "$ujob" 3500 3600 >"$T/ttl5.txt"; then
    ok "submitted, never collected: every key expires with --job-ttl: $(cat "$T/ttl5.txt")"
else fail "TTLs of an uncollected job: $(cat "$T/ttl5.txt")"; fi
# abandoned mid-submission: SIGKILL while the window is full (no worker on the queue)
$PY -c 'import sys
with open(sys.argv[1], "w") as f:
    f.write("dup/a.dat\ndup/b.dat\ndup/a.dat\n")
    for i in range(20000): f.write("big/obj-%05d.dat\n" % i)' "$T/big-keys.txt"
"$SCHED" submit --swift --container "$BUCKET" --keys "$T/big-keys.txt" --queue idle2 --max-queued 5 \
    --job-ttl 9000 >"$T/big.out" 2>"$T/big.err" &
bpid=$!
deadline=$((SECONDS + 20)); bjob=""
while [ $SECONDS -lt $deadline ]; do
    bjob=$(head -1 "$T/big.out" 2>/dev/null)
    [ -n "$bjob" ] && [ "$(rcli HGET "haul:job:$bjob" rows)" -gt 0 ] 2>/dev/null && \
        [ "$(rcli LLEN haul:q:idle2)" -eq 5 ] && break
    sleep 0.1
done
kill -9 $bpid; wait $bpid 2>/dev/null
if [ -n "$bjob" ] && [ "$(rcli HGET "haul:job:$bjob" state)" = submitting ] && [ "$(rcli EXISTS "haul:dup:$bjob")" = 1 ] \
   && all_ttls_in "$bjob" 8800 9000 >"$T/ttl6.txt"; then
    ok "submitter SIGKILLed mid-submission: left 'submitting', every key still expires: $(cat "$T/ttl6.txt")"
else fail "TTLs of an abandoned submission (job '$bjob'): $(cat "$T/ttl6.txt" 2>/dev/null)" "$T/big.err"; fi
timeout 20 "$SCHED" collect "$bjob" --out "$T/big.csv" 2>"$T/bigc.err"; rc=$?
if [ $rc -eq 2 ] && grep -q "job $bjob was left 'submitting': its submitter (.*) is no longer running after queueing" "$T/bigc.err"; then
    ok "collect of a job left 'submitting': exit 2, '$(cut -c17-250 "$T/bigc.err")...'"
else fail "collect of a job left submitting (exit $rc)" "$T/bigc.err"; fi
# a results stream deleted (--retention 0) is not brought back by a late result
"$SCHED" run --swift --container "$BUCKET" --keys "$T/keys6.txt" --retention 0 --out "$T/r0.csv" 2>"$T/r0.err"
r0job=$(grep -o 'job [0-9a-f-]* submitted' "$T/r0.err" | awk '{print $2}')
late=$(rcli XADD "haul:res:$r0job" NOMKSTREAM '*' key late i 0 status ok)
if [ -n "$r0job" ] && [ "$(rcli EXISTS "haul:res:$r0job" "haul:job:$r0job" "haul:dup:$r0job")" = 0 ] && [ -z "$late" ] \
   && [ -z "$(rcli ZSCORE haul:jobs "$r0job")" ]; then
    ok "--retention 0: the job's keys deleted at once; a late XADD NOMKSTREAM does not bring the stream back"
else fail "late result after --retention 0 (job '$r0job', XADD said '$late')"; fi
# ids of vanished jobs are pruned from haul:jobs and haul:cancelled by the next submit
rcli ZADD haul:jobs 1 20000101-000000-deadbeef >/dev/null
rcli SADD haul:cancelled 20000101-000000-deadbeef >/dev/null
"$SCHED" submit --swift --container "$BUCKET" --keys "$T/keys6.txt" --queue idle >/dev/null 2>&1
if [ -z "$(rcli ZSCORE haul:jobs 20000101-000000-deadbeef)" ] && [ "$(rcli SISMEMBER haul:cancelled 20000101-000000-deadbeef)" = 0 ] \
   && [ "$(rcli SISMEMBER haul:cancelled "$cjob")" = 1 ]; then
    ok "the next submit pruned a vanished job's id from haul:jobs and haul:cancelled (a live one kept)"
else fail "pruning haul:jobs / haul:cancelled"; fi

# ---- 8. bucket names are checked before anything is queued -----------------------------------
njobs=$(rcli ZCARD haul:jobs)
"$SCHED" submit --swift --bucket 'a/b' --keys "$T/keys6.txt" --queue names >/dev/null 2>"$T/n1.err"; rc1=$?
"$SCHED" submit --s3 "$HAUL_TEST_S3" --access-key test:tester --secret-key testing --virtual-host \
    --bucket 'evil.example:8080/x?' --keys "$T/keys6.txt" --queue names >/dev/null 2>"$T/n2.err"; rc2=$?
"$SCHED" submit --swift --bucket "$BUCKET" --max-inline 65M --keys "$T/keys6.txt" --queue names >/dev/null 2>"$T/n3.err"; rc3=$?
if [ $rc1 -eq 2 ] && grep -q "haul-scheduler: --bucket: bucket name 'a/b' holds '/' at byte 1" "$T/n1.err" \
   && [ $rc2 -eq 2 ] && grep -q "bucket name 'evil.example:8080/x?' holds ':' at byte 12: with --virtual-host" "$T/n2.err" \
   && [ $rc3 -eq 2 ] && grep -q -- "--max-inline: 68157440 is out of range (0..67108864 bytes, 64 MiB)" "$T/n3.err" \
   && [ "$(rcli ZCARD haul:jobs)" = "$njobs" ] && [ "$(rcli EXISTS haul:q:names)" = 0 ]; then
    ok "bucket names and --max-inline refused, exit 2, nothing made in Redis:"
    sed 's/^/       /' "$T/n1.err" "$T/n2.err" "$T/n3.err" | cut -c1-200
else fail "bucket names (exit $rc1/$rc2/$rc3)"; cat "$T/n1.err" "$T/n2.err" "$T/n3.err"; fi

# ---- the background collectors -------------------------------------------------------------
deadline=$((SECONDS + 30))
until grep -q "no live worker on queue 'nowork'" "$T/nw.err" || [ $SECONDS -ge $deadline ]; do sleep 0.2; done
"$SCHED" cancel "$nw_job" >/dev/null 2>&1
wait $NWPID; nrc=$?
if grep -q "job $nw_job: no progress for 1[0-9] s and no live worker on queue 'nowork' (1 tasks waiting): start haul-worker" "$T/nw.err" \
   && [ $nrc -eq 2 ] && grep -q "was cancelled" "$T/nw.err"; then
    ok "a collector with no worker on its queue said so: '$(grep -o 'no progress.*' "$T/nw.err" | head -1 | cut -c1-120)'"
else fail "no-worker report (collect exit $nrc)" "$T/nw.err"; fi
wait $LOSTPID; lrc=$?
if [ $lrc -eq 2 ] && grep -q "job $lost_job cannot complete: 3 keys have no result and their tasks are in no queue and held by no worker; 1 dead letter(s) on queue 'lostq' could not be attributed" "$T/lost.err" \
   && grep -q "reason=task: not a msgpack map (first byte 0x74)" "$T/lost.err" \
   && [ "$(rcli HGET "haul:job:$lost_job" state)" = failed ]; then
    ok "task lost beside an unreadable dead letter: exit 2 after $((SECONDS - lt0)) s, naming it: '$(cut -c17-300 "$T/lost.err" | tail -1)...'"
else fail "lost task (exit $lrc)" "$T/lost.err"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
