#!/bin/bash
# test_rgw.sh -- self-check of tests/lib/rgw.sh: a real Ceph RADOS Gateway (Ceph 16.2, mon +
# memstore OSD + radosgw) starts, serves S3 (boto3) and Swift (the swift CLI and curl) on
# one port, runs beside a second cluster, stops cleanly and starts again in the same
# directory; and the facts of docs/notes-rgw-segmented.md about segmented objects (S3
# multipart, Swift SLO and DLO) and dot segments in keys still hold.
#
# Prints "ok   NAME" / "FAIL NAME" per check and "N passed, N failed" at the end; exits 1 if
# anything failed.  When the Ceph packages (HAUL_TEST_RGW_PKGS), python3-boto3 or
# python3-swiftclient are missing and cannot be installed (not root, no network), it prints
# "SKIP ..." with the reason and "0 passed, 0 failed", and exits 0.
#
#   bash tests/integration/test_rgw.sh        (about 20 s; it installs the packages as root)

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../lib/rgw.sh
. "$here/../lib/rgw.sh"

passed=0 failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() {
    echo "FAIL $1"
    shift
    local line
    for line in "$@"; do printf '     %s\n' "$line"; done
    failed=$((failed + 1))
}
# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1" "expected: $2" "actual:   $3"; fi
}
finish() {
    echo "$passed passed, $failed failed"
    [ "$failed" -eq 0 ]
    exit
}
skip() {
    echo "SKIP RGW test: $1"
    echo "0 passed, 0 failed"
    exit 0
}
secs() { printf '%d.%03d' $(( $1 / 1000 )) $(( $1 % 1000 )); }

# --- packages ---------------------------------------------------------------------------
if ! deps_out=$(haul_rgw_deps 2>&1); then
    skip "the Ceph packages cannot be installed ($HAUL_TEST_RGW_PKGS): $(tail -n 3 <<<"$deps_out" | paste -sd ' ')"
fi
if ! deps_out=$("$here/../lib/deps.sh" python3-boto3 python3-swiftclient 2>&1); then
    skip "python3-boto3 and python3-swiftclient cannot be installed: $(tail -n 3 <<<"$deps_out" | paste -sd ' ')"
fi
haul_rgw_available || skip "programs missing after the install"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/haul-test-rgw.XXXXXX") || exit 1
trap 'haul_rgw_stop "$tmp/b"; haul_rgw_stop "$tmp/a"; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
PY=/usr/bin/python3
B=LSST-IR-FUSION-testfromopenstack

# _pids DIR: the daemons' pids (the session leaders: each daemon execs in place).
_pids() { cat "$1"/run/{mon,osd,rgw}.pid 2>/dev/null | paste -sd ' '; }
# _left PIDS: those still alive.
_left() {
    local p out=""
    for p in $1; do _haul_rgw_alive "$p" && out="$out $p"; done
    echo "$out"
}
# _rss_mib PIDS: their VmRSS together, MiB.
_rss_mib() {
    local p kb=0 v
    for p in $1; do
        v=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null) || v=0
        kb=$(( kb + ${v:-0} ))
    done
    echo $(( kb / 1024 ))
}
# s3py ARGS...: run a boto3 snippet (stdin) against the RGW of the current environment.
s3py() {
    PYTHONIOENCODING=utf-8 "$PY" - "$@" 2>&1
}
S3_PRELUDE='
import os, sys, hashlib, boto3
from botocore.config import Config
def client(ak=None, sk=None):
    return boto3.client("s3", endpoint_url=os.environ["HAUL_TEST_RGW_S3"],
        region_name=os.environ["HAUL_TEST_RGW_REGION"],
        aws_access_key_id=ak or os.environ["HAUL_TEST_RGW_ACCESS_KEY"],
        aws_secret_access_key=sk or os.environ["HAUL_TEST_RGW_SECRET_KEY"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))
s3 = client()
'
sw() { swift -q -A "$HAUL_TEST_RGW_ST_AUTH" -U "$HAUL_TEST_RGW_SWIFT_USER" -K "$HAUL_TEST_RGW_SWIFT_KEY" "$@"; }
# stoken: set TOK and SURL (auth v1.0 as the first user).
stoken() {
    local h
    h=$(curl -sS -D - -o /dev/null -H "X-Auth-User: $HAUL_TEST_RGW_SWIFT_USER" \
        -H "X-Auth-Key: $HAUL_TEST_RGW_SWIFT_KEY" "$HAUL_TEST_RGW_ST_AUTH" | tr -d '\r')
    TOK=$(awk -F': ' 'tolower($1) == "x-auth-token" {print $2}' <<<"$h")
    SURL=$(awk -F': ' 'tolower($1) == "x-storage-url" {print $2}' <<<"$h")
}
# hdr NAME: the value of header NAME (any case) in the headers on stdin.
hdr() { tr -d '\r' | awk -v n="${1,,}" -F': ' 'tolower($1) == n {print $2}'; }
# s3curl ARGS...: curl signing SigV4 as the first user (RGW wants x-amz-content-sha256).
s3curl() {
    curl -sS -g --aws-sigv4 "aws:amz:$HAUL_TEST_RGW_REGION:s3" \
        --user "$HAUL_TEST_RGW_ACCESS_KEY:$HAUL_TEST_RGW_SECRET_KEY" \
        -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$@"
}

