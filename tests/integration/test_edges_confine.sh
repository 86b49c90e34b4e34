#!/usr/bin/env bash
# A worker is confined: it contacts only the stores it may, and writes only
# beneath its --out-root.
#  1. An auth server answering a storage URL that is not http(s) (gopher:// and
#     dict:// at the test's Redis and at a sink, file:///etc/passwd) gets every
#     key an error row saying so, and nothing is sent anywhere: Redis holds no
#     key 'pwned', the sink heard nothing. The scheduler's own check refuses
#     such an answer first (exit 2). An http storage URL at the sink is
#     followed: the sink hears it, so the test can see traffic.
#  2. --allow-endpoint: a worker that may not contact the store gives error
#     rows and sends it nothing (counted by a faultproxy in front of it); the
#     same jobs are all ok with the store allowed, by a repeated flag or by
#     HAUL_ALLOW_ENDPOINT.
#  3. A bucket that would change the host name under --virtual-host: refused
#     by the scheduler before it contacts anything, and a task forged with it
#     is dead-lettered by the worker, the sink hearing nothing.
#  4. --out-root: an --out-dir outside it, or through a symbolic link, is
#     refused; relative and absolute ones beneath it work; a symbolic link at a
#     file's name is replaced, its target untouched.
#  5. 24 concurrent writers of one key, and two jobs writing the same files at
#     once: every row ok and verified, the files whole, no temporary file left.
#  6. --fsync: files right, and (with strace) an fsync per file and per
#     directory.
# Real redis-server and Swift (tempauth + s3api); tests/lib/fakeauth.py and
# sinkserver.py only for the hostile auth answers and for hearing traffic.
set -u
cd "$(dirname "$0")/../.."
TOP=$PWD
. tests/lib/servers.sh
. tests/lib/seed.sh
. tests/lib/testlib.sh
PY=/usr/bin/python3
SCHED=$TOP/bin/haul-scheduler WORKER=$TOP/bin/haul-worker
B=confine
WPIDS=() FPIDS=()
t0=$SECONDS
test_stop() {
    [ ${#WPIDS[@]} -gt 0 ] && kill "${WPIDS[@]}" 2>/dev/null
    [ ${#FPIDS[@]} -gt 0 ] && kill "${FPIDS[@]}" 2>/dev/null
}
haul_test_begin edges-confine
haul_seed_special "$B" "$T/data" >/dev/null || { echo "FAIL seeding"; echo "0 passed, 1 failed"; exit 1; }
export HAUL_REDIS_URL=$HAUL_TEST_REDIS_URL
export AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing
unset ST_AUTH ST_USER ST_KEY OS_AUTH_TOKEN OS_STORAGE_URL HAUL_ALLOW_ENDPOINT
RP=$HAUL_TEST_REDIS_PORT
mkdir -p "$T/root"
ROOT=$(realpath "$T/root")

# A fake server in the background; fake_port NAME waits for its "port=N".
start_fake() { local name=$1; shift; "$PY" "$@" >"$T/$name.out" 2>>"$T/$name.err" & FPIDS+=($!); }
fake_port() {
    local d=$((SECONDS + 15)) p
    while :; do
        p=$(sed -n 's/^port=//p' "$T/$1.out" 2>/dev/null)
        [ -n "$p" ] && { echo "$p"; return 0; }
        [ $SECONDS -ge $d ] && { echo "FAIL $1 did not start" >&2; cat "$T/$1.err" >&2; return 1; }
        sleep 0.05
    done
}
start_worker() { "$@" >>"$T/worker-$N.log" 2>&1 & WPIDS+=($!); N=$((N + 1)); }
N=0

# The sink: records every byte it hears, never answers, closes a silent
# connection after 1 s (so a request it hears fails fast).
start_fake sink tests/lib/sinkserver.py --out "$T/sink.bytes" --conn-file "$T/sink.conns" \
    --idle-close 1 --log "$T/sink.log"
SINK=$(fake_port sink) || exit 1
sink_heard() { echo "$(cat "$T/sink.conns") connections, $(stat -c %s "$T/sink.bytes") bytes"; }

# One fake auth server per answer.
declare -A URL=(
    [gopher-redis]="gopher://127.0.0.1:$RP/_SET%20pwned%201"
    [dict-redis]="dict://127.0.0.1:$RP/SET:pwned:1"
    [file]="file:///etc/passwd"
    [gopher-sink]="gopher://127.0.0.1:$SINK/_SET%20pwned%201"
    [dict-sink]="dict://127.0.0.1:$SINK/SET:pwned:1"
    [http-sink]="http://127.0.0.1:$SINK/v1/AUTH_x"
)
HOSTILE="gopher-redis dict-redis file gopher-sink dict-sink"
declare -A AUTH=()
for m in $HOSTILE http-sink; do
    start_fake "fa-$m" tests/lib/fakeauth.py --mode "storage-url=${URL[$m]}" \
        --count-file "$T/fa-$m.count" --log "$T/fa-$m.log"
done
# A faultproxy that injects nothing: it counts what reaches the store through it.
"$PY" tests/lib/faultproxy.py --upstream "127.0.0.1:$HAUL_TEST_SWIFT_PORT" --listen 127.0.0.1:0 \
    --ready-file "$T/fp.ready" --counts "$T/fp.counts" --log "$T/fp.log" --quiet 2>>"$T/fp.err" &
FPP=$!
FPIDS+=("$FPP")
for m in $HOSTILE http-sink; do AUTH[$m]=http://127.0.0.1:$(fake_port "fa-$m")/auth/v1.0 || exit 1; done
d=$((SECONDS + 15)); while [ ! -s "$T/fp.ready" ] && [ $SECONDS -lt $d ]; do sleep 0.05; done
FP=$(cat "$T/fp.ready" 2>/dev/null)
[ -n "$FP" ] || { echo "FAIL faultproxy did not start"; cat "$T/fp.err"; exit 1; }

# The workers: two on the default queue (sections 1, 3, 4, 5), three for the
# allowlist on queues of their own, one with --fsync (under strace when there
# is one).
start_worker "$WORKER" --concurrency 16 --out-root "$T/root"
start_worker "$WORKER" --concurrency 16 --out-root "$T/root"
start_worker "$WORKER" --queue deny --out-root "$T/root" --allow-endpoint 127.0.0.2:1 --allow-endpoint 127.0.0.1:1
start_worker "$WORKER" --queue allowflag --out-root "$T/root" --allow-endpoint 127.0.0.2:1 --allow-endpoint "127.0.0.1:$FP"
start_worker env HAUL_ALLOW_ENDPOINT="127.0.0.2:1,127.0.0.*:$FP" "$WORKER" --queue allowenv --out-root "$T/root"
STRACE=""
if command -v strace >/dev/null 2>&1; then
    STRACE=strace
    start_worker strace -f -qq -y -e trace=fsync,fdatasync -o "$T/fsync.strace" "$WORKER" --queue fsync --fsync --out-root "$T/root"
    SPID=${WPIDS[-1]}
else
    start_worker "$WORKER" --queue fsync --fsync --out-root "$T/root"
fi

# rows FILE STATUS N [TEXT...]: FILE (CSV or JSONL) has exactly N rows, every
# one with STATUS and, for an error, every TEXT in its error. Prints the first
# row's error (or a row that is wrong).
rows() {
    "$PY" - "$@" <<'PYEOF'
import csv, json, sys
path, status, n, texts = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
f = open(path, newline="", encoding="utf-8")
rs = [json.loads(l) for l in f] if path.endswith(".jsonl") else list(csv.DictReader(f))
bad = [r for r in rs if r["status"] != status or any(t not in (r["error"] or "") for t in texts)]
if bad or len(rs) != n:
    print("%d rows (want %d), %d wrong; first wrong: %s" % (len(rs), n, len(bad), bad[:1]))
    sys.exit(1)
print(rs[0]["error"] if status == "error" else "%d rows %s" % (n, status))
PYEOF
}

# files FILE.jsonl DIR N: N rows, every one ok, verified md5, its path DIR/<key>,
# its bytes those of the seeded object; prints how many workers wrote them.
files() {
    "$PY" - "$@" "$T/data/objects" <<'PYEOF'
import json, os, sys
path, d, n, objs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
rs = [json.loads(l) for l in open(path, encoding="utf-8")]
bad = 0
for r in rs:
    want = open(os.path.join(objs, r["key"]), "rb").read()
    ok = (r["status"] == "ok" and r.get("verified") == "md5" and r["path"] == os.path.join(d, r["key"])
          and r["bytes"] == len(want) and os.path.isfile(r["path"]) and not os.path.islink(r["path"])
          and open(r["path"], "rb").read() == want)
    if not ok:
        bad += 1
        if bad <= 3: print("BAD", r)
if len(rs) != n: print("%d rows, want %d" % (len(rs), n)); bad += 1
print("%d rows, %d workers" % (len(rs), len({r["worker"] for r in rs})))
sys.exit(1 if bad else 0)
PYEOF
}
parts_left() { find "$1" -name '.haul-*.part' 2>/dev/null | wc -l; }
qlen() { haul_redis_cli LLEN haul:q:default; }

printf 'k1\nk2\nk3\n' >"$T/k3.txt"
swift_fake() { # swift_fake MODE ARGS...: a Swift job whose auth server is fakeauth MODE
    local m=$1; shift
    timeout 60 "$SCHED" run --swift --auth-url "${AUTH[$m]}" --user u --key k --container c \
        --keys "$T/k3.txt" --op get --max-attempts 1 "$@"
}

# ---- 1. Hostile auth answers ------------------------------------------------
for m in $HOSTILE; do
    url=${URL[$m]}
    sentence="the answer's storage URL '$url' is not http:// or https:// to a host: refusing it"
    swift_fake "$m" --out "$T/pre-$m.csv" 2>"$T/pre-$m.err"
    rc=$?
    if [ $rc -eq 2 ] && grep -qF "haul-scheduler: Swift auth at ${AUTH[$m]} as u: $sentence" "$T/pre-$m.err" \
       && [ "$(qlen)" -eq 0 ]; then
        ok "$m: the scheduler's check refuses storage URL $url (exit 2, nothing queued)"
    else fail "$m: scheduler without --no-check (exit $rc, queue $(qlen))" "$T/pre-$m.err"; fi
    swift_fake "$m" --no-check --out "$T/auth-$m.csv" 2>"$T/auth-$m.err"
    rc=$?
    if [ $rc -eq 1 ] && rows "$T/auth-$m.csv" error 3 "Swift auth at ${AUTH[$m]} as u" "$sentence" >"$T/auth-$m.check"; then
        ok "$m: every key an error row: $(cut -c1-150 "$T/auth-$m.check")"
    else fail "$m: workers given storage URL $url (exit $rc)" "$T/auth-$m.check"; cat "$T/auth-$m.err"; fi
done
asked=""
for m in $HOSTILE; do asked="$asked $(cat "$T/fa-$m.count")"; done
others=$(haul_redis_cli --raw KEYS '*' | grep -v '^haul:' | tr '\n' ' ')
pwned=$(haul_redis_cli EXISTS pwned)
if [ "$pwned" = 0 ] && [ -z "$others" ] && ! echo "$asked" | grep -qw '[01]'; then
    ok "afterwards Redis holds no 'pwned' and no key outside haul:* (DBSIZE $(haul_redis_cli DBSIZE)); each fake auth server was asked (counts:$asked)"
else fail "Redis after hostile storage URLs: EXISTS pwned=$pwned, other keys '$others', auth counts$asked"; fi
check "the sink heard nothing from gopher:// and dict:// storage URLs" "0 connections, 0 bytes" "$(sink_heard)"

# ---- 2. Endpoint allowlist --------------------------------------------------
# fp_counts: "REQUESTS CONNECTIONS" that reached the faultproxy, written now.
fp_usr1=0
fp_counts() {
    fp_usr1=$((fp_usr1 + 1))
    kill -USR1 "$FPP"
    "$PY" - "$T/fp.counts" "$fp_usr1" <<'PYEOF'
import json, sys, time
for _ in range(200):
    try:
        c = json.load(open(sys.argv[1]))
        if c.get("usr1", 0) >= int(sys.argv[2]):
            print(c["requests"], c["connections"]); sys.exit(0)
    except (OSError, ValueError):
        pass
    time.sleep(0.05)
print("? ?")
PYEOF
}
grep '\.txt$' "$T/data/special-keys.txt" >"$T/txt-keys.txt"
while IFS= read -r k; do printf '%s\t%s\n' "$k" "$(cat "$T/data/objects/$k")"; done <"$T/txt-keys.txt" >"$T/txt-expected.tsv"
ntxt=$(wc -l <"$T/txt-keys.txt")
allow_jobs() { # allow_jobs QUEUE: the same get over S3 and over Swift, through the faultproxy
    "$SCHED" run --no-check --queue "$1" --s3 "http://127.0.0.1:$FP" --bucket "$B" --keys "$T/txt-keys.txt" \
        --op get --max-attempts 1 --out "$T/al-$1-s3.csv" 2>"$T/al-$1-s3.err"
    echo $? >"$T/al-$1-s3.rc"
    "$SCHED" run --no-check --queue "$1" --swift --auth-url "http://127.0.0.1:$FP/auth/v1.0" --user test:tester \
        --key testing --container "$B" --keys "$T/txt-keys.txt" --op get --max-attempts 1 \
        --out "$T/al-$1-swift.csv" 2>"$T/al-$1-swift.err"
    echo $? >"$T/al-$1-swift.rc"
}
before=$(fp_counts)
allow_jobs deny
after=$(fp_counts)
for api in s3 swift; do
    rc=$(cat "$T/al-deny-$api.rc")
    if [ "$rc" = 1 ] && rows "$T/al-deny-$api.csv" error "$ntxt" \
        "127.0.0.1:$FP is not an endpoint this worker may contact (--allow-endpoint 127.0.0.2:1,127.0.0.1:1)" \
        >"$T/al-deny-$api.check"; then
        ok "--allow-endpoint 127.0.0.2:1 --allow-endpoint 127.0.0.1:1, $api: every key an error row: $(cut -c1-140 "$T/al-deny-$api.check")"
    else fail "denied endpoint over $api (exit $rc)" "$T/al-deny-$api.check"; cat "$T/al-deny-$api.err"; fi
done
check "the store (through the faultproxy) got nothing from the denied worker (requests, connections)" "0 0" "$after"
for q in allowflag allowenv; do
    allow_jobs "$q"
    for api in s3 swift; do
        rc=$(cat "$T/al-$q-$api.rc")
        if [ "$rc" = 0 ] && "$PY" tests/lib/check_results.py "$T/al-$q-$api.csv" "$T/txt-expected.tsv" 1 >"$T/al-$q-$api.check"; then
            ok "$q ($([ $q = allowflag ] && echo "--allow-endpoint repeated, the second 127.0.0.1:$FP" || echo "HAUL_ALLOW_ENDPOINT=127.0.0.2:1,127.0.0.*:$FP")), $api: all $ntxt keys ok, bodies right"
        else fail "allowed endpoint, $q over $api (exit $rc)" "$T/al-$q-$api.check"; cat "$T/al-$q-$api.err"; fi
    done
done
final=$(fp_counts)
if [ "${final%% *}" != "?" ] && [ "${final%% *}" -gt 0 ]; then
    ok "the allowed workers' requests did reach the faultproxy (requests connections: $final; before the denied jobs $before)"
else fail "faultproxy counts after the allowed jobs: $final"; fi

# ---- 3. A bucket that would change the host name ----------------------------
vh_bucket="127.0.0.1:$SINK/x?"
timeout 60 "$SCHED" run --s3 "$HAUL_TEST_S3" --virtual-host --bucket "$vh_bucket" --keys "$T/k3.txt" --op get \
    --out "$T/vh-sink.csv" 2>"$T/vh-sink.err"
rc=$?
heard=$(sink_heard)
if [ $rc -eq 2 ] && grep -qF "bucket name '$vh_bucket' holds ':' at byte 9: with --virtual-host the bucket becomes part of the host name" "$T/vh-sink.err" \
   && [ "$(qlen)" -eq 0 ] && [ "$heard" = "0 connections, 0 bytes" ]; then
    ok "scheduler --virtual-host --bucket '$vh_bucket': exit 2 before contacting anything (sink: $heard): $(grep -o "bucket name.*" "$T/vh-sink.err" | cut -c1-100)"
    timeout 60 "$SCHED" run --s3 "$HAUL_TEST_S3" --virtual-host --bucket 'evil.example:8080/x?' --keys "$T/k3.txt" --op get \
        --out "$T/vh-evil.csv" 2>"$T/vh-evil.err"
    rc=$?
    if [ $rc -eq 2 ] && grep -qF "bucket name 'evil.example:8080/x?' holds ':' at byte 12: with --virtual-host the bucket becomes part of the host name" "$T/vh-evil.err" \
       && [ "$(qlen)" -eq 0 ]; then
        ok "scheduler --virtual-host --bucket 'evil.example:8080/x?': exit 2, nothing queued"
    else fail "scheduler with bucket 'evil.example:8080/x?' (exit $rc, queue $(qlen))" "$T/vh-evil.err"; fi
else
    fail "scheduler --virtual-host --bucket '$vh_bucket' (exit $rc, queue $(qlen), sink: $heard)" "$T/vh-sink.err"
    fail "scheduler with bucket 'evil.example:8080/x?': not run (it would have tried to resolve evil.example)"
fi
# Forged tasks in the clear: a control the workers run (path-style, a real
# bucket, so the forging is shown to make tasks a worker takes), then the same
# with path_style false and the sink in the bucket. (The control cannot be a
# virtual-host task: "confine.127.0.0.1" would be a DNS query.)
forge() { # forge JOB BUCKET PATH_STYLE: push a head task for special/a b.txt; prints its bytes' hex
    HAUL_TEST_REDIS_PORT=$RP PYTHONPATH=$TOP/tests/lib "$PY" - "$@" "$HAUL_TEST_S3" <<'PYEOF'
import os, sys, time, msgpack, resp
job, bucket, path_style, endpoint = sys.argv[1], sys.argv[2], sys.argv[3] == "1", sys.argv[4]
pk = lambda v: msgpack.packb(v, use_bin_type=True)
conn = {"kind": "s3", "tls_verify": True, "ca_file": None, "endpoint": endpoint,
        "region": "us-east-1", "access_key": "test:tester", "secret_key": "testing",
        "session_token": None, "path_style": path_style}
rest = [("id", job + ":0"), ("job", job), ("op", "head"), ("conn", conn), ("bucket", bucket),
        ("args", {"max_inline": 65536, "out_dir": None, "suffixes": [], "sidecar_ext": None,
                  "max_attempts": 1}),
        ("first", 0), ("keys", ["special/a b.txt"]), ("created", int(time.time() * 1000))]
# v first, attempt second as a uint32: the layout the reaper relies on (docs/protocol.md).
task = bytes([0x80 | (2 + len(rest))]) + pk("v") + pk(1) + pk("attempt") + b"\xce\0\0\0\0" \
    + b"".join(pk(k) + pk(v) for k, v in rest)
r = resp.Redis(port=int(os.environ["HAUL_TEST_REDIS_PORT"]))
r.cmd("XADD", "haul:res:" + job, "MAXLEN", "0", "*", "type", "job")
r.cmd("RPUSH", "haul:q:default", task)
print(task.hex())
PYEOF
}
wait_for() { local d=$((SECONDS + 15)); while ! eval "$1" && [ $SECONDS -lt $d ]; do sleep 0.1; done; eval "$1"; }
forge forged-ok "$B" 1 >/dev/null
if wait_for '[ "$(haul_redis_cli XLEN haul:res:forged-ok)" -ge 1 ]' \
   && haul_redis_cli XRANGE haul:res:forged-ok - + | grep -qx ok; then
    ok "a task forged by hand (path-style, bucket $B) is run: its result is in haul:res:forged-ok"
else fail "the control forged task was not run"; haul_redis_cli XRANGE haul:res:forged-ok - +; fi
dead0=$(haul_redis_cli LLEN haul:dead:default) # read by wait_for's eval
hex=$(forge forged-vh "$vh_bucket" 0)
if wait_for '[ "$(haul_redis_cli LLEN haul:dead:default)" -gt "$dead0" ]'; then
    haul_redis_cli --raw LINDEX haul:dead:default -1 >"$T/dead.txt"
    reason=$(head -1 "$T/dead.txt")
    # The dead letter keeps the task's bytes as they were, after the reason line.
    kept=$(HAUL_TEST_REDIS_PORT=$RP PYTHONPATH=$TOP/tests/lib "$PY" -c "
import os, resp
b = resp.Redis(port=int(os.environ['HAUL_TEST_REDIS_PORT'])).cmd('LINDEX', 'haul:dead:default', -1)
print(b[b.index(b'\n') + 1:].hex())")
else reason="(no dead letter)" kept=""; fi
if echo "$reason" | grep -qF "reason=task field 'bucket': bucket name '$vh_bucket' holds ':' at byte 9: with --virtual-host the bucket becomes part of the host name" \
   && [ "$kept" = "$hex" ] && [ "$(haul_redis_cli XLEN haul:res:forged-vh)" -eq 0 ]; then
    ok "the forged task with path_style false and bucket '$vh_bucket' is dead-lettered, bytes kept: $(echo "$reason" | cut -c1-140)"
else fail "forged virtual-host task: dead letter '$reason', bytes kept: $([ "$kept" = "$hex" ] && echo yes || echo no)"; fi
check "the sink heard nothing from the scheduler or the forged task" "0 connections, 0 bytes" "$(sink_heard)"

# ... and an http storage URL at the sink is followed: the sink hears the
# request, so the checks of 0 bytes above could have seen one.
swift_fake http-sink --no-check --out "$T/auth-http-sink.csv" 2>"$T/auth-http-sink.err"
rc=$?
if [ $rc -eq 1 ] && rows "$T/auth-http-sink.csv" error 3 "Swift GET c/k" "127.0.0.1:$SINK/v1/AUTH_x/c/k" >"$T/auth-http.check" \
   && grep -aq "^GET /v1/AUTH_x/c/k1 HTTP/1.1" "$T/sink.bytes" && grep -aq "^X-Auth-Token: AUTH_tkfake" "$T/sink.bytes"; then
    ok "an http:// storage URL is followed: the sink heard $(sink_heard), e.g. '$(grep -a -m1 '^GET /v1/AUTH_x/' "$T/sink.bytes" | tr -d '\r')'"
else fail "http storage URL at the sink (exit $rc, sink: $(sink_heard))" "$T/auth-http.check"; fi

# ---- 4. --out-root ----------------------------------------------------------
nsp=$(wc -l <"$T/data/special-keys.txt")
getjob() { # getjob OUT-DIR NAME [ARGS...]: get every special key to files under OUT-DIR
    local dir=$1 name=$2; shift 2
    "$SCHED" run --swift --auth-url "$HAUL_TEST_ST_AUTH" --user test:tester --key testing --container "$B" \
        --keys "$T/data/special-keys.txt" --op get --max-inline 0 --out-dir "$dir" --max-attempts 1 \
        --format jsonl --out "$T/$name.jsonl" "$@" 2>"$T/$name.err"
}
getjob "$T/elsewhere" elsewhere
rc=$?
if [ $rc -eq 1 ] && rows "$T/elsewhere.jsonl" error "$nsp" "--out-dir $T/elsewhere is outside this worker's --out-root $ROOT" >"$T/elsewhere.check" \
   && [ ! -e "$T/elsewhere" ]; then
    ok "--out-dir outside the root: every key an error row, nothing made there: $(cut -c1-150 "$T/elsewhere.check")"
else fail "--out-dir outside --out-root (exit $rc; $T/elsewhere $([ -e "$T/elsewhere" ] && echo exists || echo absent))" "$T/elsewhere.check"; fi
mkdir -p "$T/outside" "$T/root/trap"
ln -s "$T/outside" "$T/root/link"
ln -s "$T/outside" "$T/root/trap/special"
for how in link trap; do
    if [ $how = link ]; then dir=$T/root/link; else dir="trap"; fi
    getjob "$dir" "sym-$how"
    rc=$?
    if [ $rc -eq 1 ] && rows "$T/sym-$how.jsonl" error "$nsp" "symbolic link" >"$T/sym-$how.check" \
       && [ -z "$(ls -A "$T/outside")" ]; then
        ok "--out-dir $dir ($([ $how = link ] && echo "a symlink to $T/outside" || echo "relative; its 'special' a symlink out")): error rows, $T/outside empty: $(cut -c1-120 "$T/sym-$how.check")"
    else fail "--out-dir through a symbolic link, $dir (exit $rc; in outside: $(ls -A "$T/outside" | head -3 | tr '\n' ' '))" "$T/sym-$how.check"; fi
done
getjob sub rel
rc=$?
if [ $rc -eq 0 ] && files "$T/rel.jsonl" "$ROOT/sub" "$nsp" >"$T/rel.check"; then
    ok "relative --out-dir sub: every file in $ROOT/sub/<key>, bytes equal, verified md5 ($(tail -1 "$T/rel.check"))"
else fail "relative --out-dir (exit $rc)" "$T/rel.check"; fi
getjob "$T/root/abs" abs
rc=$?
if [ $rc -eq 0 ] && files "$T/abs.jsonl" "$ROOT/abs" "$nsp" >"$T/abs.check"; then
    ok "absolute --out-dir beneath the root: every file right ($(tail -1 "$T/abs.check"))"
else fail "absolute --out-dir beneath --out-root (exit $rc)" "$T/abs.check"; fi
# A symbolic link where a key's file goes is replaced, not written through.
mkdir -p "$T/root/rep/special"
printf 'the victim\n' >"$T/outside/victim"
ln -s "$T/outside/victim" "$T/root/rep/special/big.bin"
echo special/big.bin >"$T/big-key.txt"
getjob "$T/root/rep" rep --keys "$T/big-key.txt"
rc=$?
if [ $rc -eq 0 ] && files "$T/rep.jsonl" "$ROOT/rep" 1 >"$T/rep.check" && [ ! -L "$T/root/rep/special/big.bin" ] \
   && [ "$(cat "$T/outside/victim")" = "the victim" ] && [ "$(ls -A "$T/outside")" = victim ]; then
    ok "a symlink at the file's name (to $T/outside/victim) is replaced by the file; its target is untouched"
else fail "symlink at the target name (exit $rc; $(ls -l "$T/root/rep/special/big.bin"); victim: $(head -c 40 "$T/outside/victim"))" "$T/rep.check"; fi

# ---- 5. Concurrent writers of one file ---------------------------------------
for _ in $(seq 24); do echo special/big.bin; done >"$T/key24.txt"
getjob "$T/root/same" same24 --keys "$T/key24.txt" --no-coalesce --batch 1
rc=$?
if [ $rc -eq 0 ] && files "$T/same24.jsonl" "$ROOT/same" 24 >"$T/same24.check" \
   && [ "$(parts_left "$T/root/same")" -eq 0 ] && [ "$(ls -A "$T/root/same/special")" = big.bin ]; then
    ok "24 writers of special/big.bin (300000 bytes; --no-coalesce --batch 1, 2 workers x 16): 24 rows ok and md5-verified, the file whole, no .haul-*.part left ($(tail -1 "$T/same24.check"))"
else fail "24 concurrent writers (exit $rc; temporary files left: $(parts_left "$T/root/same"); $(ls -A "$T/root/same/special" | tr '\n' ' '))" "$T/same24.check"; fi
for _ in 1 2 3; do cat "$T/data/special-keys.txt"; done >"$T/keys3x.txt"
getjob "$T/root/par" par1 --keys "$T/keys3x.txt" --no-coalesce --batch 2 &
p1=$!
getjob "$T/root/par" par2 --keys "$T/keys3x.txt" --no-coalesce --batch 2 &
p2=$!
wait $p1; rc1=$?
wait $p2; rc2=$?
if [ $rc1 -eq 0 ] && [ $rc2 -eq 0 ] && files "$T/par1.jsonl" "$ROOT/par" $((3 * nsp)) >"$T/par.check" \
   && files "$T/par2.jsonl" "$ROOT/par" $((3 * nsp)) >>"$T/par.check" \
   && [ "$(parts_left "$T/root/par")" -eq 0 ] && [ "$(find "$T/root/par" -type f | wc -l)" -eq "$nsp" ]; then
    ok "two jobs at once writing the same $nsp keys 3 times each into one --out-dir: all ok, files whole, $nsp files and no temporary one"
else fail "two parallel jobs into one --out-dir (exit $rc1/$rc2; temporary files left: $(parts_left "$T/root/par"))" "$T/par.check"; fi

# ---- 6. --fsync -------------------------------------------------------------
getjob "$T/root/fs" fsync --queue fsync
rc=$?
if [ $rc -eq 0 ] && files "$T/fsync.jsonl" "$ROOT/fs" "$nsp" >"$T/fsync.check"; then
    ok "--fsync: every file right ($(tail -1 "$T/fsync.check"))"
else fail "--fsync worker (exit $rc)" "$T/fsync.check"; fi
if [ -z "$STRACE" ]; then
    echo "skip fsync calls: strace is not installed (apt-get install strace)"
else
    # Stop the traced worker so strace has written everything.
    wpid=$(pgrep -P "$SPID" | head -1)
    [ -n "$wpid" ] && haul_stop "$wpid"
    wait "$SPID" 2>/dev/null
    "$PY" - "$T/fsync.strace" "$T/fsync.jsonl" "$ROOT/fs" >"$T/fsync-calls.check" <<'PYEOF'
import json, os, re, sys
# strace shows the bytes of a path outside printable ASCII as octal escapes.
unesc = lambda b: re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), b).decode("utf-8", "replace")
calls = [unesc(m.group(1)) for m in (re.search(rb"\bfsync\(\d+<(.*)>\)\s+= 0", l)
                                        for l in open(sys.argv[1], "rb")) if m]
files = [json.loads(l)["path"] for l in open(sys.argv[2], encoding="utf-8")]
tmp = [c for c in calls if re.search(r"/\.haul-[0-9]+-[0-9]+\.part$", c)]
dirs = [c for c in calls if c not in tmp]
want_dirs = sorted(os.path.dirname(f) for f in files)
# One fsync of each temporary file (in its file's directory), one of each file's directory.
ok = (len(tmp) == len(files) and sorted(os.path.dirname(c) for c in tmp) == want_dirs
      and sorted(dirs) == want_dirs)
print("%d fsync calls: %d of temporary files, %d of directories, for %d files" % (len(calls), len(tmp), len(dirs), len(files)))
if not ok: print("calls:", calls)
sys.exit(0 if ok else 1)
PYEOF
    if [ $? -eq 0 ]; then ok "--fsync under strace: $(head -1 "$T/fsync-calls.check")"
    else fail "--fsync calls" "$T/fsync-calls.check"; fi
fi

if ! grep -q testing "$T"/worker-*.log "$T"/*.err 2>/dev/null; then ok "no secret in worker logs or scheduler messages"
else fail "a secret in the logs: $(grep -l testing "$T"/worker-*.log "$T"/*.err | tr '\n' ' ')"; fi
echo "($((SECONDS - t0)) s)"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
