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
