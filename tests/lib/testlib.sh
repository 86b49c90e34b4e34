# testlib.sh -- what the integration tests share. Source it.
#
# haul_stop PID...   stop processes the test started: SIGTERM, sent again
#                    every second (a SIGTERM that lands between bash's fork and
#                    the exec of the program is swallowed by bash's own handler
#                    in the child, and the program then never sees it), SIGKILL
#                    after 15 s; waits for each and returns the last one's status.

haul_stop() {
    local p i rc=0
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
