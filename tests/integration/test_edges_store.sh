#!/usr/bin/env bash
# What the store holds, read right: segmented objects (a Swift SLO and DLO
# uploaded as the swift CLI does, an S3 multipart upload made with boto3) with
# get and head over both APIs, every body compared byte for byte and the
# `verified` column checked; a body corrupted on the store's disk is an error,
# never "ok"; a key holding "/../" fetches that key, not another object;
# --max-inline works up to its limit and is refused above it; an empty object
# is an empty file. Real redis-server
# and real Swift (tempauth + s3api).
set -u
cd "$(dirname "$0")/../.."
TOP=$PWD
. tests/lib/servers.sh
. tests/lib/seed_segmented.sh
. tests/lib/testlib.sh
PY=/usr/bin/python3
SCHED=$TOP/bin/haul-scheduler WORKER=$TOP/bin/haul-worker
B=segtest B2=segcorrupt
WPIDS=()
test_stop() {
    [ ${#WPIDS[@]} -gt 0 ] && kill "${WPIDS[@]}" 2>/dev/null
}
haul_test_begin edges-store
haul_seed_segmented "$B" "$T/seg" || { echo "FAIL seeding segmented objects"; echo "0 passed, 1 failed"; exit 1; }
R=$HAUL_TEST_REDIS_URL
export HAUL_REDIS_URL=$R
s3env()    { env -u ST_AUTH AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing "$@"; }
for i in 1 2; do
    "$WORKER" --concurrency 8 --out-root "$T" >>"$T/worker$i.log" 2>&1 &
    WPIDS+=($!)
done
cut -f1 "$T/seg/segmented-expected.tsv" >"$T/seg-keys.txt"

# jsonl_check FILE EXPECTED-TSV WANT: every row ok, its file's bytes (or its
# value, inline) of the expected size and MD5, and `verified` as WANT says
# ("kind=how,kind=how"). Prints one line per key; exit 1 on any difference.
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
    body = open(r["path"], "rb").read() if r.get("path") else None
    got = hashlib.md5(body).hexdigest() if body is not None else "(inline)"
    ok = r["status"] == "ok" and r["bytes"] == size and (body is None or got == md5) \
        and r.get("verified") == want[kind]
    print("%-4s %-14s %-5s verified=%-8s bytes=%s md5=%s" % ("ok" if ok else "BAD", r["key"], kind,
          r.get("verified"), r["bytes"], "=" if got == md5 else got))
    bad += not ok
if len(rows) != len(exp): print("rows: %d, want %d" % (len(rows), len(exp))); bad += 1
sys.exit(1 if bad else 0)
PYEOF
}

# 1. get over Swift: the SLO and DLO by their segments, the S3 upload (an SLO
#    over the Swift API) too, the plain object by its MD5.
swiftenv "$SCHED" run --swift --container "$B" --keys "$T/seg-keys.txt" --op get --max-inline 0 \
    --out-dir "$T/get-swift" --format jsonl --out "$T/get-swift.jsonl" 2>"$T/get-swift.err"
rc=$?
if [ $rc -eq 0 ] && jsonl_check "$T/get-swift.jsonl" "$T/seg/segmented-expected.tsv" \
        "slo=segments,dlo=segments,mpu=segments,plain=md5" >"$T/get-swift.check"; then
    ok "get over Swift: SLO, DLO and S3 multipart verified by their segments, the plain object by its MD5; bytes equal"
    sed 's/^/       /' "$T/get-swift.check"
else fail "get over Swift (exit $rc)" "$T/get-swift.check"; cat "$T/get-swift.err"; fi

# 2. get over S3: the multipart object by its parts (s3api refuses partNumber,
#    so the 5 MiB part size is found among the common ones); the SLO's S3 ETag
#    ("...-N") and the DLO's (not the MD5 of its body) give nothing to check:
#    ok, verified none -- never "corrupt".
s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket "$B" --keys "$T/seg-keys.txt" --op get --max-inline 0 \
    --out-dir "$T/get-s3" --format jsonl --out "$T/get-s3.jsonl" 2>"$T/get-s3.err"
rc=$?
if [ $rc -eq 0 ] && jsonl_check "$T/get-s3.jsonl" "$T/seg/segmented-expected.tsv" \
        "slo=none,dlo=none,mpu=parts,plain=md5" >"$T/get-s3.check"; then
    ok "get over S3: multipart verified by its parts, SLO and DLO ok and not verified, plain by MD5; bytes equal"
    sed 's/^/       /' "$T/get-s3.check"
else fail "get over S3 (exit $rc)" "$T/get-s3.check"; cat "$T/get-s3.err"; fi
if grep -q "does not tell part sizes" "$T"/worker*.log; then
    ok "the worker learned once that this S3 endpoint refuses partNumber"
else fail "no note of the partNumber probe in the worker logs" "$T/worker1.log"; fi

# 3. The same inline (bodies in the result): the DLO over S3 too.
s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket "$B" --keys "$T/seg-keys.txt" --op get --max-inline 16M \
    --format jsonl --out "$T/inline-s3.jsonl" 2>"$T/inline-s3.err"
rc=$?
$PY - "$T/inline-s3.jsonl" "$T/seg/objects" >"$T/inline-s3.check" <<'PYEOF'
import json, sys
bad = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    want = open(sys.argv[2] + "/" + r["key"], "rb").read()
    # JSON Lines carries bytes as UTF-8 with U+FFFD for invalid bytes: compare lengths and the
    # valid prefix only when the object is binary (these are random bytes).
    ok = r["status"] == "ok" and r["bytes"] == len(want) and r["value"] is not None
    print("%s %s %s %s" % ("ok" if ok else "BAD", r["key"], r["bytes"], r.get("verified")))
    bad += not ok
sys.exit(1 if bad else 0)
PYEOF
pyrc=$?
if [ $rc -eq 0 ] && [ $pyrc -eq 0 ] && grep -q "^ok dlo.bin 2621447 none" "$T/inline-s3.check" \
   && grep -q "^ok multipart.bin 11534336 parts" "$T/inline-s3.check"; then
    ok "inline get over S3: every body in its row, DLO ok (not verified), multipart verified by parts"
else fail "inline get over S3 (exit $rc)" "$T/inline-s3.check"; fi

# 4. head over both APIs: the whole object's size, and what kind it is.
for api in swift s3; do
    if [ $api = s3 ]; then
        s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket "$B" --keys "$T/seg-keys.txt" --op head \
            --format jsonl --out "$T/head-$api.jsonl" 2>"$T/head-$api.err"
    else
        swiftenv "$SCHED" run --swift --container "$B" --keys "$T/seg-keys.txt" --op head \
            --format jsonl --out "$T/head-$api.jsonl" 2>"$T/head-$api.err"
    fi
    rc=$?
    $PY - "$T/head-$api.jsonl" "$T/seg/segmented-expected.tsv" "$api" >"$T/head-$api.check" <<'PYEOF'
import json, sys
exp = {l.split("\t")[0]: l.rstrip("\n").split("\t") for l in open(sys.argv[2])}
api = sys.argv[3]
want = {"swift": {"slo": "slo", "dlo": "dlo", "mpu": "slo", "plain": None},
        "s3": {"slo": None, "dlo": None, "mpu": "multipart", "plain": None}}[api]
bad = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    v = json.loads(r["value"])
    k, size, md5, kind = exp[r["key"]]
    ok = r["status"] == "ok" and v["size"] == int(size) and v.get("segmented") == want[kind]
    if kind == "mpu" and api == "s3": ok = ok and v.get("parts") == 3
    print("%s %s size=%s segmented=%s" % ("ok" if ok else "BAD", k, v["size"], v.get("segmented")))
    bad += not ok
sys.exit(1 if bad else 0)
PYEOF
    pyrc=$?
    if [ $rc -eq 0 ] && [ $pyrc -eq 0 ]; then ok "head over $api: sizes of the whole objects, segmented kind named"
    else fail "head over $api (exit $rc)" "$T/head-$api.check"; fi
done

# 5. Bytes corrupted on the store's disk: a real mismatch stays an error.
#    A second copy of the objects, so the first stay intact. One attempt each
#    (the object server quarantines what it served corrupt: a retry would
#    answer 404).
haul_seed_segmented "$B2" "$T/seg2" || { fail "seeding a second copy"; }
corrupt() { # corrupt NAME-PREFIX FILE-WITH-THE-BYTES: flip one byte in the middle of the
            # .data file of the object whose name starts NAME-PREFIX and holds those bytes
    $PY - "$1" "$2" "$T/srv/srv" <<'PYEOF'
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
}
head -c 100003 "$T/seg2/objects/plain.bin" >"$T/plain.bytes"
dd if="$T/seg2/objects/slo.bin" of="$T/slo-seg1.bytes" bs=1048576 skip=1 count=1 status=none
if corrupt "/AUTH_test/$B2/plain.bin" "$T/plain.bytes" >/dev/null &&
   corrupt "/AUTH_test/${B2}_segments/slo.bin/" "$T/slo-seg1.bytes" >/dev/null; then
    printf 'plain.bin\nslo.bin\n' >"$T/corrupt-keys.txt"
    swiftenv "$SCHED" run --swift --container "$B2" --keys "$T/corrupt-keys.txt" --op get --max-inline 0 \
        --max-attempts 1 --out-dir "$T/corrupt" --format jsonl --out "$T/corrupt.jsonl" 2>"$T/corrupt.err"
    rc=$?
    if [ $rc -eq 1 ] && grep -q '"key":"plain.bin","status":"error".*MD5 is .*the ETag .*download is corrupt' "$T/corrupt.jsonl" \
       && grep -q '"key":"slo.bin","status":"error".*segment 2 of 3.*corrupt' "$T/corrupt.jsonl" \
       && [ ! -e "$T/corrupt/plain.bin" ] && [ ! -e "$T/corrupt/slo.bin" ] \
       && [ "$(find "$T/corrupt" -type f 2>/dev/null | wc -l)" -eq 0 ]; then
        ok "bytes corrupted on disk: error rows (plain: its MD5 against the ETag; SLO: its segment 2 named), no file left"
        grep -o '"error":"[^"]*"' "$T/corrupt.jsonl" | cut -c1-160 | sed 's/^/       /'
    else fail "corrupted objects (exit $rc)" "$T/corrupt.jsonl"; cat "$T/corrupt.err"; fi
else fail "could not find the objects' .data files to corrupt"; fi

# 6. A key holding "/../" names that key: two objects, "a/../b" and "b",
#    each fetched as itself over both APIs (curl would have made the first
#    "b" had haul let it normalise the path).
read -r TOKEN SURL < <(haul_swift_token test:tester testing)
printf 'I am a/../b\n' >"$T/dotdot.txt"
printf 'I am b\n' >"$T/b.txt"
curl -sS --path-as-is -o /dev/null -w '%{http_code}\n' -T "$T/dotdot.txt" -H "X-Auth-Token: $TOKEN" "$SURL/$B/a/../b" >"$T/put.codes"
curl -sS --path-as-is -o /dev/null -w '%{http_code}\n' -T "$T/b.txt" -H "X-Auth-Token: $TOKEN" "$SURL/$B/b" >>"$T/put.codes"
printf 'a/../b\nb\n' >"$T/dot-keys.txt"
for api in swift s3; do
    if [ $api = s3 ]; then
        s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket "$B" --keys "$T/dot-keys.txt" --op get \
            --out "$T/dot-$api.csv" 2>"$T/dot-$api.err"
    else
        swiftenv "$SCHED" run --swift --container "$B" --keys "$T/dot-keys.txt" --op get \
            --out "$T/dot-$api.csv" 2>"$T/dot-$api.err"
    fi
    rc=$?
    if [ "$(tr '\n' ' ' <"$T/put.codes")" = "201 201 " ] && [ $rc -eq 0 ] \
       && grep -qx 'a/../b,ok,200,"I am a/../b' "$T/dot-$api.csv" && grep -qx 'b,ok,200,"I am b' "$T/dot-$api.csv"; then
        ok "key 'a/../b' over $api: its own bytes, not those of 'b'"
    else fail "key with /../ over $api (exit $rc, PUTs $(tr '\n' ' ' <"$T/put.codes"))" "$T/dot-$api.csv"; cat "$T/dot-$api.err"; fi
done
# ... and such a key cannot become a file: an error row, nothing written.
swiftenv "$SCHED" run --swift --container "$B" --keys "$T/dot-keys.txt" --op get --max-inline 0 \
    --out-dir "$T/dotfiles" --out "$T/dotfiles.csv" 2>"$T/dotfiles.err"
rc=$?
if [ $rc -eq 1 ] && grep -q "^a/../b,error,.*cannot be a file under --out-dir" "$T/dotfiles.csv" \
   && [ -f "$T/dotfiles/b" ] && [ "$(find "$T" -maxdepth 1 -name b | wc -l)" -eq 0 ]; then
    ok "key 'a/../b' to a file: error row (cannot be a file under --out-dir); 'b' written where it belongs"
else fail "key with /../ to a file (exit $rc)" "$T/dotfiles.csv"; fi

# 6b. An empty object with --max-inline 0 is an empty file (a downloaded tree
#     keeps its empty objects), verified by its MD5.
: >"$T/empty.bin"
haul_swift_put "$B" empty.bin "$T/empty.bin" || fail "uploading an empty object"
echo empty.bin >"$T/empty-keys.txt"
s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket "$B" --keys "$T/empty-keys.txt" --op get --max-inline 0 \
    --out-dir "$T/emptyfiles" --out "$T/empty.csv" 2>"$T/empty.err"
rc=$?
if [ $rc -eq 0 ] && [ -f "$T/emptyfiles/empty.bin" ] && [ ! -s "$T/emptyfiles/empty.bin" ] \
   && grep -qx "empty.bin,ok,200,$T/emptyfiles/empty.bin,0,,md5" "$T/empty.csv"; then
    ok "an empty object with --max-inline 0: an empty file, verified by its MD5"
else fail "an empty object to a file (exit $rc)" "$T/empty.csv"; fi

# 7. --max-inline up to its limit (64 MiB) works; above it is refused at submit.
$PY -c "import sys; sys.stdout.write(('0123456789abcdef' * 4096 + '\n') * 960)" >"$T/big.txt"   # 60 MiB of text
haul_swift_put "$B" big.txt "$T/big.txt" || fail "uploading a 60 MiB object"
echo big.txt >"$T/big-keys.txt"
s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket "$B" --keys "$T/big-keys.txt" --op get --max-inline 64M \
    --format jsonl --out "$T/big.jsonl" 2>"$T/big.err"
rc=$?
if [ $rc -eq 0 ] && $PY -c "
import json, sys
r = json.loads(open(sys.argv[1]).readline())
sys.exit(0 if r['status'] == 'ok' and r['value'] == open(sys.argv[2]).read() and r['verified'] == 'md5' else 1)" \
    "$T/big.jsonl" "$T/big.txt"; then
    ok "--max-inline 64M: a 60 MiB body whole in its row, verified by MD5"
else fail "--max-inline 64M (exit $rc)" "$T/big.err"; fi
s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket "$B" --keys "$T/big-keys.txt" --op get --max-inline 65M \
    --out /dev/null 2>"$T/big65.err"
rc=$?
if [ $rc -eq 2 ] && grep -q "max-inline.*out of range" "$T/big65.err" && [ "$(haul_redis_cli LLEN haul:q:default)" -eq 0 ]; then
    ok "--max-inline 65M refused at submit: $(grep -o -- '--max-inline.*' "$T/big65.err" | head -1)"
else fail "--max-inline 65M (exit $rc)" "$T/big65.err"; fi

if ! grep -q testing "$T"/worker*.log "$T"/*.err; then ok "no secret in worker logs or scheduler messages"
else fail "a secret in the logs"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
