#!/usr/bin/env bash
# test_fakes_selftest.sh -- a developer aid, NOT an integration test: checks the two fake
# servers themselves, tests/lib/fakeauth.py (fake Swift auth v1.0) and
# tests/lib/sinkserver.py (a TCP sink that records what it is sent), with curl, on
# 127.0.0.1 only.  Needs only /usr/bin/python3 and curl (with gopher and dict, as Debian's).
#
#   tests/lib/test_fakes_selftest.sh      prints ok/FAIL lines and "N passed, N failed";
#                                         exits 1 if anything failed
# HAUL_SELFTEST_KEEP=1 keeps the scratch directory (logs of every server) and prints it.
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/testlib.sh
. "$here/testlib.sh"
py=/usr/bin/python3
dir=$(mktemp -d)
running=()

cleanup() {
    local p alive=()
    for p in "${running[@]}"; do kill -0 "$p" 2>/dev/null && alive+=("$p"); done
    [ ${#alive[@]} -gt 0 ] && haul_stop "${alive[@]}"
    if [ -n "${HAUL_SELFTEST_KEEP:-}" ]; then echo "kept $dir"; else rm -rf "$dir"; fi
}
trap cleanup EXIT

# start NAME SCRIPT ARGS...: start tests/lib/SCRIPT, stdout in $dir/NAME.out, stderr in
# $dir/NAME.err; sets $pid and $port (from its first stdout line, "port=N").
start() {
    local name=$1 script=$2 i
    shift 2
    port=
    "$py" "$here/$script" "$@" >"$dir/$name.out" 2>"$dir/$name.err" &
    pid=$!
    running+=("$pid")
    for i in $(seq 200); do
        port=$(sed -n '1s/^port=\([0-9][0-9]*\)$/\1/p' "$dir/$name.out")
        [ -n "$port" ] && return 0
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    fail "$name: started and printed port=N first" "$dir/$name.err"
    return 1
}

# stop NAME PID: SIGTERM; ok when it exits 0 within 3 s.
stop() {
    local t0 t1 rc
    t0=$(date +%s%N)
    haul_stop "$2"
    rc=$?
    t1=$(date +%s%N)
    if [ "$rc" = 0 ] && [ $(((t1 - t0) / 1000000)) -lt 3000 ]; then
        ok "$1: SIGTERM: exit 0 in $(((t1 - t0) / 1000000)) ms"
    else
        fail "$1: SIGTERM: exit $rc in $(((t1 - t0) / 1000000)) ms (want 0 within 3000)" "$dir/$1.err"
    fi
}

KEY='s3cr3t-KEY-value'
# auth PATH [curl args...]: GET with credentials; headers in $dir/h; prints the status code.
auth() {
    local path=$1
    shift
    curl -s -o /dev/null -D "$dir/h" -w '%{http_code}' --max-time 5 \
        -H 'X-Auth-User: test:tester' -H "X-Auth-Key: $KEY" "$@" "http://127.0.0.1:$port$path"
}
# hdr NAME: that header's value in $dir/h (empty when absent).
hdr() { sed -n "s/^$1: //Ip" "$dir/h" | tr -d '\r'; }
ms() { echo $(($(date +%s%N) / 1000000)); }
# wait_for CMD...: run CMD every 0.05 s until it succeeds, for at most 5 s.
wait_for() {
    local _
    for _ in $(seq 100); do "$@" && return 0; sleep 0.05; done
    return 1
}

# ---- fakeauth.py: arguments and help ------------------------------------------------------
out=$("$py" "$here/fakeauth.py" --help 2>&1)
rc=$?
miss=
for w in "FAKE SERVER" "storage-url=URL" "slow=SECONDS[,then=URL]" stall "status=N" \
         --token --storage-url --count-file --log --port "port=N" SIGTERM; do
    case $out in *"$w"*) ;; *) miss="$miss [$w]" ;; esac
done
check "fakeauth --help: exit 0, documents every mode and option" "0 " "$rc $miss"
for m in bogus status=99 status=x slow=-1 slow=x slow=1,x=y ""; do
    "$py" "$here/fakeauth.py" --mode "$m" >/dev/null 2>&1
    check "fakeauth --mode '$m' refused (exit 2)" 2 $?
done

