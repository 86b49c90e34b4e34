# testlib.sh -- what the integration tests share. Source it.
#
# ok TEXT / fail TEXT [FILE]   one result line each ("ok   ..." / "FAIL ...",
#                    FAIL followed by the last 20 lines of FILE), counted in
#                    $passed and $failed for the closing "N passed, N failed".
# check TEXT EXPECTED ACTUAL   ok when equal, else a FAIL showing both.
#
# haul_stop PID...   stop processes the test started: once each has exec'd its
#                    program (a signal that lands between bash's fork and the
#                    exec is handled by the forked shell -- which runs the
#                    test's EXIT trap -- not by the program), SIGTERM, sent
#                    again every second, SIGKILL after 15 s; waits for each and
#                    returns the last one's status.
#
# haul_test_begin NAME [--seed]   what most integration tests start with:
#   T          a fresh directory /tmp/haul-NAME.XXXXXX;
#   the EXIT trap, which runs in the test's own shell only (a forked child killed
#              before it exec'd its program must not stop the servers): the test's
#              function test_stop when it defines one (what the test started itself),
#              then haul_servers_stop, then $T removed unless a check failed or
#              HAUL_KEEP is set; with HAUL_TEST_KEEP_GLOB set, the files of $T
#              matching it stay (a test's screenshots);
#   the servers (tests/lib/servers.sh) under $T/srv;
#   --seed     the notebook's objects in $BUCKET (tests/lib/seed.sh), files in $T/data.
#   A server or a seeding that fails is one FAIL line and "0 passed, 1 failed", exit 1.
#   The caller sources servers.sh (and seed.sh, with --seed) first.
# swiftenv CMD...    CMD with the test Swift's auth v1.0 (ST_AUTH, ST_USER, ST_KEY).

haul_stop() {
    local p i rc=0 shell
    # First let each child finish exec'ing its program: a signal that lands in
    # the shell's forked child before the exec runs the shell's EXIT trap there.
    shell=$(readlink "/proc/$$/exe")
    for p in "$@"; do
        for i in $(seq 100); do
            [ -e "/proc/$p" ] || break
            [ "$(readlink "/proc/$p/exe" 2>/dev/null)" != "$shell" ] && break
            sleep 0.05
        done
    done
    for p in "$@"; do kill -TERM "$p" 2>/dev/null; done
    for p in "$@"; do
        for i in $(seq 150); do
            kill -0 "$p" 2>/dev/null || break
            [ $((i % 10)) -eq 0 ] && kill -TERM "$p" 2>/dev/null
            sleep 0.1
        done
        if kill -0 "$p" 2>/dev/null; then
            echo "  (pid $p still running 15 s after SIGTERM: killed)" >&2
            kill -9 "$p" 2>/dev/null
        fi
        wait "$p" 2>/dev/null
        rc=$?
    done
    return $rc
}

passed=0 failed=0
ok()   { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); [ -n "${2:-}" ] && tail -20 "$2" | sed 's/^/  | /'; }
# wait_file F: until F exists and is not empty, for at most 15 s (1 when it never is).
wait_file() { local f=$1 d=$((SECONDS + 15)); while [ ! -s "$f" ] && [ $SECONDS -lt $d ]; do sleep 0.05; done; [ -s "$f" ]; }
# check NAME EXPECTED ACTUAL: ok when the two strings are equal, else both shown.
check() {
    if [ "$2" = "$3" ]; then ok "$1"; else fail "$1"; printf '  | expected: %s\n  | actual:   %s\n' "$2" "$3"; fi
}

haul_test_end_() {
    [ "$BASHPID" = "$$" ] || return 0
    declare -F test_stop >/dev/null && test_stop
    haul_servers_stop
    if [ "$failed" -ne 0 ] || [ -n "${HAUL_KEEP:-}" ]; then
        echo "  (test files kept in $T)"
    elif [ -n "${HAUL_TEST_KEEP_GLOB:-}" ]; then
        find "$T" -mindepth 1 -maxdepth 1 ! -name "$HAUL_TEST_KEEP_GLOB" -exec rm -rf {} +
        echo "  ($HAUL_TEST_KEEP_GLOB kept in $T)"
    else
        rm -rf "$T"
    fi
}

haul_test_begin() {
    T=$(mktemp -d "/tmp/haul-$1.XXXXXX") || { echo "FAIL mktemp"; echo "0 passed, 1 failed"; exit 1; }
    trap haul_test_end_ EXIT
    haul_servers_start "$T/srv" || { echo "FAIL servers did not start"; echo "0 passed, 1 failed"; exit 1; }
    if [ "${2:-}" = --seed ]; then
        haul_seed_notebook "$BUCKET" "$T/data" >/dev/null || { echo "FAIL seeding"; echo "0 passed, 1 failed"; exit 1; }
    fi
}

swiftenv() { env ST_AUTH="$HAUL_TEST_ST_AUTH" ST_USER=test:tester ST_KEY=testing "$@"; }
