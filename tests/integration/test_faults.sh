#!/usr/bin/env bash
# Per-key retries under injected faults, end to end: redis-server, the Swift single node
# (tempauth + s3api), two haul-workers, and tests/lib/faultproxy.py -- a TEST TOOL, a
# fault-injecting reverse proxy -- between the workers and Swift.  Jobs are given the proxy's
# address as their store; the proxy forwards to the real Swift proxy and, for a seeded random
# share of object GETs, answers 503/429/401 itself, resets the connection (RST) before
# answering, truncates the body (RST half-way), or stalls 2 s and then answers normally.
#
# Swift through the proxy: ST_AUTH names the fault proxy.  The proxy forwards the Host header
# unchanged and tempauth builds the storage URL from it, so X-Storage-Url already points at the
# proxy (the proxy would also rewrite an X-Storage-Url naming the upstream's address).  This
# way the auth path (auth, token cache, re-auth on 401) is the one users run, not
# --token/--storage-url; check (e) verifies the object GETs did pass through the proxy.
#
# The accounting in (b): every haul attempt at a key is one GET at the proxy, except that
# libcurl itself re-sends a request once on a fresh connection when a *reused* connection dies
# before any byte of the answer (an injected reset on a kept-alive connection).  So
#   object GETs at the proxy - sum(tries) = resets absorbed by libcurl
#                                         = failing faults - failed attempts,
# and 0 <= absorbed <= resets; 503, 429 and truncations are always seen by haul.
#
# Settings: HAUL_FAULT_SEED (default 1) seeds every proxy; HAUL_KEEP=1 keeps the files.
# shellcheck disable=SC2154  # gets, faults, retries, ...: set by eval "$(account ...)"
set -u
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
. tests/lib/servers.sh
. tests/lib/seed.sh
. tests/lib/testlib.sh

PY=/usr/bin/python3
BUCKET=LSST-IR-FUSION-testfromopenstack
SCHED=$TOP/bin/haul-scheduler
WORKER=$TOP/bin/haul-worker
FAULTPROXY=$TOP/tests/lib/faultproxy.py
SEED=${HAUL_FAULT_SEED:-1}

WPIDS=() FP_PID="" JOBS=()
test_stop() {
    [ -n "$FP_PID" ] && kill -TERM "$FP_PID" 2>/dev/null
    for p in "${WPIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${WPIDS[@]}"; do wait "$p" 2>/dev/null; done
}
haul_test_begin faults --seed
R=$HAUL_TEST_REDIS_URL
# Every check below reads the jobs' result streams after the run (tries, duplicates): the
# collector keeps them (--keep-results) instead of trimming what it has written.
export HAUL_KEEP_RESULTS=1
UPSTREAM=127.0.0.1:$HAUL_TEST_SWIFT_PORT