# ---- fakeauth.py: storage-url mode, token, count file, log --------------------------------
gopher='gopher://127.0.0.1:6379/_SET%20pwned%201'
if start fa1 fakeauth.py --mode "storage-url=$gopher" --token AUTH_tkselftest \
        --count-file "$dir/fa1.count" --log "$dir/fa1.log"; then
    check "fakeauth: port=N is the only stdout line" "port=$port" "$(cat "$dir/fa1.out")"
    check "fakeauth: count file 0 at start" 0 "$(cat "$dir/fa1.count")"
    check "storage-url: GET /auth/v1.0 -> 200" 200 "$(auth /auth/v1.0)"
    check "storage-url: X-Auth-Token is --token" AUTH_tkselftest "$(hdr X-Auth-Token)"
    check "storage-url: X-Storage-Url is the hostile URL" "$gopher" "$(hdr X-Storage-Url)"
    check "storage-url: X-Auth-Token-Expires 3600" 3600 "$(hdr X-Auth-Token-Expires)"
    check "storage-url: GET /auth/1.0 -> 200" 200 "$(auth /auth/1.0)"
    check "storage-url: GET /auth?x=1 -> 200" 200 "$(auth '/auth?x=1')"
    check "storage-url: GET /v1/AUTH_test -> 404" 404 "$(auth /v1/AUTH_test)"
    check "storage-url: GET /auth/v2 -> 404" 404 "$(auth /auth/v2)"
    check "storage-url: POST /auth/v1.0 -> 405" 405 "$(auth /auth/v1.0 -X POST)"
    check "storage-url: no credentials -> 401" 401 \
        "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/auth/v1.0")"
    check "storage-url: X-Storage-User/-Pass accepted" 200 \
        "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -H 'X-Storage-User: u' \
            -H "X-Storage-Pass: $KEY" "http://127.0.0.1:$port/auth/v1.0")"
    # keep-alive: two auth requests on one connection (curl reuses it: 1 then 0 connects)
    check "storage-url: keep-alive (two requests, one connection)" "200:1 200:0 " \
        "$(curl -s -o /dev/null -w '%{http_code}:%{num_connects} ' --max-time 5 \
            -H 'X-Auth-User: u' -H "X-Auth-Key: $KEY" \
            "http://127.0.0.1:$port/auth/v1.0" "http://127.0.0.1:$port/auth/v1.0")"
    # counted: 3 x 200, 401, X-Storage-*, 2 keep-alive = 7; not the 404s and the 405
    check "storage-url: count file counts auth GETs only" 7 "$(cat "$dir/fa1.count")"
    if grep -q 'X-Auth-Key: \*\*\*' "$dir/fa1.log" && grep -q 'X-Storage-Pass: \*\*\*' "$dir/fa1.log" \
            && ! grep -qF "$KEY" "$dir/fa1.log" && ! grep -qF "$KEY" "$dir/fa1.err"; then
        ok "storage-url: log shows X-Auth-Key / X-Storage-Pass as ***, never the key"
    else
        fail "storage-url: log shows X-Auth-Key / X-Storage-Pass as ***, never the key" "$dir/fa1.log"
    fi
    if grep -q 'GET /auth/v1.0 HTTP/1.1' "$dir/fa1.log" && grep -q '    X-Auth-User: test:tester' "$dir/fa1.log" \
            && grep -q '    User-Agent: curl' "$dir/fa1.log" && [ ! -s "$dir/fa1.err" ]; then
        ok "storage-url: --log has request lines and headers (stderr empty)"
    else
        fail "storage-url: --log has request lines and headers (stderr empty)" "$dir/fa1.log"
    fi
    stop fa1 "$pid"
fi

for url in 'file:///etc/passwd' 'dict://127.0.0.1:6379/SET:pwned:1' 'ftp://127.0.0.1:21/x' \
           'http://[::1]:1/v1/AUTH_x?a=b#c'; do
    if start fa2 fakeauth.py --mode "storage-url=$url"; then
        check "storage-url=$url: 200, X-Storage-Url as given" "200 $url" \
            "$(auth /auth/v1.0) $(hdr X-Storage-Url)"
        check "storage-url=$url: default token" AUTH_tkfake0123456789 "$(hdr X-Auth-Token)"
        if grep -q 'X-Auth-Key: \*\*\*' "$dir/fa2.err" && ! grep -qF "$KEY" "$dir/fa2.err"; then
            ok "storage-url=$url: log on stderr, key as ***"
        else
            fail "storage-url=$url: log on stderr, key as ***" "$dir/fa2.err"
        fi
        stop fa2 "$pid"
    fi
done

# --port N: that port
freeport=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
if start fa3 fakeauth.py --port "$freeport" --quiet; then
    check "fakeauth --port $freeport: prints port=$freeport" "$freeport" "$port"
    check "ok mode: default --storage-url" "200 http://127.0.0.1:1/v1/AUTH_fake" \
        "$(auth /auth/v1.0) $(hdr X-Storage-Url)"
    check "--quiet: nothing on stderr" "" "$(cat "$dir/fa3.err")"
    # the port is taken now: a second one on it exits 1
    "$py" "$here/fakeauth.py" --port "$freeport" >/dev/null 2>&1
    check "fakeauth on a taken port: exit 1" 1 $?
    stop fa3 "$pid"
