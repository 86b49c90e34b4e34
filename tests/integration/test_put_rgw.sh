#!/usr/bin/env bash
# The write side (put, verify, delete) against the users' store: a real Ceph
# RADOS Gateway (Ceph 16.2, tests/lib/rgw.sh), over both of its APIs -- S3
# signed for region `default`, and Swift auth v1.0 at /auth/1.0 (storage URL
# /swift/v1). The same behaviours as test_put.sh (Swift's s3api), run once
# per API on a bucket of its own: a tree with awkward names (spaces, '+',
# '%', unicode, deep paths, an empty file, a 3 MiB random file, a link, a
# FIFO) is uploaded with --meta run=42, one row per entry; every object is
# read back (boto3, swiftclient) and compared byte for byte with its file,
# the row's size/md5/etag and `verified`; --skip-existing twice writes
# nothing (timestamps compared), then uploads a changed file; --dry-run
# changes nothing; verify finds an object changed behind haul's back (the
# field named) and a deleted one; --deep hashes the bodies; delete --dry-run
# deletes nothing, delete --yes does, and a missing key's row is what RGW
# answered. Skipped, saying so, when the Ceph packages cannot be installed.
#
# What RGW answered, beside Swift's s3api and Swift itself (the same requests
# made by curl and boto3 to both; docs/notes-rgw-segmented.md, "6. Writes"):
# - A DELETE of a missing key: 204 No Content over S3 (Swift's s3api too, as
#   AWS: the API does not tell; haul deletes over S3 in one DeleteObjects,
#   which names a missing key among the deleted: `ok 200`); 404 over Swift
#   (RGW's body `NoSuchKey`, Swift's an HTML page): `missing 404`.
# - PUT: S3 200 with `ETag: "<md5>"` and no Last-Modified (s3api sends one);
#   Swift 201 with a lower-case `etag: <md5>` (Swift: `Etag:`), also on HEAD.
#   The empty object's ETag is d41d8cd98f00b204e9800998ecf8427e on both.
# - A wrong checksum: S3 400 BadDigest with an empty <Message> (s3api: "The
#   Content-MD5 you specified did not match what we received."); Swift 422
#   with body `UnprocessableEntity`, an `etag:` of the bytes received and
#   `Last-Modified: Thu, 01 Jan 1970 00:00:00 GMT`.
# - HEAD of a missing key over S3: 404 with Content-Length 232 (the error
#   document's length, no body sent); s3api: Content-Length 0.
# - Metadata as for Swift: `x-amz-meta-run` over S3, `X-Object-Meta-Run`
#   over Swift, whichever API wrote it. X-Timestamp (10 us) over Swift; S3
#   Last-Modified counts seconds, so the S3 timestamps are compared across a
#   second boundary.
# - A multipart upload's end (CompleteMultipartUpload) answers 200 with an
#   empty <ETag></ETag>: haul HEADs the object for it (verified parts).
#   Files in parts (S3 multipart, Swift SLO and its delete with its
#   segments) and --collate's zips and sidecars are checked at the end.
set -u
cd "$(dirname "$0")/../.."
TOP=$PWD
. tests/lib/rgw.sh
. tests/lib/testlib.sh
PY=/usr/bin/python3
SCHED=$TOP/bin/haul-scheduler WORKER=$TOP/bin/haul-worker
if ! out=$(haul_rgw_deps 2>&1) || ! out=$(tests/lib/deps.sh python3-boto3 python3-swiftclient redis-server 2>&1); then
    echo "SKIP haul's write ops against Ceph RGW: $(tail -n 2 <<<"$out" | paste -sd ' ')"
    echo "0 passed, 0 failed"
    exit 0