start_workers() {
    local n=$1 i
    for i in $(seq 1 "$n"); do
        "$WORKER" --redis "$R" --concurrency 16 --out-root "$T" --log-level debug >>"$T/worker$i.log" 2>&1 &
        WPIDS+=($!)
    done
}
stop_workers() {
    [ ${#WPIDS[@]} -gt 0 ] && haul_stop "${WPIDS[@]}"
    WPIDS=()
}

# start_proxy NAME FAULT-FLAGS...: a fault proxy in front of Swift on a free port (the kernel's
# choice: it binds port 0 itself, so no other process can take it between pick and bind).
# Sets FP_PORT, FP_URL, FP_NAME; its log and counts go to $T/fp-NAME.{log,json}.
start_proxy() {
    FP_NAME=$1; shift
    rm -f "$T/fp-$FP_NAME.port"
    # shellcheck disable=SC2094  # the proxy appends its log lines and any traceback to one file
    "$PY" "$FAULTPROXY" --upstream "$UPSTREAM" --listen 127.0.0.1:0 --seed "$SEED" \
        --ready-file "$T/fp-$FP_NAME.port" --log "$T/fp-$FP_NAME.log" --counts "$T/fp-$FP_NAME.json" \
        "$@" 2>>"$T/fp-$FP_NAME.log" &
    FP_PID=$!
    local deadline=$((SECONDS + 10))
    while [ ! -s "$T/fp-$FP_NAME.port" ]; do
        if ! kill -0 "$FP_PID" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
            echo "FAIL fault proxy $FP_NAME did not start"; cat "$T/fp-$FP_NAME.log"; exit 1
        fi
        sleep 0.02
    done
    FP_PORT=$(<"$T/fp-$FP_NAME.port")
    FP_URL=http://127.0.0.1:$FP_PORT
}
# stop_proxy: TERM; the proxy writes its final counts to $T/fp-NAME.json on the way out.
stop_proxy() {
    [ -n "$FP_PID" ] || return 0
    kill -TERM "$FP_PID" 2>/dev/null; wait "$FP_PID" 2>/dev/null; FP_PID=""
}

s3env()    { env -u ST_AUTH AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing "$@"; }
swiftenv() { env ST_AUTH="$FP_URL/auth/v1.0" ST_USER=test:tester ST_KEY=testing "$@"; }
now() { date +%s.%N; }
secs() { awk "BEGIN{printf \"%.2f\", $2 - $1}"; }
jobof() { grep -o 'job [0-9a-f-]* submitted' "$1" | head -1 | awk '{print $2}'; }

# stream JOB OUT: every entry of haul:res:JOB as one JSON object per line (duplicates kept), read
# with a minimal RESP client so that no field (tries, attempt, ...) is lost on the way.
stream() {
    "$PY" - "$HAUL_TEST_REDIS_PORT" "haul:res:$1" >"$2" <<'PYEOF'
import json, socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
f = s.makefile("rb")
def cmd(*a):
    s.sendall(b"*%d\r\n" % len(a) + b"".join(b"$%d\r\n%s\r\n" % (len(x), x) for x in (y.encode() for y in a)))
    return reply()
def reply():
    line = f.readline().rstrip(b"\r\n"); t, rest = line[:1], line[1:]
    if t in (b"+", b":"): return rest
    if t == b"-": sys.exit("redis: " + rest.decode())
    if t == b"$": n = int(rest); return None if n < 0 else f.read(n + 2)[:-2]
    if t == b"*": n = int(rest); return None if n < 0 else [reply() for _ in range(n)]
    sys.exit("redis: unexpected reply %r" % line)
last = "-"
while True:
    entries = cmd("XRANGE", sys.argv[2], last, "+", "COUNT", "1000")
    if not entries: break
    for eid, kv in entries:
        d = {kv[j].decode(): kv[j + 1].decode("utf-8", "replace") for j in range(0, len(kv), 2)}
        d["_id"] = eid.decode()
        print(json.dumps(d))
    last = "(" + entries[-1][0].decode()
PYEOF
}

# account NAME STREAM: the retry arithmetic of one sidecar job (keys ending .zip make one GET
# per attempt; the others make no request) against proxy NAME's counts.  Prints key=value
# lines for the shell.
account() {
    "$PY" - "$T/fp-$1.json" "$2" <<'PYEOF'
import json, sys
c = json.load(open(sys.argv[1]))
rows = [json.loads(l) for l in open(sys.argv[2])]
z = [r for r in rows if r["key"].endswith(".zip")]
have = all("tries" in r for r in rows)
tries = sum(int(r.get("tries", 0)) for r in z)
failed_attempts = sum(int(r.get("tries", 0)) - (r["status"] == "ok") for r in z)
retries = sum(max(0, int(r.get("tries", 0)) - 1) for r in rows)
f = c["faults"]
ffail = sum(v for k, v in f.items() if k != "stall")
seen_always = sum(v for k, v in f.items() if k not in ("stall", "reset"))
out = dict(have_tries=int(have), rows=len(rows), gets=c["candidates"], sum_tries=tries,
           failed_attempts=failed_attempts, retries=retries, faults=c["faults_total"],
           failing_faults=ffail, always_seen=seen_always, resets=f.get("reset", 0),
           absorbed=c["candidates"] - tries, absorbed2=ffail - failed_attempts,
           maxtries=max([int(r.get("tries", 0)) for r in rows] or [0]),
           kinds=",".join("%s:%d" % kv for kv in sorted(f.items())) or "none",
           requests=c["requests"], never=c["never_matched"],
           upstream=",".join("%s:%d" % kv for kv in sorted(c["upstream_status"].items())))
for k, v in out.items():
    print("%s=%s" % (k, v))
PYEOF
}

start_workers 2

# (a) + (b): the notebook job over S3 with ~20% of the sidecar GETs faulted.
# --max-attempts 10, not the default 4: about 18% of requests fail here, so a key fails all 4
# attempts with p = 0.18^4 = 1/950, and one of the 160 sidecar GETs does in ~15% of runs (seen:
# collated_4 got 429, truncate, 429, truncate).  With 10 attempts: p ~ 5e-6 per run.
start_proxy s3 --p503 0.07 --p429 0.04 --preset 0.04 --ptruncate 0.02 --pstall 0.03 --stall-seconds 2
t0=$(now)
s3env "$SCHED" run --redis "$R" --s3 "$FP_URL" --region us-east-1 --bucket "$BUCKET" --prefix dummy \
    --op sidecar --repeat 10 --no-coalesce --max-attempts 10 --format jsonl --out "$T/a.jsonl" 2>"$T/a.err"
rc=$?
t1=$(now)
stop_proxy
job=$(jobof "$T/a.err"); JOBS+=("$job")
if [ $rc -eq 0 ] && $PY tests/lib/check_results.py "$T/a.jsonl" "$T/data/notebook-expected.tsv" 10 >"$T/a.check"; then
    ok "(a) notebook job over S3 through the fault proxy: 800 answers correct, exit 0 ($(secs "$t0" "$t1") s)"
else
    fail "(a) notebook job over S3 through the fault proxy (exit $rc)" "$T/a.check"; tail -3 "$T/a.err"
fi
stream "$job" "$T/a.stream"
eval "$(account s3 "$T/a.stream")"
echo "  proxy: $gets sidecar GETs, $faults faults ($kinds); haul: $sum_tries attempts, $retries retries" \
     "(tries-1 summed), $failed_attempts failed attempts, max tries $maxtries; libcurl re-sent $absorbed"
if [ "$have_tries" = 1 ] && [ "$retries" -gt 0 ] && [ "$retries" -ge "$always_seen" ] \
   && [ "$absorbed" -eq "$absorbed2" ] && [ "$absorbed" -ge 0 ] && [ "$absorbed" -le "$resets" ]; then
    ok "(b) retries counted: $retries retries >= $always_seen faults haul must see (503/429/truncate); $failing_faults failing faults = $failed_attempts failed attempts + $absorbed resets re-sent by libcurl"
else
    fail "(b) retry accounting: have_tries=$have_tries retries=$retries always_seen=$always_seen absorbed=$absorbed/$absorbed2 resets=$resets; upstream answered $upstream"
fi
# The stream has 'tries' on every entry; the scheduler's JSON Lines should carry it too.
if $PY - "$T/a.jsonl" "$T/a.stream" >"$T/a.jsonl-tries" <<'PYEOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
st = {}
for l in open(sys.argv[2]):
    e = json.loads(l); st.setdefault((e["task"], e["key"]), e)
bad = [r for r in rows if "tries" not in r or str(r["tries"]) != st[(r["task"], r["key"])].get("tries")]
if bad:
    print("  %d of %d rows lack tries or differ from the stream, e.g. %s" % (len(bad), len(rows), json.dumps(bad[0])))
    sys.exit(1)
PYEOF
then ok "JSON Lines rows carry 'tries', equal to the stream's"
else fail "JSON Lines rows carry 'tries' (haul:res entries do; haul-scheduler's rows do not)" "$T/a.jsonl-tries"; fi
# Faults went to object GETs only: the listing and the check went through the proxy unharmed.
if [ "$requests" -gt "$gets" ] && ! grep 'fault=' "$T/fp-s3.log" | grep -vq "fault=[a-z0-9]* GET /$BUCKET/dummy/collated_[0-9]*\.zip\.metadata "; then
    ok "proxy faulted only object GETs ($((requests - gets)) listing/check requests passed untouched)"
else fail "proxy fault targets" "$T/fp-s3.log"; fi

# (c) Permanent errors are not retried, while other keys of the same job are.
# Missing keys are exempt from faults (--never), so their one request reaches Swift: 404, and
# the proxy must see exactly one request per missing key.
{ for k in 0 1 2 3 4 7; do echo "dummy/collated_$k.zip"; echo "dummy/no-such-$k.zip"; done
  for k in 59 60 61 62 63 64 65 66; do echo "dummy/collated_$k.zip"; done; } >"$T/c-keys.txt"
start_proxy c --p503 0.15 --p429 0.05 --never 'no-such'
s3env "$SCHED" run --redis "$R" --s3 "$FP_URL" --bucket "$BUCKET" --keys "$T/c-keys.txt" --op sidecar \
    --max-attempts 10 --format jsonl --out "$T/c.jsonl" 2>"$T/c.err"
rc=$?
stop_proxy
job=$(jobof "$T/c.err"); JOBS+=("$job")
stream "$job" "$T/c.stream"
eval "$(account c "$T/c.stream")"
if [ $rc -eq 1 ] && [ "$never" -eq 6 ] && $PY - "$T/c.stream" "$T/c.jsonl" "$T/data/notebook-expected.tsv" >"$T/c.check" <<'PYEOF'
import json, sys
st = [json.loads(l) for l in open(sys.argv[1])]
rows = [json.loads(l) for l in open(sys.argv[2])]
exp = dict(l.rstrip("\n").split("\t", 1) for l in open(sys.argv[3]))
assert len(rows) == 20 and len(st) == 20, (len(rows), len(st))
for e in st:
    if "no-such" in e["key"]:
        assert e["status"] == "error" and e["http"] == "404" and e["tries"] == "1", e
    else:
        assert e["status"] == "ok" and e["value"] == exp[e["key"]], e
for r in rows:
    if "no-such" in r["key"]:
        assert r["status"] == "error" and r["http"] == 404 and "404" in r["error"], r
PYEOF
then ok "(c) 404 not retried: 6 missing keys -> error, http 404, tries 1, one request each; the 14 others ok (retries $retries, faults $kinds)"
else fail "(c) 404 not retried (exit $rc, proxy saw $never requests for missing keys)" "$T/c.check"; fi

# (c') A bad signature (wrong secret, --no-check): 403 SignatureDoesNotMatch, not retried either.
start_proxy c2 --p503 0.2 --never 'no-such'
env -u ST_AUTH AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=WrongSecret123 \
    "$SCHED" run --redis "$R" --s3 "$FP_URL" --bucket "$BUCKET" --keys <(grep no-such "$T/c-keys.txt") \
    --op sidecar --no-check --max-attempts 10 --format jsonl --out "$T/c2.jsonl" 2>"$T/c2.err"
rc=$?
stop_proxy
job=$(jobof "$T/c2.err"); JOBS+=("$job")
stream "$job" "$T/c2.stream"
eval "$(account c2 "$T/c2.stream")"
if [ $rc -eq 1 ] && [ "$never" -eq 6 ] && $PY - "$T/c2.stream" >"$T/c2.check" <<'PYEOF'
import json, sys
st = [json.loads(l) for l in open(sys.argv[1])]
assert len(st) == 6, len(st)
for e in st:
    assert e["status"] == "error" and e["http"] == "403" and e["tries"] == "1", e
    assert "SignatureDoesNotMatch" in e.get("error", ""), e
PYEOF
then ok "(c) bad signature not retried: 6 keys -> error, http 403 SignatureDoesNotMatch, tries 1, one request each"
else fail "(c) bad signature not retried (exit $rc, $never requests for 6 keys)" "$T/c2.check"; fi

# (d) --max-attempts 1 caps the attempts: half the GETs get 503, and each of those keys is an
# error row with http 503 after exactly one try; the proxy's 503 count equals the error rows.
start_proxy d --p503 0.5
s3env "$SCHED" run --redis "$R" --s3 "$FP_URL" --bucket "$BUCKET" --prefix dummy --op sidecar \
    --repeat 5 --no-coalesce --max-attempts 1 --format jsonl --out "$T/d.jsonl" 2>"$T/d.err"
rc=$?
stop_proxy
job=$(jobof "$T/d.err"); JOBS+=("$job")
stream "$job" "$T/d.stream"
eval "$(account d "$T/d.stream")"
n503=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["faults"].get("503", 0))' "$T/fp-d.json")
if [ $rc -eq 1 ] && $PY - "$T/d.stream" "$T/data/notebook-expected.tsv" "$n503" >"$T/d.check" <<'PYEOF'
import json, sys
st = [json.loads(l) for l in open(sys.argv[1])]
exp = dict(l.rstrip("\n").split("\t", 1) for l in open(sys.argv[2]))
errs = [e for e in st if e["status"] != "ok"]
assert len(st) == 400, len(st)
assert all(e["tries"] == "1" for e in st), [e for e in st if e["tries"] != "1"][:1]
assert errs and all(e["http"] == "503" for e in errs), errs[:1]
assert len(errs) == int(sys.argv[3]), (len(errs), sys.argv[3])
assert all(e["value"] == exp[e["key"]] for e in st if e["status"] == "ok")
print("  %d error rows" % len(errs))
PYEOF
then ok "(d) --max-attempts 1: $n503 of $gets GETs got 503 -> $n503 error rows, http 503, tries 1; every other answer correct"
else fail "(d) --max-attempts 1 (exit $rc, $n503 injected 503s, max tries $maxtries)" "$T/d.check"; fi

# (e) The notebook job over Swift through the proxy: auth and listing pass, object GETs get
# ~20% faults, 3% of them a 401 (the worker authenticates again, once, within the attempt).
start_proxy swift --p503 0.06 --p429 0.04 --pcode 401=0.03 --preset 0.04 --ptruncate 0.02 --pstall 0.02 --stall-seconds 2
t0=$(now)
swiftenv "$SCHED" run --redis "$R" --swift --container "$BUCKET" --prefix dummy --op sidecar \
    --repeat 10 --no-coalesce --max-attempts 10 --format jsonl --out "$T/e.jsonl" 2>"$T/e.err"
rc=$?
t1=$(now)
stop_proxy
job=$(jobof "$T/e.err"); JOBS+=("$job")
stream "$job" "$T/e.stream"
eval "$(account swift "$T/e.stream")"
reauths=$(cat "$T"/worker*.log | grep -c "refused with 401; authenticated again")
if [ $rc -eq 0 ] && [ "$gets" -ge 160 ] && [ "$faults" -gt 0 ] && [ "$retries" -gt 0 ] \
   && $PY tests/lib/check_results.py "$T/e.jsonl" "$T/data/notebook-expected.tsv" 10 >"$T/e.check"; then
    ok "(e) notebook job over Swift through the fault proxy: 800 answers correct, exit 0 ($(secs "$t0" "$t1") s)"
    echo "  proxy: $gets object GETs, $faults faults ($kinds); haul: $sum_tries attempts, $retries retries, $reauths re-auth(s)"
else
    fail "(e) notebook job over Swift through the fault proxy (exit $rc, $gets GETs via proxy, $faults faults, $retries retries)" "$T/e.check"
    tail -3 "$T/e.err"
fi

# (f) A body corrupted on the way: every object GET through this proxy has one byte of its
# body flipped, its headers (the ETag) intact. Verified, each is an error worth another
# attempt; with --ignore-checksum (the length alone checked) each is taken as it came.
start_proxy flip --pflip 1
grep '\.zip$' "$T/data/notebook-keys.txt" | head -3 >"$T/f-keys.txt"
swiftenv "$SCHED" run --redis "$R" --swift --container "$BUCKET" --keys "$T/f-keys.txt" --op get \
    --max-inline 0 --out-dir "$T/f1" --max-attempts 2 --format jsonl --out "$T/f1.jsonl" 2>"$T/f1.err"
rc1=$?
JOBS+=("$(jobof "$T/f1.err")")
swiftenv "$SCHED" run --redis "$R" --swift --container "$BUCKET" --keys "$T/f-keys.txt" --op get \
    --max-inline 0 --out-dir "$T/f2" --max-attempts 2 --ignore-checksum --format jsonl --out "$T/f2.jsonl" 2>"$T/f2.err"
rc2=$?
JOBS+=("$(jobof "$T/f2.err")")
stop_proxy
nerr=$(grep -c '"status":"error".*MD5 is .*the ETag .*download is corrupt.*"verified":"none".*"tries":2' "$T/f1.jsonl")
nok=$(grep -c '"status":"ok","http":200.*"verified":"none"' "$T/f2.jsonl")
ndiff=0
while IFS= read -r k; do
    [ -f "$T/f2/$k" ] && [ "$(stat -c %s "$T/f2/$k")" = "$(stat -c %s "$T/data/objects/$k")" ] \
        && [ "$(cmp -l "$T/f2/$k" "$T/data/objects/$k" | wc -l)" = 1 ] && ndiff=$((ndiff + 1))
done <"$T/f-keys.txt"
if [ $rc1 -eq 1 ] && [ "$nerr" = 3 ] && [ "$(find "$T/f1" -type f 2>/dev/null | wc -l)" = 0 ] \
   && [ $rc2 -eq 0 ] && [ "$nok" = 3 ] && [ "$ndiff" = 3 ]; then
    ok "(f) one byte flipped in transit: 3 error rows after 2 tries, no file; with --ignore-checksum 3 ok rows (verified none), each file that one byte off"
else
    fail "(f) bodies flipped in transit (exits $rc1/$rc2, $nerr error rows, $nok ok rows, $ndiff files one byte off)" "$T/f1.jsonl"
    cat "$T/f2.jsonl"
fi
"$SCHED" run --redis "$R" --swift --container "$BUCKET" --keys "$T/f-keys.txt" --op head --ignore-checksum \
    --out /dev/null 2>"$T/f3.err"
rc=$?
if [ $rc -eq 2 ] && grep -q -- '--ignore-checksum is for --op get and --op sidecar, not --op head' "$T/f3.err"; then
    ok "--ignore-checksum with --op head: refused with a sentence, exit 2"
else fail "--ignore-checksum with --op head (exit $rc)" "$T/f3.err"; fi

# (g) The store named by a host name, not an address: each worker resolves it (curl's
# threaded resolver watches a socketpair it closes itself, and the connection opened next
# takes its descriptor number), and resets close connections all along, so the workers'
# watchers of curl's sockets are dropped and made again many times. The machine's own name
# is used where it resolves to a loopback address (no /etc/hosts is changed).
HN=$(hostname)
if getent ahostsv4 "$HN" 2>/dev/null | awk '{print $1}' | grep -q '^127\.'; then
    start_proxy byname --preset 0.1 --p503 0.05
    env ST_AUTH="http://$HN:$FP_PORT/auth/v1.0" ST_USER=test:tester ST_KEY=testing timeout 120 \
        "$SCHED" run --redis "$R" --swift --container "$BUCKET" --prefix dummy --op sidecar --repeat 10 \
        --no-coalesce --max-attempts 10 --format jsonl --out "$T/g.jsonl" 2>"$T/g.err"
    rc=$?
    stop_proxy
    JOBS+=("$(jobof "$T/g.err")")
    nres=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["faults"].get("reset", 0))' "$T/fp-byname.json")
    # A watcher left on a descriptor that was closed and reused shows as a failed epoll_ctl.
    nerr=$(cat "$T"/worker*.log | grep -c "epoll_ctl")
    if [ $rc -eq 0 ] && [ "$nres" -gt 5 ] && [ "$nerr" -eq 0 ] \
       && $PY tests/lib/check_results.py "$T/g.jsonl" "$T/data/notebook-expected.tsv" 10 >"$T/g.check"; then
        ok "(g) the store as http://$HN:PORT (resolved by each worker), $nres connections reset: 800 answers correct, no epoll_ctl error logged"
    else fail "(g) the store by host name (exit $rc, $nres resets, $nerr epoll_ctl errors logged)" "$T/g.check"; tail -3 "$T/g.err"; fi
else
    echo "skip (g): this machine's name $HN does not resolve to a loopback address"
fi

# The workers' own retry counters (logged when they stop) equal the streams' sum of tries-1.
stop_workers
wretries=$(grep -ho 'keys done, [0-9]* retries' "$T"/worker*.log | awk '{s += $3} END {print s + 0}')
nstop=$(grep -c 'keys done, [0-9]* retries' "$T"/worker*.log | awk -F: '{s += $NF} END {print s + 0}')
sretries=0
for j in "${JOBS[@]}"; do
    stream "$j" "$T/all.stream"
    sretries=$((sretries + $($PY -c 'import json,sys; print(sum(int(json.loads(l).get("tries", 1)) - 1 for l in open(sys.argv[1])))' "$T/all.stream")))
done
if [ "$nstop" -eq 2 ] && [ "$wretries" -eq "$sretries" ]; then
    ok "workers' retry counters ($wretries, from their exit lines) equal the streams' sum of tries-1 over ${#JOBS[@]} jobs"
else fail "workers' retry counters: $wretries in $nstop exit lines, streams say $sretries"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