fi

# ---- fakeauth.py: slow --------------------------------------------------------------------
then='http://127.0.0.1:6001/v1/AUTH_test'
if start fa4 fakeauth.py --mode "slow=1.5,then=$then" --storage-url http://unused/ \
        --token AUTH_tkreal --count-file "$dir/fa4.count"; then
    t0=$(ms)
    auth /auth/v1.0 >"$dir/slow1.code" &
    c1=$!
    curl -s -o /dev/null -D "$dir/h2" -w '%{http_code}' --max-time 5 -H 'X-Auth-User: u' \
        -H "X-Auth-Key: $KEY" "http://127.0.0.1:$port/auth/v1.0" >"$dir/slow2.code" &
    c2=$!
    wait_for grep -qx 2 "$dir/fa4.count"
    t404=$(ms)
    code404=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$port/x")
    t404=$(($(ms) - t404))
    check "slow: count file is 2 while both wait" 2 "$(cat "$dir/fa4.count")"
    if [ "$code404" = 404 ] && [ "$t404" -lt 500 ]; then
        ok "slow: another connection is answered meanwhile (404 in $t404 ms)"
    else
        fail "slow: another connection is answered meanwhile ($code404 in $t404 ms)" "$dir/fa4.err"
    fi
    wait "$c1" "$c2"
    el=$(($(ms) - t0))
    check "slow: both concurrent requests -> 200" "200 200" "$(cat "$dir/slow1.code") $(cat "$dir/slow2.code")"
    if [ "$el" -ge 1450 ] && [ "$el" -lt 2600 ]; then
        ok "slow: two concurrent 1.5 s answers overlap ($el ms for both; 3000+ if serial)"
    else
        fail "slow: two concurrent 1.5 s answers overlap ($el ms for both, want 1450..2600)" "$dir/fa4.err"
    fi
    check "slow,then=URL: X-Storage-Url is then=URL" "$then" "$(hdr X-Storage-Url)"
    check "slow: X-Auth-Token is --token" AUTH_tkreal "$(hdr X-Auth-Token)"
    stop fa4 "$pid"
fi
if start fa5 fakeauth.py --mode slow=0.5 --storage-url "$then"; then
    t0=$(ms)
    code=$(auth /auth/v1.0)
    el=$(($(ms) - t0))
    check "slow=0.5 without then=: 200, X-Storage-Url is --storage-url" "200 $then" "$code $(hdr X-Storage-Url)"
    if [ "$el" -ge 450 ] && [ "$el" -lt 1500 ]; then ok "slow=0.5: answered after $el ms"
    else fail "slow=0.5: answered after $el ms (want 450..1500)" "$dir/fa5.err"; fi
    # a client giving up before the answer does not hurt the server
    curl -s -o /dev/null --max-time 0.2 -H 'X-Auth-User: u' -H "X-Auth-Key: $KEY" "http://127.0.0.1:$port/auth/v1.0"
    sleep 0.5
    check "slow: still serving after a client gave up" 200 "$(auth /auth/v1.0)"
    stop fa5 "$pid"
fi

# ---- fakeauth.py: stall -------------------------------------------------------------------
if start fa6 fakeauth.py --mode stall --count-file "$dir/fa6.count"; then
    t0=$(ms)
    code=$(auth /auth/v1.0 --max-time 1)
    rc=$?
    el=$(($(ms) - t0))
    check "stall: no answer (curl exit 28, timeout; code 000)" "28 000" "$rc $code"
    check "stall: the stalled request was counted" 1 "$(cat "$dir/fa6.count")"
    check "stall: other paths still answered (404)" 404 \
        "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$port/")"
    if wait_for grep -q 'conn=1 .*closed (client closed, stalled)' "$dir/fa6.err"; then
        ok "stall: connection closed once the client closed"
    else
        fail "stall: connection closed once the client closed" "$dir/fa6.err"
    fi
    # SIGTERM with a stalled connection still open
    auth /auth/v1.0 --max-time 20 >/dev/null &
    c1=$!
    wait_for grep -qx 2 "$dir/fa6.count"
    stop fa6 "$pid"
    wait "$c1"
    check "stall: the client sees the connection end at SIGTERM (curl exit 52: empty reply)" 52 $?
fi

