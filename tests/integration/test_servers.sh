#!/bin/bash
# test_servers.sh -- self-check of the test harness in tests/lib: the real servers start,
# take the seed datasets, and answer correctly over Swift (auth v1.0) and S3 (SigV4).
#
# Prints "ok   NAME" / "FAIL NAME" per check and "N passed, N failed" at the end; exits 1 if
# anything failed.  The S3 part needs Debian's python3-boto3 and is skipped (with a note)
# without it.

set -u
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=SCRIPTDIR/../lib/seed.sh
. "$here/../lib/seed.sh"

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

tmp=$(mktemp -d "${TMPDIR:-/tmp}/haul-test-servers.XXXXXX") || exit 1
trap 'haul_servers_stop; haul_servers_stop "$tmp/alone"; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

C=LSST-IR-FUSION-testfromopenstack
seed=$tmp/seed

# --- start ------------------------------------------------------------------------------
t0=$(_haul_now_ms)
if haul_servers_start "$tmp/servers"; then
    t1=$(_haul_now_ms)
    ok "servers start ($(( (t1 - t0) / 1000 )).$(printf '%03d' $(( (t1 - t0) % 1000 ))) s)"
else
    fail "servers start"
    finish
fi
sw=http://127.0.0.1:$HAUL_TEST_SWIFT_PORT
check "exports" "redis://127.0.0.1:$HAUL_TEST_REDIS_PORT/0 $sw/auth/v1.0 $sw" \
    "$HAUL_TEST_REDIS_URL $HAUL_TEST_ST_AUTH $HAUL_TEST_S3"
check "redis PING" PONG "$(haul_redis_cli ping 2>&1)"
check "redis SET/GET" "OK v" "$({ haul_redis_cli set k v; haul_redis_cli get k; } | paste -sd ' ')"

# --- seed -------------------------------------------------------------------------------
if haul_seed_notebook "$C" "$seed"; then ok "seed notebook"; else fail "seed notebook"; fi
if haul_seed_special "$C" "$seed"; then ok "seed special"; else fail "seed special"; fi
check "notebook-keys.txt has 80 keys" 80 "$(wc -l <"$seed/notebook-keys.txt" 2>/dev/null)"
check "notebook-expected.tsv has 80 lines" 80 \
    "$(wc -l <"$seed/notebook-expected.tsv" 2>/dev/null)"
check "16 zips with sidecar values" 16 \
    "$(grep -c '\.zip	.' "$seed/notebook-expected.tsv" 2>/dev/null)"
check "special-keys.txt has 6 keys" 6 "$(wc -l <"$seed/special-keys.txt" 2>/dev/null)"

# --- Swift, with curl -------------------------------------------------------------------
read -r token url <<<"$(haul_swift_token test:tester testing)"
check "auth v1.0 storage URL" "$sw/v1/AUTH_test" "${url:-}"
token=${token:-none} url=${url:-http://invalid}
sget() {   # sget PATH-ALREADY-ENCODED [curl args]: body to stdout, fails on non-2xx
    local p=$1
    shift
    curl -sS -g -f --max-time 30 -H "X-Auth-Token: $token" "$@" "$url/$p"
}

check "Swift GET dummy/collated_7.zip.metadata" "18/18_1.f|44/44_1.f|44/44_2.f" \
    "$(sget "$C/dummy/collated_7.zip.metadata")"

listing=$(sget "$C?format=plain&limit=10000")
n=$(grep -c . <<<"$listing")
if [ "$n" -ge 80 ]; then
    ok "Swift listing has 80+ names ($n)"
else
    fail "Swift listing has 80+ names" "got $n"
fi
check "Swift listing prefix=dummy is notebook-keys.txt, in order" \
    "$(cat "$seed/notebook-keys.txt")" "$(sget "$C?format=plain&prefix=dummy")"
check "Swift listing prefix=special/ is special-keys.txt" \
    "$(cat "$seed/special-keys.txt")" "$(sget "$C?format=plain&prefix=special/")"

bad=""
while IFS=$'\t' read -r key value; do
    case $key in *.zip) ;; *) continue ;; esac
    got=$(sget "$C/$key.metadata") || got="(GET failed)"
    [ "$got" = "$value" ] || bad="$bad $key: expected '$value' got '$got';"
done <"$seed/notebook-expected.tsv"
check "all 16 sidecars match notebook-expected.tsv" "" "$bad"

# Every object back, byte for byte, through one curl (haul_swift_get_many).
while IFS= read -r key; do
    printf '%s\t%s\n' "$key" "$tmp/got/$key"
done < <(cat "$seed/notebook-keys.txt" "$seed/special-keys.txt") >"$tmp/get.list"
if haul_swift_get_many "$C" "$tmp/get.list" &&
    diff -r "$seed/objects" "$tmp/got" >"$tmp/diff" 2>&1; then
    ok "all 86 objects: bytes match"
else
    fail "all 86 objects: bytes match" "$(head -n 5 "$tmp/diff" 2>/dev/null)"
fi
enc=$(haul_urlquote "special/ünï cødé/日本.txt")
check "haul_urlquote" "special/%C3%BCn%C3%AF%20c%C3%B8d%C3%A9/%E6%97%A5%E6%9C%AC.txt" "$enc"
check "Swift GET special/100%.txt with curl" "a key with a percent sign" \
    "$(sget "$C/special/100%25.txt")"
check "Swift GET special/a+b.txt with curl" "a key with a plus: not a space" \
    "$(sget "$C/special/a%2Bb.txt")"
check "special/big.bin is 300000 bytes" 300000 "$(sget "$C/special/big.bin" | wc -c)"

