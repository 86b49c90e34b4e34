#!/usr/bin/env bash
# Large objects fetched in parts (worker/ranged.c), against real Swift
# (tempauth + s3api) and a real redis-server: with --part-size 1M every
# object above 1 MiB is cut into ranged GETs run at once, written into one
# file, and verified as a single stream would be -- a plain object by its
# MD5, Swift SLOs and DLOs by their segments, an S3 multipart upload by its
# parts. Checked: the bytes of every file; `verified`; that the parts were
# really asked for (the worker's debug line, and Range requests seen by a
# proxy); parts cut short mid-body are resumed; a byte corrupted on the
# store's disk is an error row and no file; a server that ignores Range
# (Python's http.server, a real one) is fetched in one stream after the
# worker notices.
set -u
cd "$(dirname "$0")/../.."
TOP=$PWD
. tests/lib/servers.sh
. tests/lib/seed_segmented.sh
. tests/lib/testlib.sh
PY=/usr/bin/python3
SCHED=$TOP/bin/haul-scheduler WORKER=$TOP/bin/haul-worker
B=rangetest B2=rangecorrupt
WPIDS=() PIDS=()
test_stop() {
    [ ${#WPIDS[@]} -gt 0 ] && kill "${WPIDS[@]}" 2>/dev/null
    [ ${#PIDS[@]} -gt 0 ] && kill "${PIDS[@]}" 2>/dev/null
}
haul_test_begin ranged
haul_seed_segmented "$B" "$T/seg" || { echo "FAIL seeding segmented objects"; echo "0 passed, 1 failed"; exit 1; }
R=$HAUL_TEST_REDIS_URL
export HAUL_REDIS_URL=$R
s3env()    { env -u ST_AUTH AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing "$@"; }

# A 24 MiB + 3 bytes plain object beside the segmented ones: 25 parts.
BIG=$((24 * 1048576 + 3))
head -c $BIG /dev/urandom >"$T/big.bin"
haul_swift_put "$B" big.bin "$T/big.bin" || fail "uploading big.bin"
cp "$T/seg/segmented-expected.tsv" "$T/expected.tsv"
printf 'big.bin\t%s\t%s\tplain\n' $BIG "$(md5sum <"$T/big.bin" | cut -c1-32)" >>"$T/expected.tsv"
cut -f1 "$T/expected.tsv" >"$T/keys.txt"

for i in 1 2; do
    "$WORKER" --concurrency 8 --part-size 1M --part-streams 3 --log-level debug --out-root "$T" \
        >>"$T/worker$i.log" 2>&1 &
    WPIDS+=($!)
done

# jsonl_check FILE EXPECTED-TSV WANT: every row ok, its file of the expected
# size and MD5, and `verified` as WANT says ("kind=how,...").
jsonl_check() {
    $PY - "$@" <<'PYEOF'
import hashlib, json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
exp = {}
for line in open(sys.argv[2]):
    k, size, md5, kind = line.rstrip("\n").split("\t")
    exp[k] = (int(size), md5, kind)
want = dict(kv.split("=") for kv in sys.argv[3].split(","))
bad = 0
for r in rows:
    size, md5, kind = exp[r["key"]]
    body = open(r["path"], "rb").read() if r.get("path") else b""
    got = hashlib.md5(body).hexdigest()
    ok = r["status"] == "ok" and r["bytes"] == size and len(body) == size and got == md5 \
        and r.get("verified") == want[kind]
    print("%-4s %-14s %-5s verified=%-8s bytes=%s md5=%s %s" % ("ok" if ok else "BAD", r["key"], kind,
          r.get("verified"), r["bytes"], "=" if got == md5 else got, r.get("error", "")))
    bad += not ok
if len(rows) != len(exp): print("rows: %d, want %d" % (len(rows), len(exp))); bad += 1
sys.exit(1 if bad else 0)
PYEOF
}

# 1. Over Swift: every object above 1 MiB in parts, each verified as a whole.
swiftenv "$SCHED" run --swift --container "$B" --keys "$T/keys.txt" --op get --max-inline 0 --batch 1 \
    --out-dir "$T/swift" --format jsonl --out "$T/swift.jsonl" 2>"$T/swift.err"
rc=$?
if [ $rc -eq 0 ] && jsonl_check "$T/swift.jsonl" "$T/expected.tsv" \
        "slo=segments,dlo=segments,mpu=segments,plain=md5" >"$T/swift.check" \
   && grep -q "$BIG bytes in 25 parts of 1048576, 3 streams" "$T"/worker*.log \
   && grep -q "11534336 bytes in 11 parts of 1048576, 3 streams" "$T"/worker*.log; then
    ok "get over Swift in 1 MiB parts (big.bin: 25 parts, 3 streams beside the first): SLO, DLO, multipart by their segments, plain by MD5; bytes equal"
    sed 's/^/       /' "$T/swift.check"
else fail "get over Swift in parts (exit $rc)" "$T/swift.check"; grep -h "parts of" "$T"/worker*.log | head; cat "$T/swift.err"; fi

# 2. Over S3: the multipart object by its parts, plain by MD5 (SLO and DLO
#    have nothing to check over S3: ok, verified none).
s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket "$B" --keys "$T/keys.txt" --op get --max-inline 0 --batch 1 \
    --out-dir "$T/s3" --format jsonl --out "$T/s3.jsonl" 2>"$T/s3.err"
rc=$?
if [ $rc -eq 0 ] && jsonl_check "$T/s3.jsonl" "$T/expected.tsv" \
        "slo=none,dlo=none,mpu=parts,plain=md5" >"$T/s3.check"; then
    ok "get over S3 in parts: multipart verified by its parts, plain by MD5, SLO and DLO ok; bytes equal"
    sed 's/^/       /' "$T/s3.check"
else fail "get over S3 in parts (exit $rc)" "$T/s3.check"; cat "$T/s3.err"; fi

# 3. Parts cut short: a proxy (a test tool) truncates a fifth of the object
#    GETs half-way through their body and resets the connection; the parts
#    resume from their last byte.
$PY tests/lib/faultproxy.py --upstream "127.0.0.1:$HAUL_TEST_SWIFT_PORT" --listen 127.0.0.1:0 \
    --ptruncate 0.2 --seed 11 --log-all --ready-file "$T/fp.port" --log "$T/fp.log" \
    --counts "$T/fp.counts" 2>>"$T/fp.log" &
PIDS+=($!)
wait_file "$T/fp.port" || fail "faultproxy did not start"
FP=$(cat "$T/fp.port")
printf 'big.bin\nmultipart.bin\nslo.bin\n' >"$T/cut-keys.txt"
grep -E '^(big|multipart|slo)\.bin' "$T/expected.tsv" >"$T/cut-expected.tsv"
env ST_AUTH="http://127.0.0.1:$FP/auth/v1.0" ST_USER=test:tester ST_KEY=testing \
    "$SCHED" run --swift --container "$B" --keys "$T/cut-keys.txt" --op get --max-inline 0 --batch 1 \
    --max-attempts 6 --out-dir "$T/cut" --format jsonl --out "$T/cut.jsonl" 2>"$T/cut.err"
rc=$?
sleep 1.2
truncs=$($PY -c 'import json,sys; print(json.load(open(sys.argv[1]))["faults"].get("truncate", 0))' "$T/fp.counts" 2>/dev/null || echo 0)
ranged=$(grep -c "pass=206 GET " "$T/fp.log")
if [ $rc -eq 0 ] && jsonl_check "$T/cut.jsonl" "$T/cut-expected.tsv" "slo=segments,mpu=segments,plain=md5" \
        >"$T/cut.check" && [ "$truncs" -ge 3 ] && [ "$ranged" -ge 30 ] \
   && grep -q "cut short at" "$T"/worker*.log; then
    ok "parts cut short mid-body ($truncs truncated, $ranged ranged GETs answered 206): resumed, bytes equal, verified"
else fail "parts cut short (exit $rc, $truncs truncated, $ranged answered 206)" "$T/cut.check"; cat "$T/cut.err"; fi

# 4. A byte corrupted on the store's disk, in the middle of big.bin: its
#    part is served as is (a ranged GET is not checked by the object
#    server), the whole MD5 does not match: an error row, no file.
haul_swift_mkcontainer "$B2" && haul_swift_put "$B2" big.bin "$T/big.bin" || fail "second copy"
$PY - "/AUTH_test/$B2/big.bin" "$T/big.bin" "$T/srv/srv" <<'PYEOF' >/dev/null || fail "corrupting big.bin"
import os, sys
from swift.obj.diskfile import read_metadata
prefix, want = sys.argv[1], open(sys.argv[2], "rb").read()
for root, _, files in os.walk(sys.argv[3]):
    for f in files:
        if not f.endswith(".data"): continue
        p = os.path.join(root, f)
        with open(p, "rb") as fp:
            name = read_metadata(fp).get("name", "")
        if not name.startswith(prefix) or open(p, "rb").read() != want: continue
        b = bytearray(want)
        b[len(b) // 2] ^= 0xff
        open(p, "r+b").write(b)
        print(p)
        sys.exit(0)
sys.exit(1)
PYEOF
echo big.bin >"$T/one.txt"
swiftenv "$SCHED" run --swift --container "$B2" --keys "$T/one.txt" --op get --max-inline 0 --max-attempts 1 \
    --out-dir "$T/corrupt" --format jsonl --out "$T/corrupt.jsonl" 2>"$T/corrupt.err"
rc=$?
if [ $rc -eq 1 ] && grep -q '"key":"big.bin","status":"error".*MD5 is .*the ETag .*download is corrupt' "$T/corrupt.jsonl" \
   && [ "$(find "$T/corrupt" -type f 2>/dev/null | wc -l)" -eq 0 ]; then
    ok "a byte corrupted on disk in a part's middle: error row ($(grep -o '"error":"[^"]*"' "$T/corrupt.jsonl" | cut -c10-110)...), no file left"
else fail "corrupted big object (exit $rc)" "$T/corrupt.jsonl"; cat "$T/corrupt.err"; fi

# 5. A server that ignores Range (Python's http.server answers every GET
#    whole, without an ETag): the worker notices once, and the next attempt
#    fetches the object in one stream.
mkdir -p "$T/www/plainbucket"
cp "$T/big.bin" "$T/www/plainbucket/big.bin"
HP=$(haul_free_port)
(cd "$T/www" && exec $PY -m http.server "$HP" --bind 127.0.0.1) >"$T/http.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$HP/" && break; sleep 0.1; done
s3env "$SCHED" run --s3 "http://127.0.0.1:$HP" --bucket plainbucket --keys "$T/one.txt" --no-check \
    --op get --max-inline 0 --max-attempts 3 --out-dir "$T/norange" --format jsonl --out "$T/norange.jsonl" \
    2>"$T/norange.err"
rc=$?
if [ $rc -eq 0 ] && grep -q '"status":"ok"' "$T/norange.jsonl" && cmp -s "$T/big.bin" "$T/norange/big.bin" \
   && grep -q "127.0.0.1:$HP answers a ranged GET with the whole object" "$T"/worker*.log \
   && [ "$(grep -c '"GET /plainbucket/big.bin' "$T/http.log")" -ge 3 ]; then
    ok "a server ignoring Range: noticed once, the object fetched in one stream on the next attempt, bytes equal"
else fail "server ignoring Range (exit $rc)" "$T/norange.jsonl"; cat "$T/norange.err"; grep -h "Range\|ranged" "$T"/worker*.log | head -3; fi

# 6. Memory: no body held whole (the workers fetched 24 MiB objects).
peak=$(for p in "${WPIDS[@]}"; do awk '/VmHWM/ {print $2}' "/proc/$p/status"; done | sort -n | tail -1)
if [ -n "${HAUL_SANITIZER:-}" ]; then
    ok "worker peak RSS not judged under the sanitizers ($HAUL_SANITIZER: shadow memory), $((peak / 1024)) MB"
elif [ -n "$peak" ] && [ "$peak" -lt 30000 ]; then
    ok "worker peak RSS $((peak / 1024)) MB (< 30 MB) after the large objects"
else fail "worker peak RSS ${peak:-?} kB"; fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