# ---- fakeauth.py: status=N ----------------------------------------------------------------
for n in 503 500 403 200 429; do
    if start fa7 fakeauth.py --mode "status=$n"; then
        code=$(auth /auth/v1.0)
        check "status=$n: answers $n without token or storage URL" "$n||" \
            "$code|$(hdr X-Auth-Token)|$(hdr X-Storage-Url)"
        stop fa7 "$pid"
    fi
done

# ---- sinkserver.py ------------------------------------------------------------------------
out=$("$py" "$here/sinkserver.py" --help 2>&1)
rc=$?
miss=
for w in "FAKE SERVER" --out --conn-file --idle-close --log --port "port=N" SIGTERM; do
    case $out in *"$w"*) ;; *) miss="$miss [$w]" ;; esac
done
check "sinkserver --help: exit 0, documents every option" "0 " "$rc $miss"
"$py" "$here/sinkserver.py" >/dev/null 2>&1
check "sinkserver without --out: exit 2" 2 $?

if start sk1 sinkserver.py --out "$dir/sk1.bytes" --conn-file "$dir/sk1.conns" --log "$dir/sk1.log"; then
    check "sink: port=N is the only stdout line" "port=$port" "$(cat "$dir/sk1.out")"
    check "sink: --out created empty, conn file 0" "0 0" \
        "$(stat -c %s "$dir/sk1.bytes" 2>/dev/null) $(cat "$dir/sk1.conns")"
    curl -s -o /dev/null --max-time 1 "gopher://127.0.0.1:$port/_hello"
    check "sink: answers nothing (gopher curl times out: 28)" 28 $?
    check "sink: gopher://.../_hello recorded as 'hello\\r\\n'" "68656c6c6f0d0a" \
        "$(od -An -tx1 -v "$dir/sk1.bytes" | tr -d ' \n')"
    check "sink: conn file 1" 1 "$(cat "$dir/sk1.conns")"
    curl -s -o /dev/null --max-time 1 "dict://127.0.0.1:$port/SET:pwned:1"
    if grep -qa 'pwned' "$dir/sk1.bytes" && head -c 7 "$dir/sk1.bytes" | grep -qa '^hello'; then
        ok "sink: dict://.../SET:pwned:1 appended ($(stat -c %s "$dir/sk1.bytes") bytes in all)"
    else
        fail "sink: dict://.../SET:pwned:1 appended" "$dir/sk1.log"
    fi
    check "sink: conn file 2" 2 "$(cat "$dir/sk1.conns")"
    # binary bytes, exactly
    "$py" - "$port" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(bytes(range(256)))
s.close()
EOF
    wait_for grep -q 'conn=3 .*closed' "$dir/sk1.log"
    check "sink: 256 binary bytes appended exactly" \
        "$("$py" -c 'import sys; print(bytes(range(256)).hex())')" \
        "$("$py" -c 'import sys; print(open(sys.argv[1],"rb").read()[-256:].hex())' "$dir/sk1.bytes")"
    if grep -q 'conn=1 .*: 7 bytes: hello\\x0d\\x0a' "$dir/sk1.log" && grep -q 'closed' "$dir/sk1.log"; then
        ok "sink: --log shows connections and the bytes, escaped"
    else
        fail "sink: --log shows connections and the bytes, escaped" "$dir/sk1.log"
    fi
    # SIGTERM with a connection open
    curl -s -o /dev/null --max-time 20 "gopher://127.0.0.1:$port/_open" &
    c1=$!
    wait_for grep -q 'conn=4 .*bytes: open' "$dir/sk1.log"
    stop sk1 "$pid"
    wait "$c1"
    rc=$?
    if [ "$rc" != 28 ]; then ok "sink: SIGTERM ends an open connection (curl exit $rc)"
    else fail "sink: SIGTERM ends an open connection (curl timed out)"; fi
fi

if start sk2 sinkserver.py --out "$dir/sk2.bytes" --idle-close 0.5; then
    t0=$(ms)
    curl -s -o /dev/null --max-time 5 "gopher://127.0.0.1:$port/_x"
    rc=$?
    el=$(($(ms) - t0))
    if [ "$rc" != 28 ] && [ "$el" -lt 2000 ]; then
        ok "sink --idle-close 0.5: the sink closes an idle connection (curl exit $rc after $el ms)"
    else
        fail "sink --idle-close 0.5: the sink closes an idle connection (curl exit $rc after $el ms)" "$dir/sk2.err"
    fi
    check "sink --idle-close: bytes still recorded" "x" "$(tr -d '\r\n' <"$dir/sk2.bytes")"
    check "sink: log on stderr without --log" 1 "$(grep -c 'sinkserver (FAKE).*listening' "$dir/sk2.err")"
    stop sk2 "$pid"
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