# roundtrip TAG: bucket and object both ways, with boto3 and the swift CLI.
roundtrip() {
    local tag=$1 out
    out=$(s3py "$B" <<EOF
$S3_PRELUDE
b = sys.argv[1]
s3.create_bucket(Bucket=b)
s3.put_object(Bucket=b, Key="from-s3/x.txt", Body=b"written over S3")
print("S3GET", s3.get_object(Bucket=b, Key="from-s3/x.txt")["Body"].read().decode())
other = client(os.environ["HAUL_TEST_RGW_ACCESS_KEY2"], os.environ["HAUL_TEST_RGW_SECRET_KEY2"])
try:
    other.head_object(Bucket=b, Key="from-s3/x.txt")
    print("OTHER allowed")
except Exception as e:
    print("OTHER", e.response["ResponseMetadata"]["HTTPStatusCode"])
EOF
    )
    check "$tag: boto3 create bucket $B, PUT, GET" "S3GET written over S3" \
        "$(grep '^S3GET' <<<"$out" || tail -n 3 <<<"$out")"
    check "$tag: the second user gets 403 on the first user's object" "OTHER 403" \
        "$(grep '^OTHER' <<<"$out" || tail -n 3 <<<"$out")"
    printf 'written over Swift' >"$tmp/sw.txt"
    (cd "$tmp" && sw post swc && sw upload --object-name from-swift/y.txt swc sw.txt) ||
        fail "$tag: swift CLI post/upload"
    check "$tag: swift CLI download what Swift wrote" "written over Swift" \
        "$(sw download swc from-swift/y.txt -o - 2>&1)"
    check "$tag: swift CLI download what S3 wrote" "written over S3" \
        "$(sw download "$B" from-s3/x.txt -o - 2>&1)"
    out=$(s3py <<EOF
$S3_PRELUDE
print("S3GET", s3.get_object(Bucket="swc", Key="from-swift/y.txt")["Body"].read().decode())
EOF
    )
    check "$tag: boto3 GET what Swift wrote" "S3GET written over Swift" \
        "$(grep '^S3GET' <<<"$out" || tail -n 3 <<<"$out")"
}

# --- start A ----------------------------------------------------------------------------
t0=$(_haul_rgw_now_ms)
if haul_rgw_start "$tmp/a"; then
    t1=$(_haul_rgw_now_ms)
    ok "start A ($(secs $((t1 - t0))) s)"
else
    fail "start A"
    finish
fi
pids_a=$(_pids "$tmp/a")
echo "     (mon, osd, rgw: pids $pids_a; RSS $(_rss_mib "$pids_a") MiB together)"
p=$HAUL_TEST_RGW_PORT
check "exports" "http://127.0.0.1:$p http://127.0.0.1:$p/auth/1.0 default haulak haulsk haul:swift haulswiftkey" \
    "$HAUL_TEST_RGW_S3 $HAUL_TEST_RGW_ST_AUTH $HAUL_TEST_RGW_REGION $HAUL_TEST_RGW_ACCESS_KEY \
$HAUL_TEST_RGW_SECRET_KEY $HAUL_TEST_RGW_SWIFT_USER $HAUL_TEST_RGW_SWIFT_KEY"
check "rgw-env.sh names the same port" "$p" \
    "$(bash -c '. "$1/rgw-env.sh" && echo "$HAUL_TEST_RGW_PORT"' sh "$tmp/a")"
stoken
check "Swift storage URL" "http://127.0.0.1:$p/swift/v1" "$SURL"
check "auth v1.0 with a wrong key is refused" 401 \
    "$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-User: haul:swift" \
        -H "X-Auth-Key: wrong" "$HAUL_TEST_RGW_ST_AUTH")"
check "nothing in /etc/ceph or /var/run/ceph" "" \
    "$(ls /etc/ceph/ceph.conf /var/run/ceph/*.asok 2>/dev/null)"
roundtrip A