read -r token2 url2 <<<"$(haul_swift_token test2:tester2 testing2)"
check "second account's storage URL" "$sw/v1/AUTH_test2" "${url2:-}"
code=$(curl -s -g -o /dev/null -w '%{http_code}' -H "X-Auth-Token: ${token2:-none}" \
    "$url/$C/dummy/collated_7.zip.metadata")
check "second account cannot read test's objects" 403 "$code"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Auth-User: test:tester" \
    -H "X-Auth-Key: wrong" "$HAUL_TEST_ST_AUTH")
check "auth v1.0 with a wrong key is refused" 401 "$code"

# --- S3, with boto3 (as the seed notebook does) -----------------------------------------
if /usr/bin/python3 -c 'import boto3.session, botocore.config' 2>/dev/null; then
    s3out=$(PYTHONIOENCODING=utf-8 /usr/bin/python3 - "$HAUL_TEST_S3" "$C" <<'EOF' 2>&1
import sys
import boto3
from botocore.config import Config
endpoint, bucket_name = sys.argv[1], sys.argv[2]
session = boto3.Session(aws_access_key_id='test:tester', aws_secret_access_key='testing')
resource = session.resource('s3', endpoint_url=endpoint, region_name='us-east-1',
                            config=Config(s3={'addressing_style': 'path'},
                                          signature_version='s3v4',
                                          retries={'max_attempts': 1}))
print('BUCKETS', ' '.join(b.name for b in resource.buckets.all()))
bucket = resource.Bucket(bucket_name)
meta = bucket.Object('dummy/collated_7.zip.metadata').get()['Body'].read().decode('UTF-8')
print('META', meta)
uni = bucket.Object('special/\u00fcn\u00ef c\u00f8d\u00e9/\u65e5\u672c.txt').get()['Body'].read()
print('UNI', uni.decode('utf-8').strip())
for obj in bucket.objects.all():
    print('KEY', obj.key)
bad = boto3.Session(aws_access_key_id='test:tester', aws_secret_access_key='wrong').client(
    's3', endpoint_url=endpoint, region_name='us-east-1',
    config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
try:
    bad.list_objects_v2(Bucket=bucket_name)
    print('BADSECRET accepted')
except Exception as e:
    print('BADSECRET', getattr(e, 'response', {}).get('Error', {}).get('Code', repr(e)))
EOF
    )
    check "S3 list buckets" "BUCKETS $C" "$(grep '^BUCKETS' <<<"$s3out")"
    check "S3 GET dummy/collated_7.zip.metadata" "META 18/18_1.f|44/44_1.f|44/44_2.f" \
        "$(grep '^META' <<<"$s3out")"
    check "S3 GET a non-ASCII key" "UNI 日本語のテキスト (UTF-8)" "$(grep '^UNI' <<<"$s3out")"
    check "S3 listing is both datasets, in order" \
        "$(cat "$seed/notebook-keys.txt" "$seed/special-keys.txt" | LC_ALL=C sort)" \
        "$(sed -n 's/^KEY //p' <<<"$s3out")"
    check "S3 with a wrong secret is refused" "BADSECRET SignatureDoesNotMatch" \
        "$(grep '^BADSECRET' <<<"$s3out")"
    if grep -q Traceback <<<"$s3out"; then fail "S3 script" "$(tail -n 5 <<<"$s3out")"; fi
else
    echo "skip S3 checks: python3-boto3 is not installed (apt-get install python3-boto3)"
fi

# --- stop -------------------------------------------------------------------------------
pids=$(cat "$HAUL_TEST_DIR"/run/*.pid 2>/dev/null | tr '\n' ' ')
haul_servers_stop
left=""
for sid in $pids; do
    for p in $(pgrep -s "$sid" 2>/dev/null); do _haul_alive "$p" && left="$left $p"; done
done
check "stop leaves no server process" "" "$left"
check "stop leaves the proxy port closed" 000 \
    "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$HAUL_TEST_S3/healthcheck")"
haul_servers_stop && ok "stop again is a no-op"

# --- a store alone on a fixed port, as docker/objstore starts it ------------------------
fixed=$(haul_free_port)
if HAUL_TEST_NO_REDIS=1 HAUL_TEST_SWIFT_FIXED_PORT=$fixed haul_servers_start "$tmp/alone"; then
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$HAUL_TEST_S3/healthcheck")
    rpid=$(ls "$tmp/alone/run/redis.pid" 2>/dev/null || echo none)
    check "store alone: the proxy on the fixed port, no redis" \
        "$fixed http://127.0.0.1:$fixed/auth/v1.0 200 none" \
        "$HAUL_TEST_SWIFT_PORT $HAUL_TEST_ST_AUTH$HAUL_TEST_REDIS_URL $code $rpid"
    # The port is ours now: a second start on it must fail at once, not move elsewhere.
    t0=$(_haul_now_ms)
    if HAUL_TEST_NO_REDIS=1 HAUL_TEST_SWIFT_FIXED_PORT=$fixed \
        haul_servers_start "$tmp/taken" 2>"$tmp/taken.err"; then
        fail "store alone: a second start on the same fixed port succeeded"
        haul_servers_stop "$tmp/taken"
    else
        t1=$(_haul_now_ms)
        check "store alone: a taken fixed port is an error naming it" 1 \
            "$(grep -c "port $fixed (HAUL_TEST_SWIFT_FIXED_PORT) is taken" "$tmp/taken.err")"
        echo "     (refused after $(( (t1 - t0) / 1000 )).$(printf '%03d' $(( (t1 - t0) % 1000 ))) s)"
    fi
    haul_servers_stop "$tmp/alone"
else
    fail "store alone on fixed port $fixed (HAUL_TEST_NO_REDIS=1 HAUL_TEST_SWIFT_FIXED_PORT)"
fi

finish
