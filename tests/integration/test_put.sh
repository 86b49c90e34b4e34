#!/usr/bin/env bash
# The write side (put, verify, delete) against real Swift (tempauth + s3api)
# and a real redis-server, over both of Swift's APIs. A tree with awkward
# names (spaces, '+', '%', unicode, deep paths, an empty file, a link, a
# FIFO) is uploaded with metadata; every object is read back with boto3 or
# Swift's API and compared byte for byte with its file; --skip-existing
# makes no PUT on the second run (the objects' timestamps stay), uploads
# what changed, and --dry-run changes nothing; verify finds an object
# changed behind haul's back and one deleted; delete --dry-run deletes
# nothing, more than 1000 keys need --yes, a missing key is a row; and a
# worker reads nothing outside its --in-root. Then files above
# --segment-size in parts (S3 multipart, Swift SLO: read back by boto3,
# swiftclient and haul's get, known again by --skip-existing, verified,
# deleted with their segments, a refused upload aborted, a worker SIGKILLed
# mid-upload leaving nothing behind), --collate's zips and sidecars, and a
# sealed put.
set -u
cd "$(dirname "$0")/../.."
TOP=$PWD
. tests/lib/servers.sh
. tests/lib/testlib.sh
PY=/usr/bin/python3
SCHED=$TOP/bin/haul-scheduler WORKER=$TOP/bin/haul-worker
WPIDS=()
test_stop() {
    [ ${#WPIDS[@]} -gt 0 ] && kill "${WPIDS[@]}" 2>/dev/null
}
haul_test_begin put
export HAUL_REDIS_URL=$HAUL_TEST_REDIS_URL
s3env()    { env -u ST_AUTH AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing "$@"; }

# The tree: beneath the workers' --in-root ($T/in), with one link out of it.
IN=$T/in TREE=$T/in/run42
mkdir -p "$TREE/d1/d2/d3/d4" "$TREE/unicodé" "$T/outside"
printf 'hello\n' >"$TREE/a b.txt"
printf 'plus' >"$TREE/plus+sign.bin"
printf 'percent' >"$TREE/pct%41.dat"
printf 'ñandú\n' >"$TREE/unicodé/ñ.txt"
printf 'deep' >"$TREE/d1/d2/d3/d4/deep.txt"
: >"$TREE/empty"
head -c $((3 * 1048576 + 5)) /dev/urandom >"$TREE/big.bin"
echo secret >"$T/outside/secret"
ln -s "$T/outside/secret" "$TREE/link"
mkfifo "$TREE/fifo"
NFILES=7 NENTRIES=9

"$WORKER" --concurrency 8 --in-root "$IN" --out-root "$T" >>"$T/worker.log" 2>&1 &
WPIDS+=($!)

# rows_check CSV FIELD=VALUE...: the CSV's rows as "key status" lines, sorted.
rows() { $PY -c '
import csv, sys
for r in sorted(csv.DictReader(open(sys.argv[1])), key=lambda r: r["key"]):
    print(r["key"], r["status"], *[r.get(c, "") for c in sys.argv[2:]])' "$@"; }

# readback API CONTAINER CSV: every ok row's object equals its file (bytes,
# and the size and MD5 in the row), with the metadata run=42.
readback() {
    $PY - "$@" "$TREE" "$HAUL_TEST_S3" "$HAUL_TEST_ST_AUTH" <<'PYEOF'
import csv, hashlib, sys
api, bucket, log, tree, s3url, stauth = sys.argv[1:7]
if api == "s3":
    import boto3
    c = boto3.client("s3", endpoint_url=s3url, aws_access_key_id="test:tester",
                     aws_secret_access_key="testing", region_name="us-east-1")
    def get(k):
        o = c.get_object(Bucket=bucket, Key=k)
        return o["Body"].read(), o["Metadata"]
else:
    import swiftclient
    c = swiftclient.Connection(authurl=stauth, user="test:tester", key="testing")
    def get(k):
        h, body = c.get_object(bucket, k)
        return body, {n[len("x-object-meta-"):]: v for n, v in h.items() if n.startswith("x-object-meta-")}
bad = n = 0
for r in csv.DictReader(open(log)):
    if r["status"] != "ok":
        continue
    n += 1
    rel = r["key"][len("run42/"):]
    want = open(tree + "/" + rel, "rb").read()
    body, meta = get(r["key"])
    md5 = hashlib.md5(want).hexdigest()
    good = body == want and r["md5"] == md5 and r["size"] == str(len(want)) and \
        r["etag"] == md5 and r["verified"] == "md5" and meta.get("run") == "42"
    if not good:
        bad += 1
        print("  | %s: %d bytes read back, %d in the file, row md5 %s etag %s size %s verified %s meta %s"
              % (r["key"], len(body), len(want), r["md5"], r["etag"], r["size"], r["verified"], meta))
print(n, bad)
PYEOF
}

# 1. put over Swift and over S3: one row per entry, files ok, the link and
#    the FIFO refused, every object the file's bytes with its metadata.
haul_swift_mkcontainer backup || fail "making container backup"
swiftenv "$SCHED" run --swift --container backup --op put --from-dir "$TREE" --prefix run42/ \
    --meta run=42 --out "$T/put1.csv" >"$T/put1.out" 2>&1
rc=$?
check "put over Swift: exit 1 (two entries are not files)" 1 "$rc"
check "put over Swift: one row per entry" $NENTRIES "$(($(wc -l <"$T/put1.csv") - 1))"
check "put over Swift: rows" "run42/a b.txt ok
run42/big.bin ok
run42/d1/d2/d3/d4/deep.txt ok
run42/empty ok
run42/fifo error
run42/link error
run42/pct%41.dat ok
run42/plus+sign.bin ok
run42/unicodé/ñ.txt ok" "$(rows "$T/put1.csv")"
grep -q 'symbolic link' "$T/put1.csv" && grep -q 'not a regular file (a FIFO)' "$T/put1.csv" &&
    ok "put: the link and the FIFO are refused with a sentence" || fail "put: link/FIFO sentences" "$T/put1.csv"
check "put over Swift: read back with swiftclient ($NFILES files, 0 differ)" "$NFILES 0" "$(readback swift backup "$T/put1.csv")"

haul_swift_mkcontainer backups3 || fail "making container backups3"
s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket backups3 --op put --from-dir "$TREE" --prefix run42/ \
    --meta run=42 --out "$T/puts3.csv" >"$T/puts3.out" 2>&1
check "put over S3: read back with boto3 ($NFILES files, 0 differ)" "$NFILES 0" "$(readback s3 backups3 "$T/puts3.csv")"

# 2. --skip-existing: nothing PUT again (the objects' timestamps stay);
#    a changed file is uploaded; --dry-run says so and changes nothing.
ts() { swiftenv $PY -c '
import os, sys, swiftclient
c = swiftclient.Connection(authurl=os.environ["ST_AUTH"], user=os.environ["ST_USER"], key=os.environ["ST_KEY"])
print(" ".join(c.head_object("backup", k)["x-timestamp"] for k in sys.argv[1:]))' "$@"; }
before=$(ts "run42/a b.txt" "run42/big.bin")
swiftenv "$SCHED" run --swift --container backup --op put --from-dir "$TREE" --prefix run42/ \
    --meta run=42 --skip-existing --out "$T/put2.csv" >"$T/put2.out" 2>&1
check "skip-existing: every file skipped" "$NFILES" "$(grep -c ',skipped,' "$T/put2.csv")"
check "skip-existing: no object written again" "$before" "$(ts "run42/a b.txt" "run42/big.bin")"
printf 'hello again\n' >"$TREE/a b.txt"
swiftenv "$SCHED" run --swift --container backup --op put --from-dir "$TREE" --prefix run42/ \
    --meta run=42 --skip-existing --dry-run --out "$T/put3.csv" >"$T/put3.out" 2>&1
check "dry-run: the changed file would be uploaded, the rest skipped" \
    "run42/a b.txt would-upload|$((NFILES - 1))" \
    "$(rows "$T/put3.csv" | grep would-upload)|$(grep -c ',skipped,' "$T/put3.csv")"
check "dry-run: nothing written" "$before" "$(ts "run42/a b.txt" "run42/big.bin")"
swiftenv "$SCHED" run --swift --container backup --op put --from-dir "$TREE" --prefix run42/ \
    --meta run=42 --skip-existing --out "$T/put4.csv" >"$T/put4.out" 2>&1
check "skip-existing: the changed file uploaded, the rest skipped" "run42/a b.txt ok|$((NFILES - 1))" \
    "$(rows "$T/put4.csv" | grep ' ok$')|$(grep -c ',skipped,' "$T/put4.csv")"
check "skip-existing: the changed file reads back" "hello again" \
    "$(swiftenv $PY -c 'import os, swiftclient; c = swiftclient.Connection(authurl=os.environ["ST_AUTH"], user=os.environ["ST_USER"], key=os.environ["ST_KEY"]); print(c.get_object("backup", "run42/a b.txt")[1].decode().strip())')"

# 3. verify against the first put log: one object changed behind haul's
#    back, one deleted.
printf 'tampered' >"$T/tampered"
haul_swift_put backup "run42/plus+sign.bin" "$T/tampered" || fail "tampering"
swiftenv $PY -c 'import os, swiftclient; c = swiftclient.Connection(authurl=os.environ["ST_AUTH"], user=os.environ["ST_USER"], key=os.environ["ST_KEY"]); c.delete_object("backup", "run42/empty")'
grep -v 'a b.txt' "$T/put1.csv" >"$T/manifest.csv"   # that one changed on purpose in step 2
swiftenv "$SCHED" run --swift --container backup --op verify --manifest "$T/manifest.csv" \
    --out "$T/verify.csv" >"$T/verify.out" 2>&1
rc=$?
check "verify: exit 1 (a mismatch and a missing object)" 1 "$rc"
# (the put log's error rows, the link and the FIFO, are not in a manifest)
check "verify: rows" "run42/big.bin ok md5
run42/d1/d2/d3/d4/deep.txt ok md5
run42/empty missing none
run42/pct%41.dat ok md5
run42/plus+sign.bin mismatch none
run42/unicodé/ñ.txt ok md5" "$(rows "$T/verify.csv" verified)"
grep -q 'size 8 != manifest 4' "$T/verify.csv" && ok "verify: the mismatch names the field" || fail "verify: mismatch sentence" "$T/verify.csv"
# --deep: every body fetched and hashed; the row's md5 is the body's own.
# An object rewritten with the same size and other bytes is found by them.
printf 'PERCENT' >"$T/same-size"
haul_swift_put backup "run42/pct%41.dat" "$T/same-size" || fail "rewriting pct%41.dat"
swiftenv "$SCHED" run --swift --container backup --op verify --deep --manifest "$T/manifest.csv" \
    --out "$T/deep.csv" >"$T/deep.out" 2>&1
check "verify --deep: the rewritten object a mismatch, big.bin hashed whole" \
    "run42/big.bin ok md5 $(md5sum <"$TREE/big.bin" | cut -c1-32)|run42/pct%41.dat mismatch none $(md5sum <"$T/same-size" | cut -c1-32)" \
    "$(rows "$T/deep.csv" verified md5 | grep -e '^run42/big.bin ' -e '^run42/pct' | paste -sd'|')"

# 4. delete: --dry-run deletes nothing; more than 1000 keys need --yes; a
#    missing key is a row http 404, not a failure of the job.
printf 'run42/big.bin\nrun42/empty\nrun42/d1/d2/d3/d4/deep.txt\n' >"$T/old.txt"
swiftenv "$SCHED" run --swift --container backup --op delete --keys "$T/old.txt" --dry-run \
    --out "$T/del1.csv" >"$T/del1.out" 2>&1
check "delete --dry-run: rows" "run42/big.bin would-delete
run42/d1/d2/d3/d4/deep.txt would-delete
run42/empty missing" "$(rows "$T/del1.csv")"
check "delete --dry-run: nothing deleted" "$before" "$(ts "run42/a b.txt" "run42/big.bin" | sed "s/^[^ ]* /$(echo "$before" | cut -d' ' -f1) /")"
seq -f 'k%g' 1 1001 >"$T/many.txt"
swiftenv "$SCHED" run --swift --container backup --op delete --keys "$T/many.txt" --out "$T/many.csv" \
    >"$T/many.out" 2>&1
rc=$?
[ "$rc" -ne 0 ] && grep -q -- '--yes' "$T/many.out" && [ "$(redis-cli -u "$HAUL_REDIS_URL" llen haul:q:default)" = 0 ] &&
    ok "delete of 1001 keys without --yes: refused, nothing queued" || fail "delete without --yes (exit $rc)" "$T/many.out"
swiftenv "$SCHED" run --swift --container backup --op delete --keys "$T/old.txt" --yes \
    --out "$T/del2.csv" >"$T/del2.out" 2>&1
rc=$?
check "delete: exit 0, the missing key a 404 row (HEAD), the others in one bulk delete (200)" "0|run42/big.bin ok 200
run42/d1/d2/d3/d4/deep.txt ok 200
run42/empty missing 404" "$rc|$(rows "$T/del2.csv" http)"
# Swift's /info offers bulk delete: one POST ?bulk-delete for the task's two
# objects, no DELETE of either from haul (the proxy's log lines: the bulk
# middleware's own DELETEs say "BulkDelete"; swiftclient's are this test's).
swlog=$HAUL_TEST_DIR/log/proxy.log
check "delete over Swift: the scheduler read /info; one bulk delete of 2 objects, no single DELETE" "1|1|2|0" \
    "$(grep -c "Swift bulk delete (the store's /info offers it, up to 10000 keys" "$T/del2.out")|$(grep -c 'POST /v1/AUTH_test%3Fbulk-delete' "$swlog")|$(grep 'DELETE /v1/AUTH_test/backup/run42' "$swlog" | grep -c BulkDelete)|$(grep 'DELETE /v1/AUTH_test/backup/run42' "$swlog" | grep -v -c 'BulkDelete\|python-swiftclient')"
check "delete: the objects are gone" "404 404" "$(swiftenv $PY -c '
import os, swiftclient
c = swiftclient.Connection(authurl=os.environ["ST_AUTH"], user=os.environ["ST_USER"], key=os.environ["ST_KEY"])
out = []
for k in ("run42/big.bin", "run42/d1/d2/d3/d4/deep.txt"):
    try: c.head_object("backup", k); out.append("200")
    except swiftclient.ClientException as e: out.append(str(e.http_status))
print(" ".join(out))')"

# delete over S3: each key HEADed (a missing one a 404 row: DeleteObjects
# would name it among the deleted), then one DeleteObjects for the others
# (a key with XML's special characters among them), each key's row from
# its answer.
$PY - "$HAUL_TEST_S3" <<'PYEOF'
import sys, boto3
c = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="test:tester",
                 aws_secret_access_key="testing", region_name="us-east-1")
c.put_object(Bucket="backups3", Key='x&<y>"z', Body=b"odd")
PYEOF
printf 'run42/a b.txt\nrun42/big.bin\nx&<y>"z\nrun42/nothere\nrun42/unicodé/ñ.txt\n' >"$T/s3del.txt"
s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket backups3 --op delete --keys "$T/s3del.txt" --yes \
    --out "$T/s3del.csv" >"$T/s3del.out" 2>&1
check "delete over S3: rows" 'run42/a b.txt ok 200|run42/big.bin ok 200|run42/nothere missing 404|run42/unicodé/ñ.txt ok 200|x&<y>"z ok 200' \
    "$(rows "$T/s3del.csv" http | paste -sd'|')"
# (the proxy's log line: "POST /backups3%3Fdelete%3D")
check "delete over S3: one DeleteObjects, the objects gone, the others stay" "1|4|4" \
    "$(grep -c 'POST /backups3%3Fdelete' "$HAUL_TEST_DIR/log/proxy.log")|$($PY - "$HAUL_TEST_S3" <<'PYEOF'
import sys, boto3
c = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="test:tester",
                 aws_secret_access_key="testing", region_name="us-east-1")
keys = [o["Key"] for o in c.list_objects_v2(Bucket="backups3").get("Contents", [])]
gone = sum(k not in keys for k in ("run42/a b.txt", "run42/big.bin", 'x&<y>"z', "run42/unicodé/ñ.txt"))
print("%d|%d" % (gone, len(keys)))
PYEOF
)"

# Many keys: 300 objects (and 20 keys never written) deleted with --batch
# 160, over each API: two tasks, two bulk requests, 300 ok rows and 20
# missing ones, nothing left.
mkdir -p "$IN/many" && for i in $(seq 1 300); do printf '%d' "$i" >"$IN/many/f$i"; done
for api in s3 swift; do
    seq -f 'm/f%g' 1 320 >"$T/many-$api.txt"
    haul_swift_mkcontainer "many$api" || fail "making container many$api"
    if [ $api = s3 ]; then
        s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket "many$api" --op put --from-dir "$IN/many" --prefix m/ \
            --out "$T/many-put-$api.csv" >"$T/many-put-$api.out" 2>&1
        s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket "many$api" --op delete --keys "$T/many-$api.txt" --yes \
            --batch 160 --out "$T/many-del-$api.csv" >/dev/null 2>&1
    else
        swiftenv "$SCHED" run --swift --container "many$api" --op put --from-dir "$IN/many" --prefix m/ \
            --out "$T/many-put-$api.csv" >"$T/many-put-$api.out" 2>&1
        swiftenv "$SCHED" run --swift --container "many$api" --op delete --keys "$T/many-$api.txt" --yes \
            --batch 160 --out "$T/many-del-$api.csv" >/dev/null 2>&1
    fi
done
many_left() { swiftenv $PY -c '
import os, sys, swiftclient
c = swiftclient.Connection(authurl=os.environ["ST_AUTH"], user=os.environ["ST_USER"], key=os.environ["ST_KEY"])
print(len(c.get_container(sys.argv[1], full_listing=True)[1]))' "$1"; }
check "delete 320 keys (300 there) in tasks of 160: rows, bulk requests, objects left (S3 | Swift)" \
    "300 ok 200, 20 missing 404, 2 requests, 0 left|300 ok 200, 20 missing 404, 2 requests, 0 left" \
    "$($PY -c '
import csv, sys
for f in sys.argv[1:]:
    rows = list(csv.DictReader(open(f)))
    print(len(rows) and "%d ok 200, %d missing 404" % (
        sum(r["status"] == "ok" and r["http"] == "200" for r in rows),
        sum(r["status"] == "missing" and r["http"] == "404" for r in rows)))' "$T/many-del-s3.csv" "$T/many-del-swift.csv" |
      paste -d'|' - - | sed "s/|/, $(grep -c 'POST /manys3%3Fdelete' "$HAUL_TEST_DIR/log/proxy.log") requests, $(many_left manys3) left|/"), $(grep -c 'POST /v1/AUTH_test%3Fbulk-delete.*HTTP/1.0 200 - - AUTH_[^ ]* [0-9]\{4,\}' "$HAUL_TEST_DIR/log/proxy.log") requests, $(many_left manyswift) left"

# Hostile answers to a bulk delete, given by a faultproxy in front of the
# store instead of the store's (tests/lib/faultproxy.py --canned): a Swift
# bulk answer that names a key not asked for and counts more deletions than
# keys sent; one that is not JSON; an S3 DeleteObjects answer that names
# only another key. None is taken at its word: each key asked is deleted
# on its own (its row from its own DELETE, 204), the key the answers named
# stays, the jobs end.
printf '%s' '{"Number Deleted": 7, "Number Not Found": 0, "Response Status": "200 OK", "Response Body": "", "Errors": [["/hostile/victim", "409 Conflict"]]}' >"$T/liar.json"
printf '<html>a proxy page, not JSON' >"$T/garbage.txt"
printf '%s' '<?xml version="1.0" encoding="UTF-8"?><DeleteResult><Deleted><Key>victim</Key></Deleted></DeleteResult>' >"$T/liar.xml"
FPN=0
for canned in "bulk-delete=200:$T/liar.json" "bulk-delete=200:$T/garbage.txt" "[?]delete=200:$T/liar.xml"; do
    FPN=$((FPN + 1))
    "$PY" tests/lib/faultproxy.py --upstream "127.0.0.1:$HAUL_TEST_SWIFT_PORT" --listen 127.0.0.1:0 \
        --canned "$canned" --ready-file "$T/fp$FPN.ready" --log "$T/fp$FPN.log" --quiet 2>>"$T/fp$FPN.err" &
    WPIDS+=($!)
done
d=$((SECONDS + 15)); while [ ! -s "$T/fp3.ready" ] && [ $SECONDS -lt $d ]; do sleep 0.05; done
sleep 0.2
hostile_seed() { swiftenv $PY -c '
import os, swiftclient
c = swiftclient.Connection(authurl=os.environ["ST_AUTH"], user=os.environ["ST_USER"], key=os.environ["ST_KEY"])
c.put_container("hostile")
for k in ("h1", "h2", "victim"): c.put_object("hostile", k, k.encode())'; }
hostile_left() { swiftenv $PY -c '
import os, swiftclient
c = swiftclient.Connection(authurl=os.environ["ST_AUTH"], user=os.environ["ST_USER"], key=os.environ["ST_KEY"])
print(" ".join(o["name"] for o in c.get_container("hostile")[1]))'; }
printf 'h1\nh2\n' >"$T/hostile.txt"
hres=()
for i in 1 2 3; do
    hostile_seed
    port=$(cat "$T/fp$i.ready")
    if [ $i -lt 3 ]; then
        env ST_AUTH="http://127.0.0.1:$port/auth/v1.0" ST_USER=test:tester ST_KEY=testing "$SCHED" run --swift \
            --container hostile --op delete --keys "$T/hostile.txt" --yes --out "$T/hostile$i.csv" >"$T/hostile$i.out" 2>&1
    else
        s3env "$SCHED" run --s3 "http://127.0.0.1:$port" --bucket hostile --op delete --keys "$T/hostile.txt" --yes \
            --out "$T/hostile$i.csv" >"$T/hostile$i.out" 2>&1
    fi
    hres+=("$? $(grep -c canned= "$T/fp$i.log") $(rows "$T/hostile$i.csv" http | paste -sd' ') / $(hostile_left)")
done
check "hostile bulk answers (Swift: foreign key and counts, not JSON; S3: another key): each key deleted on its own, the named key stays" \
    "0 1 h1 ok 204 h2 ok 204 / victim|0 1 h1 ok 204 h2 ok 204 / victim|0 1 h1 ok 204 h2 ok 204 / victim" \
    "${hres[0]}|${hres[1]}|${hres[2]}"

# A file that is not there (gone since it was listed) and one the worker
# may not read (a worker running as nobody, a file of mode 000): one
# sentence each, the other file of the job uploaded.
P=$(mktemp -d /tmp/haul-perm.XXXXXX)
chmod 755 "$P"
printf 'fine' >"$P/fine.txt"
printf 'secret' >"$P/locked.txt"
chmod 000 "$P/locked.txt"
printf '%s\t%s\n' "$P/fine.txt" k/fine "$P/gone.txt" k/gone "$P/locked.txt" k/locked >"$T/perm-keys.txt"
setpriv --reuid=65534 --regid=65534 --clear-groups "$WORKER" --queue perm --concurrency 4 --in-root "$P" \
    --out-root "$P" >>"$T/worker-nobody.log" 2>&1 &
WPIDS+=($!)
haul_swift_mkcontainer perm || fail "making container perm"
swiftenv "$SCHED" run --swift --container perm --queue perm --op put --keys "$T/perm-keys.txt" \
    --out "$T/perm.csv" >"$T/perm.out" 2>&1
check "put: a file gone and a file the worker may not read: one sentence each, the other uploaded" \
    "k/fine ok |k/gone error cannot read $P/gone.txt: No such file or directory|k/locked error cannot read $P/locked.txt: Permission denied" \
    "$($PY -c '
import csv, sys
for r in sorted(csv.DictReader(open(sys.argv[1])), key=lambda r: r["key"]):
    print(r["key"], r["status"], r["error"])' "$T/perm.csv" | paste -sd'|')"
rm -rf "$P"

# A quota exceeded: a container that takes 10 bytes (Swift's
# container_quotas) gets a 5-byte file and refuses a 20-byte one, over
# Swift and over S3; the row says so in one sentence, the job ends.
mkdir -p "$IN/q" && printf 'small' >"$IN/q/small.txt" && printf '%020d' 0 >"$IN/q/large.txt"
swiftenv $PY -c '
import os, swiftclient
c = swiftclient.Connection(authurl=os.environ["ST_AUTH"], user=os.environ["ST_USER"], key=os.environ["ST_KEY"])
for b in ("quota", "quotas3"): c.put_container(b, headers={"X-Container-Meta-Quota-Bytes": "10"})'
swiftenv "$SCHED" run --swift --container quota --op put --from-dir "$IN/q" --out "$T/quota.csv" >"$T/quota.out" 2>&1
rc1=$?
s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket quotas3 --op put --from-dir "$IN/q" --out "$T/quotas3.csv" \
    >"$T/quotas3.out" 2>&1
rc2=$?
check "quota: the small file ok, the large one refused (Swift 413, s3api 400), the jobs end (exit 1)" \
    "1 1|large.txt error 413|small.txt ok 201|large.txt error 400|small.txt ok 200" \
    "$rc1 $rc2|$(rows "$T/quota.csv" http | paste -sd'|')|$(rows "$T/quotas3.csv" http | paste -sd'|')"
check "quota: the sentences" \
    "Swift PUT quota/large.txt: 413 Request Entity Too Large: Upload exceeds quota. (a quota of the container or the account is full, or the object is larger than the store takes)|S3 PUT quotas3/large.txt: 400 EntityTooLarge (larger than the store takes in one object, or over a quota)" \
    "$($PY -c '
import csv, sys
for f in sys.argv[1:]:
    print([r["error"] for r in csv.DictReader(open(f)) if r["key"] == "large.txt"][0])' "$T/quota.csv" "$T/quotas3.csv" | paste -sd'|')"

# 5. Confinement: a source outside the worker's --in-root, and a worker
#    without one.
swiftenv "$SCHED" run --swift --container backup --op put --from-dir "$T/outside" --prefix x/ \
    --out "$T/out1.csv" >"$T/out1.out" 2>&1
grep -q "outside this worker's --in-root" "$T/out1.csv" && ! grep -q ',ok,' "$T/out1.csv" &&
    ok "put: a directory outside --in-root is refused" || fail "put outside --in-root" "$T/out1.csv"
kill "${WPIDS[@]}"; wait "${WPIDS[@]}" 2>/dev/null; WPIDS=()
"$WORKER" --concurrency 4 --out-root "$T" >>"$T/worker2.log" 2>&1 &
WPIDS+=($!)
swiftenv "$SCHED" run --swift --container backup --op put --from-dir "$TREE" --prefix y/ \
    --out "$T/noin.csv" >"$T/noin.out" 2>&1
check "put: a worker without --in-root reads nothing" "$NENTRIES" "$(grep -c 'reads no files' "$T/noin.csv")"

# 6. Files above --segment-size go in parts, at once: over S3 a multipart
#    upload (s3api's parts are 5 MiB at least), over Swift an SLO with its
#    segments in <container>_segments, named as the swift CLI names them.
#    Read back whole; verified by the parts' and the segments' MD5s;
#    --skip-existing knows them again.
kill "${WPIDS[@]}"; wait "${WPIDS[@]}" 2>/dev/null; WPIDS=()
"$WORKER" --concurrency 8 --part-streams 3 --lease 3 --in-root "$IN" --out-root "$T" --log-level debug \
    >>"$T/worker3.log" 2>&1 &
WPIDS+=($!)
SEG=$IN/seg
mkdir -p "$SEG"
head -c $((11 * 1048576 + 7)) /dev/urandom >"$SEG/big one.bin"
printf 'small' >"$SEG/small.txt"
haul_swift_mkcontainer segs3 && haul_swift_mkcontainer segsw || fail "making containers segs3, segsw"
s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket segs3 --op put --from-dir "$SEG" --prefix p/ \
    --segment-size 5M --meta run=7 --out "$T/seg-s3.csv" >"$T/seg-s3.out" 2>&1
swiftenv "$SCHED" run --swift --container segsw --op put --from-dir "$SEG" --prefix p/ \
    --segment-size 1M --meta run=7 --out "$T/seg-sw.csv" >"$T/seg-sw.out" 2>&1
check "put in parts: rows (S3 multipart: verified parts; Swift SLO: segments)" \
    "p/big one.bin ok parts|p/small.txt ok md5|p/big one.bin ok segments|p/small.txt ok md5" \
    "$(rows "$T/seg-s3.csv" verified | paste -sd'|')|$(rows "$T/seg-sw.csv" verified | paste -sd'|')"
seginfo() {
    $PY - "$HAUL_TEST_S3" "$HAUL_TEST_ST_AUTH" "$SEG/big one.bin" <<'PYEOF'
import hashlib, sys, boto3, swiftclient
want = hashlib.md5(open(sys.argv[3], "rb").read()).hexdigest()
c = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="test:tester",
                 aws_secret_access_key="testing", region_name="us-east-1")
o = c.get_object(Bucket="segs3", Key="p/big one.bin")
s3 = hashlib.md5(o["Body"].read()).hexdigest() == want
s = swiftclient.Connection(authurl=sys.argv[2], user="test:tester", key="testing")
h, body = s.get_object("segsw", "p/big one.bin")
segs = [x["name"] for x in s.get_container("segsw_segments", full_listing=True)[1]]
print("s3 %s %s run=%s | swift %s slo=%s run=%s segments=%d first=%s" % (
    "same" if s3 else "DIFFERENT", o["ETag"].strip('"').split("-")[-1], o["Metadata"].get("run"),
    "same" if hashlib.md5(body).hexdigest() == want else "DIFFERENT", h.get("x-static-large-object"),
    h.get("x-object-meta-run"), len(segs), segs[0].split("/")[2] if segs else ""))
PYEOF
}
check "put in parts: read back whole (boto3, swiftclient), metadata, 12 segments named as the swift CLI names them" \
    "s3 same 3 run=7 | swift same slo=True run=7 segments=12 first=slo" "$(seginfo)"
s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket segs3 --op put --from-dir "$SEG" --prefix p/ \
    --segment-size 5M --skip-existing --out "$T/seg-s3b.csv" >/dev/null 2>&1
swiftenv "$SCHED" run --swift --container segsw --op put --from-dir "$SEG" --prefix p/ \
    --segment-size 1M --skip-existing --out "$T/seg-swb.csv" >/dev/null 2>&1
check "put in parts: --skip-existing knows the multipart upload and the SLO" \
    "p/big one.bin skipped parts|p/big one.bin skipped segments" \
    "$(rows "$T/seg-s3b.csv" verified | grep big)|$(rows "$T/seg-swb.csv" verified | grep big)"

# The swift CLI and the AWS CLI read them back too (Debian's: /usr/bin/aws,
# an earlier aws on PATH may be another; AWS_* and a CA bundle variable of
# this machine left out, as bench/README.md says).
want=$(md5sum <"$SEG/big one.bin" | cut -c1-32)
cli_swift=$(cd "$T" && swiftenv swift -A "$HAUL_TEST_ST_AUTH" -U test:tester -K testing download segsw \
    "p/big one.bin" -o - 2>/dev/null | md5sum | cut -c1-32)
printf '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n' >"$T/aws.config"
cli_aws=$(env -u AWS_CA_BUNDLE AWS_CONFIG_FILE="$T/aws.config" AWS_SHARED_CREDENTIALS_FILE=/dev/null \
    AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing timeout 60 /usr/bin/aws \
    --endpoint-url "$HAUL_TEST_S3" s3 cp "s3://segs3/p/big one.bin" - 2>"$T/aws.err" | md5sum | cut -c1-32)
check "files put in parts: the swift CLI and the AWS CLI read them back whole" "$want $want" \
    "$cli_swift $cli_aws"

# haul's own get reads both back, verified by the parts and the segments.
mkdir -p "$T/got"
s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket segs3 --keys <(printf 'p/big one.bin\n') --op get \
    --max-inline 0 --out-dir "$T/got/s3" --out "$T/get-s3.jsonl" --format jsonl >/dev/null 2>&1
swiftenv "$SCHED" run --swift --container segsw --keys <(printf 'p/big one.bin\n') --op get \
    --max-inline 0 --out-dir "$T/got/sw" --out "$T/get-sw.jsonl" --format jsonl >/dev/null 2>&1
check "get of files put in parts: verified parts (S3) and segments (Swift), the bytes the file's" \
    "parts segments $(md5sum <"$SEG/big one.bin" | cut -c1-32) $(md5sum <"$SEG/big one.bin" | cut -c1-32)" \
    "$($PY -c 'import json,sys; print(json.loads(open(sys.argv[1]).read())["verified"], json.loads(open(sys.argv[2]).read())["verified"])' "$T/get-s3.jsonl" "$T/get-sw.jsonl") $(md5sum <"$T/got/s3/p/big one.bin" | cut -c1-32) $(md5sum <"$T/got/sw/p/big one.bin" | cut -c1-32)"

# verify against the log of a put in parts: an SLO's ETag is not the MD5 of
# its bytes, so its size is compared (verified none), or with --deep its
# bytes; a multipart upload's ETag has its "-N" and is not compared either.
swiftenv "$SCHED" run --swift --container segsw --op verify --manifest "$T/seg-sw.csv" \
    --out "$T/seg-ver.csv" >/dev/null 2>&1
swiftenv "$SCHED" run --swift --container segsw --op verify --deep --manifest "$T/seg-sw.csv" \
    --out "$T/seg-verd.csv" >/dev/null 2>&1
s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket segs3 --op verify --manifest "$T/seg-s3.csv" \
    --out "$T/seg-ver3.csv" >/dev/null 2>&1
check "verify of files put in parts: SLO by size, --deep by its bytes; multipart by size" \
    "p/big one.bin ok none|p/big one.bin ok md5|p/big one.bin ok none" \
    "$(rows "$T/seg-ver.csv" verified | grep big)|$(rows "$T/seg-verd.csv" verified | grep big)|$(rows "$T/seg-ver3.csv" verified | grep big)"

# delete over Swift: an SLO goes with its segments (and a plain object as
# before); none of the 12 segments is left.
printf 'p/big one.bin\np/small.txt\np/nothere\n' >"$T/segdel.txt"
swiftenv "$SCHED" run --swift --container segsw --op delete --keys "$T/segdel.txt" --yes \
    --out "$T/segdel.csv" >/dev/null 2>&1
check "delete an SLO: rows, and no segment left" "p/big one.bin ok|p/nothere missing|p/small.txt ok|0" \
    "$(rows "$T/segdel.csv" | paste -sd'|')|$($PY -c '
import sys, swiftclient
s = swiftclient.Connection(authurl=sys.argv[1], user="test:tester", key="testing")
print(len(s.get_container("segsw_segments", full_listing=True)[1]))' "$HAUL_TEST_ST_AUTH")"

# A multipart upload the store refuses to complete (s3api: parts under
# 5 MiB are EntityTooSmall) is aborted: an error row naming it, and no
# unfinished upload left.
s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket segs3 --op put --from-dir "$SEG" --prefix small-parts/ \
    --segment-size 1M --max-attempts 1 --out "$T/seg-small.csv" >/dev/null 2>&1
grep -q 'small-parts/big one.bin,error,400,.*EntityTooSmall' "$T/seg-small.csv" &&
    [ "$($PY -c '
import sys, boto3
c = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="test:tester", aws_secret_access_key="testing", region_name="us-east-1")
print(len(c.list_multipart_uploads(Bucket="segs3").get("Uploads", [])))' "$HAUL_TEST_S3")" = 0 ] &&
    ok "put in parts: refused at the end (EntityTooSmall): an error row, the upload aborted" ||
    fail "put in parts: refused upload not aborted" "$T/seg-small.csv"

# 7. --collate: the small files packed into zips (libzip, stored), each
#    with its sidecar <zip>.metadata listing its files as the users' backups
#    do, so --op sidecar answers as the notebook expects; the zips' files
#    are the files; a second run skips them (the zips are made the same).
COL=$IN/coll
mkdir -p "$COL/18" "$COL/44"
for f in 18/18_1.f 44/44_1.f 44/44_2.f 44/44_3.f; do head -c 300 /dev/urandom >"$COL/$f"; done
head -c 5000 /dev/urandom >"$COL/big.dat"
haul_swift_mkcontainer coll || fail "making container coll"
swiftenv "$SCHED" run --swift --container coll --op put --from-dir "$COL" --prefix dummy/ --collate 700 \
    --collate-below 1K --out "$T/coll.csv" >"$T/coll.out" 2>&1
check "collate: rows (two zips and the large file)" \
    "dummy/big.dat ok md5|dummy/collated_0.zip ok md5|dummy/collated_1.zip ok md5" \
    "$(rows "$T/coll.csv" verified | paste -sd'|')"
printf 'dummy/big.dat\ndummy/collated_0.zip\ndummy/collated_1.zip\n' >"$T/coll-keys.txt"
swiftenv "$SCHED" run --swift --container coll --op sidecar --keys "$T/coll-keys.txt" \
    --out "$T/coll-sc.csv" >/dev/null 2>&1
check "collate: --op sidecar answers the zips' files" \
    'dummy/big.dat,ok,,"",,,none|dummy/collated_0.zip,ok,200,18/18_1.f|44/44_1.f|44/44_2.f,29,,md5|dummy/collated_1.zip,ok,200,44/44_3.f,9,,md5' \
    "$(tail -n +2 "$T/coll-sc.csv" | paste -sd'|')"
zipped=$($PY - "$HAUL_TEST_ST_AUTH" "$COL" <<'PYEOF'
import io, sys, zipfile, swiftclient
s = swiftclient.Connection(authurl=sys.argv[1], user="test:tester", key="testing")
out = []
for k in ("dummy/collated_0.zip", "dummy/collated_1.zip"):
    z = zipfile.ZipFile(io.BytesIO(s.get_object("coll", k)[1]))
    for i in z.infolist():
        same = z.read(i.filename) == open(sys.argv[2] + "/" + i.filename, "rb").read()
        out.append("%s %d %s" % (i.filename, i.compress_type, "same" if same else "DIFFERENT"))
print("|".join(out))
PYEOF
)
check "collate: the zips hold the files, stored" "18/18_1.f 0 same|44/44_1.f 0 same|44/44_2.f 0 same|44/44_3.f 0 same" "$zipped"
swiftenv "$SCHED" run --swift --container coll --op put --from-dir "$COL" --prefix dummy/ --collate 700 \
    --collate-below 1K --skip-existing --out "$T/coll2.csv" >/dev/null 2>&1
check "collate: a second run skips the zips" "3" "$(grep -c ',skipped,' "$T/coll2.csv")"
check "collate: no zip left in the --out-root" "" "$(ls -A "$T" | grep '^\.haul-zip' || true)"

# 8. Sealed: a worker with a key takes a put only sealed, and the files'
#    paths and the metadata are bound to the sealed state (test_task).
"$SCHED" keygen "$T/haul.key" >/dev/null
"$WORKER" --concurrency 4 --queue sealed --key-file "$T/haul.key" --in-root "$IN" --out-root "$T" \
    >>"$T/worker-sealed.log" 2>&1 &
WPIDS+=($!)
haul_swift_mkcontainer sealedc || fail "making container sealedc"
swiftenv "$SCHED" run --swift --container sealedc --queue sealed --key-file "$T/haul.key" --op put \
    --from-dir "$COL" --prefix s/ --meta run=9 --out "$T/sealed.csv" >"$T/sealed.out" 2>&1
check "sealed put: every file ok" "s/18/18_1.f ok|s/44/44_1.f ok|s/44/44_2.f ok|s/44/44_3.f ok|s/big.dat ok" \
    "$(rows "$T/sealed.csv" | paste -sd'|')"

# 9. A worker SIGKILLed in the middle of a multipart upload: the task comes
#    back (lease 3 s) to another worker, which aborts the unfinished upload
#    before it begins its own; afterwards no upload is left unfinished and
#    the object is whole.
head -c $((100 * 1048576)) /dev/urandom >"$SEG/huge.bin"
mkdir -p "$IN/one" && mv "$SEG/huge.bin" "$IN/one/"
uploads() { $PY -c '
import sys, boto3
c = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="test:tester", aws_secret_access_key="testing", region_name="us-east-1")
print(len(c.list_multipart_uploads(Bucket="segs3").get("Uploads", [])))' "$HAUL_TEST_S3"; }
s3env "$SCHED" run --s3 "$HAUL_TEST_S3" --bucket segs3 --op put --from-dir "$IN/one" --prefix k/ \
    --segment-size 5M --out "$T/kill.csv" >"$T/kill.out" 2>&1 &
SPID=$!
# the worker's debug line once the upload has begun and its parts start
deadline=$((SECONDS + 30))
until grep -q 'bytes in 20 parts of 5242880' "$T/worker3.log" || [ $SECONDS -ge $deadline ]; do sleep 0.02; done
kill -KILL "${WPIDS[@]}"; wait "${WPIDS[@]}" 2>/dev/null; WPIDS=()
left=$(uploads)
"$WORKER" --concurrency 8 --part-streams 3 --lease 3 --in-root "$IN" --out-root "$T" \
    >>"$T/worker4.log" 2>&1 &
WPIDS+=($!)
wait $SPID
check "killed mid-upload: an unfinished upload was there, then none; the row ok and verified" \
    "1|0|k/huge.bin ok parts" "$left|$(uploads)|$(rows "$T/kill.csv" verified)"
grep -q 'aborted an unfinished multipart upload of k/huge.bin' "$T/worker4.log" &&
    ok "killed mid-upload: the next worker said it aborted the earlier attempt's upload" ||
    fail "killed mid-upload: no abort logged" "$T/worker4.log"
check "killed mid-upload: the object is the file" "$(md5sum <"$IN/one/huge.bin" | cut -c1-32)" \
    "$($PY -c '
import hashlib, sys, boto3
c = boto3.client("s3", endpoint_url=sys.argv[1], aws_access_key_id="test:tester", aws_secret_access_key="testing", region_name="us-east-1")
print(hashlib.md5(c.get_object(Bucket="segs3", Key="k/huge.bin")["Body"].read()).hexdigest())' "$HAUL_TEST_S3")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