# --- B beside A -------------------------------------------------------------------------
t0=$(_haul_rgw_now_ms)
if haul_rgw_start "$tmp/b"; then
    t1=$(_haul_rgw_now_ms)
    ok "start B while A runs ($(secs $((t1 - t0))) s)"
    pids_b=$(_pids "$tmp/b")
    mon_a=$(bash -c '. "$1/rgw-env.sh" && echo "$HAUL_TEST_RGW_MON_PORT"' sh "$tmp/a")
    if [ "$HAUL_TEST_RGW_PORT" != "$p" ] && [ "$HAUL_TEST_RGW_MON_PORT" != "$mon_a" ]; then
        ok "B has other ports ($HAUL_TEST_RGW_PORT, mon $HAUL_TEST_RGW_MON_PORT)"
    else
        fail "B has other ports" "A: $p, mon $mon_a; B: $HAUL_TEST_RGW_PORT, mon $HAUL_TEST_RGW_MON_PORT"
    fi
    check "B is another cluster: no bucket $B there" 404 \
        "$(s3curl -o /dev/null -w '%{http_code}' -I "$HAUL_TEST_RGW_S3/$B")"
    roundtrip B
    haul_rgw_stop "$tmp/b"
    check "stop B leaves no B process" "" "$(_left "$pids_b")"
else
    fail "start B while A runs"
fi

# --- facts about segmented objects, on A ------------------------------------------------
# shellcheck source=/dev/null
. "$tmp/a/rgw-env.sh"
stoken
head -c $((11 * 1024 * 1024)) /dev/urandom >"$tmp/mp11"
head -c $((2 * 1024 * 1024 + 512 * 1024)) /dev/urandom >"$tmp/seg25"
out=$(s3py "$tmp/mp11" <<EOF
$S3_PRELUDE
from boto3.s3.transfer import TransferConfig
s3.create_bucket(Bucket="facts")
cfg = TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20)
s3.upload_file(sys.argv[1], "facts", "mp11", Config=cfg)
d = open(sys.argv[1], "rb").read()
parts = [d[i:i + (5 << 20)] for i in range(0, len(d), 5 << 20)]
print("WANT", '"%s-%d"' % (hashlib.md5(b"".join(hashlib.md5(x).digest() for x in parts)).hexdigest(), len(parts)))
r = s3.head_object(Bucket="facts", Key="mp11", PartNumber=1)
print("PART1", r["ContentLength"], r["ETag"], r.get("PartsCount"))
EOF
)
want=$(sed -n 's/^WANT //p' <<<"$out")
h=$(s3curl -I "$HAUL_TEST_RGW_S3/facts/mp11")
check "multipart (5+5+1 MiB): S3 ETag is md5 of the parts' MD5s, -3" "${want:-?}" "$(hdr etag <<<"$h")"
check "multipart: boto3 HEAD PartNumber=1 is the whole object, no PartsCount" \
    "PART1 11534336 ${want:-?} None" "$(grep '^PART1' <<<"$out" || tail -n 3 <<<"$out")"
h=$(s3curl -D - -o "$tmp/got" "$HAUL_TEST_RGW_S3/facts/mp11?partNumber=1")
check "multipart: GET ?partNumber=1 is 200, the whole object" "200 11534336 11534336 no-parts-count" \
    "$(head -n 1 <<<"$h" | awk '{print $2}') $(hdr content-length <<<"$h") \
$(stat -c %s "$tmp/got") \
$(grep -qi '^x-amz-mp-parts-count' <<<"$h" && echo parts-count || echo no-parts-count)"
h=$(curl -sS -I -H "X-Auth-Token: $TOK" "$SURL/facts/mp11")
check "multipart over Swift: etag unquoted, no X-Static-Large-Object" \
    "${want//\"/} none" "$(hdr etag <<<"$h") $(hdr x-static-large-object <<<"$h" | grep . || echo none)"
check "multipart over Swift: ?multipart-manifest=get is the object's bytes" 11534336 \
    "$(curl -sS -o - -H "X-Auth-Token: $TOK" "$SURL/facts/mp11?multipart-manifest=get" | wc -c)"

cp "$tmp/seg25" "$tmp/slo25" && cp "$tmp/seg25" "$tmp/dlo25"
(cd "$tmp" && sw post slofacts && sw post dlofacts &&
    sw upload --use-slo -S 1048576 --object-name slo1 slofacts slo25 &&
    sw upload -S 1048576 --object-name dlo1 dlofacts dlo25) || fail "swift upload SLO and DLO"
segw=$("$PY" - "$tmp/seg25" <<'EOF'
import hashlib, sys
d = open(sys.argv[1], "rb").read()
print('"%s"' % hashlib.md5("".join(hashlib.md5(d[i:i + 1048576]).hexdigest()
                                   for i in range(0, len(d), 1048576)).encode()).hexdigest())
EOF
)
h=$(curl -sS -I -H "X-Auth-Token: $TOK" "$SURL/slofacts/slo1")
check "SLO over Swift: ETag is quoted md5 of the concatenated segment ETags; X-Static-Large-Object" \
    "$segw True 2621440" \
    "$(hdr etag <<<"$h") $(hdr x-static-large-object <<<"$h") $(hdr content-length <<<"$h")"