fi
T=$(mktemp -d /tmp/haul-put-rgw.XXXXXX)
PIDS=()
cleanup() {
    [ "$BASHPID" = "$$" ] || return 0
    [ ${#PIDS[@]} -gt 0 ] && kill "${PIDS[@]}" 2>/dev/null
    haul_rgw_stop "$T/rgw"
    if [ "$failed" -eq 0 ] && [ -z "${HAUL_KEEP:-}" ]; then rm -rf "$T"; else echo "  (test files kept in $T)"; fi
}
trap cleanup EXIT
haul_rgw_start "$T/rgw" >"$T/rgw-start.log" 2>&1 || { echo "FAIL RGW did not start"; tail "$T/rgw-start.log"; echo "0 passed, 1 failed"; exit 1; }
RP=$(_haul_rgw_free_ports 1) || { echo "FAIL no free port"; exit 1; }
redis-server --port "$RP" --bind 127.0.0.1 --save '' --appendonly no --dir "$T" >"$T/redis.log" 2>&1 &
PIDS+=($!)
export HAUL_REDIS_URL=redis://127.0.0.1:$RP/0
d=$((SECONDS + 10))
until redis-cli -p "$RP" PING 2>/dev/null | grep -q PONG || [ $SECONDS -ge $d ]; do sleep 0.05; done

# The trees: one per API, beneath the worker's --in-root ($T/in), each with
# a link out of it.
IN=$T/in
mkdir -p "$IN" "$T/outside"
echo secret >"$T/outside/secret"
make_tree() {
    local tree=$1
    mkdir -p "$tree/d1/d2/d3/d4" "$tree/unicodé"
    printf 'hello\n' >"$tree/a b.txt"
    printf 'plus' >"$tree/plus+sign.bin"
    printf 'percent' >"$tree/pct%41.dat"
    printf 'ñandú\n' >"$tree/unicodé/ñ.txt"
    printf 'deep' >"$tree/d1/d2/d3/d4/deep.txt"
    : >"$tree/empty"
    head -c $((3 * 1048576 + 5)) /dev/urandom >"$tree/big.bin"
    ln -s "$T/outside/secret" "$tree/link"
    mkfifo "$tree/fifo"
}
NFILES=7 NENTRIES=9

"$WORKER" --concurrency 8 --in-root "$IN" --out-root "$T" >>"$T/worker.log" 2>&1 &
PIDS+=($!)

# haul API ARGS...: the scheduler against RGW over API (s3 or swift), for at
# most 60 s (a hang is a failure, not a stuck test).
haul() {
    local api=$1
    shift
    if [ "$api" = s3 ]; then
        env -u ST_AUTH AWS_ACCESS_KEY_ID="$HAUL_TEST_RGW_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$HAUL_TEST_RGW_SECRET_KEY" \
            timeout 60 "$SCHED" run --s3 "$HAUL_TEST_RGW_S3" --region "$HAUL_TEST_RGW_REGION" --bucket "$B" "$@"
    else
        env ST_AUTH="$HAUL_TEST_RGW_ST_AUTH" ST_USER="$HAUL_TEST_RGW_SWIFT_USER" ST_KEY="$HAUL_TEST_RGW_SWIFT_KEY" \
            timeout 60 "$SCHED" run --swift --container "$B" "$@"
    fi
}

# store API BUCKET CMD ARGS...: a small client over API (boto3 or swiftclient):
#   mkbucket | ts KEY... (timestamps: X-Timestamp, or S3 Last-Modified) |
#   put KEY FILE | del KEY (prints the status RGW answered) | exists KEY... |
#   get KEY | readback LOG TREE (every ok row's object against its file).
store() {
    $PY - "$@" <<'PYEOF'
import csv, hashlib, os, sys
api, bucket, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
E = os.environ
if api == "s3":
    import boto3, botocore
    c = boto3.client("s3", endpoint_url=E["HAUL_TEST_RGW_S3"], region_name=E["HAUL_TEST_RGW_REGION"],
                     aws_access_key_id=E["HAUL_TEST_RGW_ACCESS_KEY"],
                     aws_secret_access_key=E["HAUL_TEST_RGW_SECRET_KEY"])
    def mkbucket(): c.create_bucket(Bucket=bucket)
    def head(k): return c.head_object(Bucket=bucket, Key=k)
    def ts(k): return head(k)["LastModified"].isoformat()
    def put(k, f): c.put_object(Bucket=bucket, Key=k, Body=open(f, "rb").read())
    def delete(k): return c.delete_object(Bucket=bucket, Key=k)["ResponseMetadata"]["HTTPStatusCode"]
    def get(k):
        o = c.get_object(Bucket=bucket, Key=k)
        return o["Body"].read(), o["Metadata"]
    def status(k):
        try: head(k); return 200
        except botocore.exceptions.ClientError as e: return e.response["ResponseMetadata"]["HTTPStatusCode"]
else:
    import swiftclient
    c = swiftclient.Connection(authurl=E["HAUL_TEST_RGW_ST_AUTH"], user=E["HAUL_TEST_RGW_SWIFT_USER"],
                               key=E["HAUL_TEST_RGW_SWIFT_KEY"], retries=0)
    def mkbucket(): c.put_container(bucket)
    def ts(k): return c.head_object(bucket, k)["x-timestamp"]
    def put(k, f): c.put_object(bucket, k, open(f, "rb").read())
    def delete(k):
        try: c.delete_object(bucket, k); return 204
        except swiftclient.ClientException as e: return e.http_status
    def get(k):
        h, body = c.get_object(bucket, k)
        return body, {n[len("x-object-meta-"):]: v for n, v in h.items() if n.startswith("x-object-meta-")}
    def status(k):
        try: c.head_object(bucket, k); return 200
        except swiftclient.ClientException as e: return e.http_status
    def count():
        try: return len(c.get_container(bucket, full_listing=True)[1])
        except swiftclient.ClientException as e: return 0 if e.http_status == 404 else -1
if cmd == "mkbucket": mkbucket()
elif cmd == "getbin": sys.stdout.buffer.write(get(args[0])[0])
elif cmd == "count": print(count())
elif cmd == "ts": print(" ".join(ts(k) for k in args))
elif cmd == "put": put(args[0], args[1])
elif cmd == "del": print(delete(args[0]))
elif cmd == "exists": print(" ".join(str(status(k)) for k in args))
elif cmd == "get": sys.stdout.write(get(args[0])[0].decode())
elif cmd == "readback":
    log, tree = args
    bad = n = 0
    for r in csv.DictReader(open(log)):
        if r["status"] != "ok":
            continue
        n += 1
        want = open(tree + "/" + r["key"][len("run42/"):], "rb").read()
        body, meta = get(r["key"])
        md5 = hashlib.md5(want).hexdigest()
        if not (body == want and r["md5"] == md5 and r["size"] == str(len(want)) and
                r["etag"] == md5 and r["verified"] == "md5" and meta.get("run") == "42"):
            bad += 1
            print("  | %s: %d bytes read back, %d in the file, row md5 %s etag %s size %s verified %s meta %s"
                  % (r["key"], len(body), len(want), r["md5"], r["etag"], r["size"], r["verified"], meta))
    print(n, bad)
PYEOF
}

# rows CSV FIELD...: the CSV's rows as "key status FIELD..." lines, sorted.
rows() { $PY -c '
import csv, sys
for r in sorted(csv.DictReader(open(sys.argv[1])), key=lambda r: r["key"]):
    print(r["key"], r["status"], *[r.get(c, "") for c in sys.argv[2:]])' "$@"; }

# suite API: every step over one API, on bucket put-API, tree $IN/API/run42.
suite() {
    local api=$1 A rc before after want
    A=$(tr a-z A-Z <<<"$api")
    B=put-$api TREE=$IN/$api/run42
    local o=$T/$api
    mkdir -p "$o"
    make_tree "$TREE"
    store "$api" "$B" mkbucket || fail "$A: making bucket $B"

    # 1. put: one row per entry, the link and the FIFO refused, every
    #    object the file's bytes with its metadata.
    haul "$api" --op put --from-dir "$TREE" --prefix run42/ --meta run=42 --out "$o/put1.csv" >"$o/put1.out" 2>&1
    rc=$?
    check "$A put: exit 1 (two entries are not files), one row per entry" "1 $NENTRIES" \
        "$rc $(($(wc -l <"$o/put1.csv") - 1))"
    check "$A put: rows" "run42/a b.txt ok
run42/big.bin ok
run42/d1/d2/d3/d4/deep.txt ok
run42/empty ok
run42/fifo error
run42/link error
run42/pct%41.dat ok
run42/plus+sign.bin ok
run42/unicodé/ñ.txt ok" "$(rows "$o/put1.csv")"
    grep -q 'symbolic link' "$o/put1.csv" && grep -q 'not a regular file (a FIFO)' "$o/put1.csv" &&
        ok "$A put: the link and the FIFO are refused with a sentence" || fail "$A put: link/FIFO sentences" "$o/put1.csv"
    check "$A put: read back ($NFILES files, 0 differ in bytes, md5, size, etag, verified, meta run=42)" \
        "$NFILES 0" "$(store "$api" "$B" readback "$o/put1.csv" "$TREE")"
    # One namespace: the other API reads the same objects and metadata.
    local other=swift
    [ "$api" = swift ] && other=s3
    check "$A put: read back over $other too ($NFILES files, 0 differ)" \
        "$NFILES 0" "$(store "$other" "$B" readback "$o/put1.csv" "$TREE")"

    # 2. --skip-existing twice: nothing PUT again (the timestamps stay; over
    #    S3 a second later, as Last-Modified counts seconds); a changed file
    #    is uploaded (its timestamp moves); --dry-run changes nothing.
    before=$(store "$api" "$B" ts "run42/a b.txt" "run42/big.bin" "run42/empty")
    [ "$api" = s3 ] && sleep 1.1
    haul "$api" --op put --from-dir "$TREE" --prefix run42/ --meta run=42 --skip-existing \
        --out "$o/put2.csv" >"$o/put2.out" 2>&1
    haul "$api" --op put --from-dir "$TREE" --prefix run42/ --meta run=42 --skip-existing \
        --out "$o/put2b.csv" >"$o/put2b.out" 2>&1
    check "$A skip-existing twice: every file skipped both times, verified md5" "$NFILES $NFILES" \
        "$(grep -c ',skipped,.*,md5$' "$o/put2.csv") $(grep -c ',skipped,.*,md5$' "$o/put2b.csv")"
    check "$A skip-existing: no object written again" "$before" \
        "$(store "$api" "$B" ts "run42/a b.txt" "run42/big.bin" "run42/empty")"
    printf 'hello again\n' >"$TREE/a b.txt"
    haul "$api" --op put --from-dir "$TREE" --prefix run42/ --meta run=42 --skip-existing --dry-run \
        --out "$o/put3.csv" >"$o/put3.out" 2>&1
    check "$A dry-run: the changed file would be uploaded, the rest skipped" \
        "run42/a b.txt would-upload|$((NFILES - 1))" \
        "$(rows "$o/put3.csv" | grep would-upload)|$(grep -c ',skipped,' "$o/put3.csv")"
    check "$A dry-run: nothing written" "$before|hello" \
        "$(store "$api" "$B" ts "run42/a b.txt" "run42/big.bin" "run42/empty")|$(store "$api" "$B" get "run42/a b.txt")"
    haul "$api" --op put --from-dir "$TREE" --prefix run42/ --meta run=42 --skip-existing \
        --out "$o/put4.csv" >"$o/put4.out" 2>&1
    after=$(store "$api" "$B" ts "run42/a b.txt" "run42/big.bin" "run42/empty")
    check "$A skip-existing: the changed file uploaded (its timestamp moved, the others not), the rest skipped" \
        "run42/a b.txt ok md5|$((NFILES - 1))|moved ${before#* }" \
        "$(rows "$o/put4.csv" verified | grep ' ok ')|$(grep -c ',skipped,' "$o/put4.csv")|$([ "${after%% *}" != "${before%% *}" ] && echo moved) ${after#* }"
    check "$A skip-existing: the changed file reads back" "hello again" "$(store "$api" "$B" get "run42/a b.txt")"

    # 3. verify against the first put log: one object changed behind haul's
    #    back (another size), one deleted; then --deep, after another object
    #    is rewritten with the same size and other bytes.
    printf 'tampered' >"$o/tampered"
    store "$api" "$B" put "run42/plus+sign.bin" "$o/tampered" || fail "$A: tampering"
    store "$api" "$B" del "run42/empty" >/dev/null || fail "$A: deleting run42/empty"
    grep -v 'a b.txt' "$o/put1.csv" >"$o/manifest.csv"   # that one changed on purpose in step 2
    haul "$api" --op verify --manifest "$o/manifest.csv" --out "$o/verify.csv" >"$o/verify.out" 2>&1
    rc=$?
    check "$A verify: exit 1, rows (a mismatch, a missing object)" "1|run42/big.bin ok 200 md5
run42/d1/d2/d3/d4/deep.txt ok 200 md5
run42/empty missing 404 none
run42/pct%41.dat ok 200 md5
run42/plus+sign.bin mismatch 200 none
run42/unicodé/ñ.txt ok 200 md5" "$rc|$(rows "$o/verify.csv" http verified)"
    grep -q 'size 8 != manifest 4' "$o/verify.csv" && ok "$A verify: the mismatch names the field" ||
        fail "$A verify: mismatch sentence" "$o/verify.csv"
    printf 'PERCENT' >"$o/same-size"
    store "$api" "$B" put "run42/pct%41.dat" "$o/same-size" || fail "$A: rewriting pct%41.dat"
    haul "$api" --op verify --deep --manifest "$o/manifest.csv" --out "$o/deep.csv" >"$o/deep.out" 2>&1
    rc=$?
    check "$A verify --deep: exit 1, the rewritten object a mismatch by its md5, big.bin hashed whole" \
        "1|run42/big.bin ok md5 $(md5sum <"$TREE/big.bin" | cut -c1-32)|run42/pct%41.dat mismatch none $(md5sum <"$o/same-size" | cut -c1-32)" \
        "$rc|$(rows "$o/deep.csv" verified md5 | grep -e '^run42/big.bin ' -e '^run42/pct' | paste -sd'|')"
    grep -q "md5 $(md5sum <"$o/same-size" | cut -c1-32) != manifest $(md5sum <"$TREE/pct%41.dat" | cut -c1-32)" "$o/deep.csv" &&
        ok "$A verify --deep: the mismatch names the md5" || fail "$A verify --deep: md5 sentence" "$o/deep.csv"

    # 4. delete: --dry-run deletes nothing (a missing key: HEAD 404, a row
    #    `missing`); --yes deletes; the missing key's row is what RGW answers
    #    a DELETE of a key that is not there (asked first, of another key).
    printf 'run42/big.bin\nrun42/empty\nrun42/d1/d2/d3/d4/deep.txt\n' >"$o/old.txt"
    haul "$api" --op delete --keys "$o/old.txt" --dry-run --out "$o/del1.csv" >"$o/del1.out" 2>&1
    check "$A delete --dry-run: rows, nothing deleted" "run42/big.bin would-delete 200
run42/d1/d2/d3/d4/deep.txt would-delete 200
run42/empty missing 404|200 200" \
        "$(rows "$o/del1.csv" http)|$(store "$api" "$B" exists run42/big.bin run42/d1/d2/d3/d4/deep.txt)"
    # Each key is HEADed, a missing one told by its 404 (a DELETE of it
    # answers 204 over S3, and DeleteObjects names it among the deleted, as
    # AWS does); the others go in one request: S3 DeleteObjects, Swift POST
    # ?bulk-delete (RGW's /swift/info offers bulk_delete), 200 both.
    local miss ok
    miss=$(store "$api" "$B" del "never/there")
    if [ "$api" = s3 ]; then
        ok="ok 200" want="missing 404"
    else
        ok="ok 200"
        case $miss in
        404) want="missing 404" ;;
        *) want="(RGW answered $miss)" ;;
        esac
    fi
    haul "$api" --op delete --keys "$o/old.txt" --yes --out "$o/del2.csv" >"$o/del2.out" 2>&1
    rc=$?
    check "$A delete --yes: exit 0, the missing key a 404 row from its HEAD (a DELETE of a missing key answers $miss)" \
        "0|run42/big.bin $ok
run42/d1/d2/d3/d4/deep.txt $ok
run42/empty $want" "$rc|$(rows "$o/del2.csv" http)"
    check "$A delete: the objects are gone, the others stay" "404 404 200" \
        "$(store "$api" "$B" exists run42/big.bin run42/d1/d2/d3/d4/deep.txt "run42/a b.txt")"
    if [ "$api" = swift ]; then
        check "$A delete: the scheduler read RGW's /swift/info and used its bulk delete" 1 \
            "$(grep -c "Swift bulk delete (the store's /info offers it" "$o/del2.out")"
    fi
}

suite s3
suite swift

# More than 1000 keys need --yes: refused before anything is queued.
seq -f 'k%g' 1 1001 >"$T/many.txt"
B=put-s3
haul s3 --op delete --keys "$T/many.txt" --out "$T/many.csv" >"$T/many.out" 2>&1
rc=$?
[ "$rc" -ne 0 ] && grep -q -- '--yes' "$T/many.out" && [ "$(redis-cli -p "$RP" llen haul:q:default)" = 0 ] &&
    ok "delete of 1001 keys without --yes: refused, nothing queued" || fail "delete without --yes (exit $rc)" "$T/many.out"

# A quota exceeded: a bucket quota of 6000 bytes (radosgw-admin; RGW counts
# an object as its size rounded up to 4 KiB, and a quota of 10 bytes let
# everything in over Swift) takes a 5-byte file and refuses a 10000-byte one
# (S3 403 QuotaExceeded, Swift 413 with body QuotaExceeded); the row says so
# in one sentence, the job ends.
mkdir -p "$IN/q" && printf 'small' >"$IN/q/small.txt" && head -c 10000 /dev/zero >"$IN/q/large.txt"
qrows=() qerrs=()
for api in s3 swift; do
    B=quota-$api
    store "$api" "$B" mkbucket >/dev/null 2>&1
    env -u CEPH_ARGS -u CEPH_CONF timeout 60 radosgw-admin -c "$HAUL_TEST_RGW_CONF" quota set --quota-scope=bucket \
        --bucket="$B" --max-size=6000 >>"$T/quota-admin.log" 2>&1
    env -u CEPH_ARGS -u CEPH_CONF timeout 60 radosgw-admin -c "$HAUL_TEST_RGW_CONF" quota enable --quota-scope=bucket \
        --bucket="$B" >>"$T/quota-admin.log" 2>&1
    sleep 1 # (RGW learns of the bucket's new quota through a RADOS notify)
    haul "$api" --op put --from-dir "$IN/q" --max-attempts 1 --out "$T/quota-$api.csv" >/dev/null 2>&1
    qrows+=("$(rows "$T/quota-$api.csv" http | paste -sd' ')")
    qerrs+=("$($PY -c '
import csv, sys
print([r["error"] for r in csv.DictReader(open(sys.argv[1])) if r["key"] == "large.txt"][0])' "$T/quota-$api.csv")")
done
check "quota: the small file ok, the large one refused (S3 403, Swift 413)" \
    "large.txt error 403 small.txt ok 200|large.txt error 413 small.txt ok 201" "${qrows[0]}|${qrows[1]}"
check "quota: the sentences" "S3 PUT quota-s3/large.txt: 403 QuotaExceeded (the bucket's or the user's quota is full)|Swift PUT quota-swift/large.txt: 413 Request Entity Too Large: QuotaExceeded (a quota of the container or the account is full, or the object is larger than the store takes)" \
    "${qerrs[0]}|${qerrs[1]}"

# Large files in parts, and zips, on RGW: an S3 multipart upload (parts of
# 5 MiB at least), a Swift SLO (segments in <container>_segments), read back
# whole through the API that wrote them; --skip-existing knows them; a
# delete over Swift takes the SLO's segments with it; --collate's zips and
# sidecars, read back by --op sidecar.
SEG=$IN/seg
mkdir -p "$SEG"
head -c $((11 * 1048576 + 7)) /dev/urandom >"$SEG/big one.bin"
for api in s3 swift; do
    B=seg-$api
    store "$api" "$B" mkbucket >/dev/null 2>&1
    size=5M
    [ "$api" = swift ] && size=1M
    haul "$api" --op put --from-dir "$SEG" --prefix p/ --segment-size $size --out "$T/seg-$api.csv" \
        >"$T/seg-$api.out" 2>&1
    want=parts
    [ "$api" = swift ] && want=segments
    check "$api: a file in parts: ok, verified $want" "p/big one.bin ok $want" "$(rows "$T/seg-$api.csv" verified)"
    check "$api: a file in parts reads back whole" "$(md5sum <"$SEG/big one.bin" | cut -c1-32)" \
        "$(store "$api" "$B" getbin "p/big one.bin" | md5sum | cut -c1-32)"
    haul "$api" --op put --from-dir "$SEG" --prefix p/ --segment-size $size --skip-existing \
        --out "$T/seg2-$api.csv" >/dev/null 2>&1
    check "$api: a file in parts: --skip-existing skips it" "p/big one.bin skipped $want" "$(rows "$T/seg2-$api.csv" verified)"
done
printf 'p/big one.bin\n' >"$T/segdel.txt"
B=seg-swift
haul swift --op delete --keys "$T/segdel.txt" --yes --out "$T/segdel.csv" >/dev/null 2>&1
check "swift: delete an SLO: ok, and its segments gone" "p/big one.bin ok|0" \
    "$(rows "$T/segdel.csv" | paste -sd'|')|$(store swift seg-swift_segments count)"
COL=$IN/coll
mkdir -p "$COL/18" "$COL/44"
for f in 18/18_1.f 44/44_1.f 44/44_2.f; do head -c 300 /dev/urandom >"$COL/$f"; done
B=coll-s3
store s3 "$B" mkbucket >/dev/null 2>&1
haul s3 --op put --from-dir "$COL" --prefix dummy/ --collate 1M --out "$T/coll.csv" >/dev/null 2>&1
printf 'dummy/collated_0.zip\n' >"$T/coll-keys.txt"
haul s3 --op sidecar --keys "$T/coll-keys.txt" --out "$T/coll-sc.csv" >/dev/null 2>&1
check "s3: --collate: one zip, its sidecar read back by --op sidecar" \
    "dummy/collated_0.zip ok md5|dummy/collated_0.zip,ok,200,18/18_1.f|44/44_1.f|44/44_2.f,29,,md5" \
    "$(rows "$T/coll.csv" verified)|$(tail -n +2 "$T/coll-sc.csv")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
