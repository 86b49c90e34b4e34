#!/usr/bin/env bash
# The users' store: haul against a real Ceph RADOS Gateway (Ceph 16.2,
# tests/lib/rgw.sh), for what it does differently from Swift's s3api
# (docs/notes-rgw-segmented.md): it ignores partNumber (so a multipart
# object's part size is found among the sizes clients use), answers an empty
# body for ?multipart-manifest=get (so an SLO over Swift cannot be checked
# segment by segment: ok, not verified), and shows X-Object-Manifest over S3 too
# (so a DLO is checked by its segments over both APIs). Every body is compared
# byte for byte, and `verified` checked. Skipped, saying so, when the Ceph
# packages cannot be installed (not root).
set -u
cd "$(dirname "$0")/../.."
TOP=$PWD
. tests/lib/rgw.sh
. tests/lib/testlib.sh
PY=/usr/bin/python3
SCHED=$TOP/bin/haul-scheduler WORKER=$TOP/bin/haul-worker
if ! out=$(haul_rgw_deps 2>&1) || ! out=$(tests/lib/deps.sh python3-boto3 python3-swiftclient redis-server 2>&1); then
    echo "SKIP haul against Ceph RGW: $(tail -n 2 <<<"$out" | paste -sd ' ')"
    echo "0 passed, 0 failed"
    exit 0
fi
T=$(mktemp -d /tmp/haul-edges-rgw.XXXXXX)
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
B=segtest

# The objects: an S3 multipart upload (boto3, 5 MiB parts), a Swift SLO and a
# DLO (the swift CLI, 1 MiB segments), a plain object. The expected bytes stay
# in $T/objects.
mkdir -p "$T/objects"
$PY - "$T/objects" <<'PYEOF' || { echo "FAIL seeding"; echo "0 passed, 1 failed"; exit 1; }
import hashlib, os, random, subprocess, sys
import boto3
from boto3.s3.transfer import TransferConfig
d = sys.argv[1]
rnd = random.Random(42)
def data(n): return bytes(rnd.getrandbits(8) for _ in range(n)) if n < 200000 else os.urandom(n)
sizes = {"multipart.bin": 11 * 1048576 + 12345, "slo.bin": 2621443, "dlo.bin": 2621447, "plain.bin": 100003}
for k, n in sizes.items():
    open(os.path.join(d, k), "wb").write(data(n))
s3 = boto3.client("s3", endpoint_url=os.environ["HAUL_TEST_RGW_S3"], region_name="default",
                  aws_access_key_id=os.environ["HAUL_TEST_RGW_ACCESS_KEY"],
                  aws_secret_access_key=os.environ["HAUL_TEST_RGW_SECRET_KEY"])
s3.create_bucket(Bucket="segtest")
s3.upload_file(os.path.join(d, "multipart.bin"), "segtest", "multipart.bin",
               Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
s3.upload_file(os.path.join(d, "plain.bin"), "segtest", "plain.bin")
sw = ["swift", "-A", os.environ["HAUL_TEST_RGW_ST_AUTH"], "-U", os.environ["HAUL_TEST_RGW_SWIFT_USER"],
      "-K", os.environ["HAUL_TEST_RGW_SWIFT_KEY"]]
for k, flags in (("slo.bin", ["--use-slo"]), ("dlo.bin", [])):
    subprocess.run(sw + ["upload", "-S", "1048576"] + flags + ["--object-name", k, "segtest", os.path.join(d, k)],
                   check=True, stdout=subprocess.DEVNULL)
with open(os.path.join(d, "..", "expected.tsv"), "w") as f:
    for k in sorted(sizes):
        b = open(os.path.join(d, k), "rb").read()
        f.write("%s\t%d\t%s\n" % (k, len(b), hashlib.md5(b).hexdigest()))
PYEOF
cut -f1 "$T/expected.tsv" >"$T/keys.txt"
"$WORKER" --concurrency 8 --out-root "$T" 2>"$T/worker.log" &
PIDS+=($!)

# get_check API WANT: run a get over API, compare every file with its object
# and `verified` with WANT ("key=how,...").
get_check() {
    local api=$1 want=$2 rc
    if [ "$api" = s3 ]; then
        env -u ST_AUTH AWS_ACCESS_KEY_ID="$HAUL_TEST_RGW_ACCESS_KEY" AWS_SECRET_ACCESS_KEY="$HAUL_TEST_RGW_SECRET_KEY" \
            "$SCHED" run --s3 "$HAUL_TEST_RGW_S3" --region default --bucket "$B" --keys "$T/keys.txt" --op get \
            --max-inline 0 --out-dir "$T/get-$api" --format jsonl --out "$T/get-$api.jsonl" 2>"$T/get-$api.err"
    else
        env ST_AUTH="$HAUL_TEST_RGW_ST_AUTH" ST_USER="$HAUL_TEST_RGW_SWIFT_USER" ST_KEY="$HAUL_TEST_RGW_SWIFT_KEY" \
            "$SCHED" run --swift --container "$B" --keys "$T/keys.txt" --op get \
            --max-inline 0 --out-dir "$T/get-$api" --format jsonl --out "$T/get-$api.jsonl" 2>"$T/get-$api.err"
    fi
    rc=$?
    [ $rc -eq 0 ] || { echo "exit $rc"; return 1; }
    $PY - "$T/get-$api.jsonl" "$T/objects" "$want" <<'PYEOF'
import json, sys
want = dict(kv.split("=") for kv in sys.argv[3].split(","))
bad = 0
for l in open(sys.argv[1]):
    r = json.loads(l)
    same = r.get("path") and open(r["path"], "rb").read() == open(sys.argv[2] + "/" + r["key"], "rb").read()
    ok = r["status"] == "ok" and same and r.get("verified") == want[r["key"]]
    print("%-4s %-14s verified=%-8s bytes=%s%s" % ("ok" if ok else "BAD", r["key"], r.get("verified"),
          r.get("bytes"), "" if same else " (bytes differ)"))
    bad += not ok
sys.exit(1 if bad else 0)
PYEOF
}

if get_check s3 "multipart.bin=parts,slo.bin=none,dlo.bin=segments,plain.bin=md5" >"$T/s3.check"; then
    ok "RGW over S3: multipart verified by its parts (partNumber ignored: 5 MiB found), DLO by its segments, SLO ok and not verified, plain by MD5"
    sed 's/^/       /' "$T/s3.check"
else fail "RGW over S3" "$T/s3.check"; tail -3 "$T/get-s3.err"; fi
if grep -q "does not tell part sizes" "$T/worker.log"; then ok "the worker noted once that RGW does not tell part sizes"
else fail "no note that RGW ignores partNumber" "$T/worker.log"; fi
if get_check swift "multipart.bin=parts,slo.bin=none,dlo.bin=segments,plain.bin=md5" >"$T/swift.check"; then
    ok "RGW over Swift: multipart by its parts, DLO by its segments, SLO ok and not verified (RGW answers no manifest), plain by MD5"
    sed 's/^/       /' "$T/swift.check"
else fail "RGW over Swift" "$T/swift.check"; tail -3 "$T/get-swift.err"; fi
if grep -q "SLO manifest cannot be used to verify it" "$T/worker.log"; then
    ok "the worker said why the SLO was not verified: $(grep -o 'the SLO manifest cannot be used.*' "$T/worker.log" | head -1 | cut -c1-120)"
else fail "no reason given for the unverified SLO" "$T/worker.log"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