h=$(s3curl -I "$HAUL_TEST_RGW_S3/slofacts/slo1")
check "SLO over S3: same ETag and length" "$segw 2621440" \
    "$(hdr etag <<<"$h") $(hdr content-length <<<"$h")"
h=$(curl -sS -D - -o "$tmp/man" -H "X-Auth-Token: $TOK" "$SURL/slofacts/slo1?multipart-manifest=get")
check "SLO: ?multipart-manifest=get answers an empty body (no JSON manifest)" \
    "0 d41d8cd98f00b204e9800998ecf8427e" "$(stat -c %s "$tmp/man") $(hdr etag <<<"$h")"
check "SLO in the Swift listing: hash of nothing, bytes = the manifest's length (452)" \
    "d41d8cd98f00b204e9800998ecf8427e 452" \
    "$(curl -sS -H "X-Auth-Token: $TOK" "$SURL/slofacts?format=json" | "$PY" -c \
        'import json, sys; o = json.load(sys.stdin)[0]; print(o["hash"], o["bytes"])')"
h=$(s3curl -D - -o "$tmp/got" -H 'Range: bytes=1048576-1048585' "$HAUL_TEST_RGW_S3/slofacts/slo1")
check "SLO over S3: a Range GET's Content-Range says 0-END (wrong start), the body is right" \
    "bytes 0-1048585/2621440 10 same" \
    "$(hdr content-range <<<"$h") $(hdr content-length <<<"$h") \
$(cmp -s "$tmp/got" <(tail -c +1048577 "$tmp/seg25" | head -c 10) && echo same || echo differs)"
h=$(curl -sS -I -H "X-Auth-Token: $TOK" "$SURL/dlofacts/dlo1")
check "DLO over Swift: X-Object-Manifest, ETag as for the SLO" \
    "dlofacts_segments/dlo1/ $segw 2621440" \
    "$(hdr x-object-manifest <<<"$h" | sed 's|/[0-9.]*/2621440/1048576/$|/|') \
$(hdr etag <<<"$h") $(hdr content-length <<<"$h")"
h=$(s3curl -I "$HAUL_TEST_RGW_S3/dlofacts/dlo1")
check "DLO over S3: X-Object-Manifest too, same ETag" "yes $segw" \
    "$(hdr x-object-manifest <<<"$h" | grep -q . && echo yes || echo no) $(hdr etag <<<"$h")"

H="X-Auth-Token: $TOK"
curl -sS -o /dev/null -X PUT -H "$H" "$SURL/dots"
printf 'body-of-b' | curl -sS -o /dev/null --path-as-is -X PUT --data-binary @- -H "$H" "$SURL/dots/b"
printf 'body-of-a/../b' | curl -sS -o /dev/null --path-as-is -X PUT --data-binary @- -H "$H" "$SURL/dots/a/../b"
check "key a/../b is its own object (no dot-segment folding), b is untouched" \
    "body-of-a/../b body-of-b a/../b,b" \
    "$(curl -sS --path-as-is -H "$H" "$SURL/dots/a/../b") \
$(curl -sS --path-as-is -H "$H" "$SURL/dots/b") $(curl -sS -H "$H" "$SURL/dots" | paste -sd ,)"

# --- stop A, start again in the same directory ------------------------------------------
t0=$(_haul_rgw_now_ms)
haul_rgw_stop "$tmp/a"
t1=$(_haul_rgw_now_ms)
check "stop A leaves no A process ($(secs $((t1 - t0))) s)" "" "$(_left "$pids_a")"
check "the OSD stopped cleanly: memstore wrote its PGs" yes \
    "$(ls "$tmp/a/osd/osd.0/"*_head >/dev/null 2>&1 && echo yes || echo no)"
haul_rgw_stop "$tmp/a" && ok "stop again is a no-op"
t0=$(_haul_rgw_now_ms)
if haul_rgw_start "$tmp/a"; then
    t1=$(_haul_rgw_now_ms)
    ok "start again in A's directory: a new cluster ($(secs $((t1 - t0))) s)"
    check "the new cluster has no bucket $B" 404 \
        "$(s3curl -o /dev/null -w '%{http_code}' -I "$HAUL_TEST_RGW_S3/$B")"
    roundtrip A2
    pids_a=$(_pids "$tmp/a")
    haul_rgw_stop
    check "stop (default DIR) leaves no process" "" "$(_left "$pids_a")"
else
    fail "start again in A's directory"
fi
finish
