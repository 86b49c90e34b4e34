#!/usr/bin/env bash
# run.sh SECONDS BIN... -- run each libFuzzer target for SECONDS, FUZZ_JOBS at a time.
#
# Each target BIN (build/fuzz/fuzz_x) starts from a fresh copy of its seeds,
# tests/fuzz/corpus/fuzz_x/, in build/fuzz/corpus/fuzz_x/ (which keeps what the run
# adds until the next run), logs to build/fuzz/fuzz_x.log and saves any input that
# crashes, leaks, times out or runs out of memory under build/fuzz/artifacts/fuzz_x/.
# One line per target; for a failure, the end of the report and the command that
# reproduces it. Exits 1 when any target failed.
#
# FUZZ_JOBS (default: the number of CPUs) targets run at once; FUZZ_ARGS is added
# to every libFuzzer command line (e.g. FUZZ_ARGS=-seed=1).

set -u

if [ $# -lt 2 ]; then
    echo "usage: $0 SECONDS BIN..." >&2
    exit 2
fi
seconds=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}

# Sanitizer reports with stacks; leaks are checked after every input.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

run_one() {
    local bin=$1 name dir corpus art log
    name=$(basename "$bin")
    dir=$(dirname "$bin")
    corpus=$dir/corpus/$name
    art=$dir/artifacts/$name
    log=$dir/$name.log
    rm -rf "$corpus" "$art"
    mkdir -p "$corpus" "$art"
    if [ -d "$here/corpus/$name" ]; then
        cp "$here/corpus/$name"/* "$corpus"/ 2>/dev/null
    fi
    # -timeout: one input taking 10 s is a hang a worker must not have.
    # -max_len: room for a string one byte over HAUL_STR_MAX (4096) and a text
    # over listing.c's TEXT_MAX (8192); libFuzzer's default is 4096.
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=16384 \
        -print_final_stats=1 -artifact_prefix="$art/" ${FUZZ_ARGS:-} "$corpus" \
        >"$log" 2>&1
}

report() {
    local bin=$1 rc=$2 name dir log runs cov corp
    name=$(basename "$bin")
    dir=$(dirname "$bin")
    log=$dir/$name.log
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    corp=$(grep -o 'corp: [0-9]*' "$log" | tail -1 | awk '{print $2}')
    if [ "$rc" -eq 0 ]; then
        printf 'fuzz: %-18s ok: %s runs in %s s, %s edges covered, corpus %s inputs\n' \
            "$name" "${runs:-?}" "$seconds" "${cov:-?}" "${corp:-?}"
        return 0
    fi
    printf 'fuzz: %-18s FAILED (exit %d); from %s:\n' "$name" "$rc" "$log"
    # The report from its first line, without libFuzzer's own frames.
    awk '/broken promise|ERROR: |runtime error|Test unit written/ { on = 1 }
         on && !/fuzzer::|libc_start|in _start|^MS: |^stat::|^ *$/ { print "    " $0 }' \
        "$log" | head -n 40
    local repro
    repro=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log")
    if [ -n "$repro" ]; then
        for f in $repro; do
            echo "fuzz: $name: reproducer $f"
            echo "fuzz: $name: rerun it with: $bin $f"
        done
    else
        echo "fuzz: $name: no reproducer was written; see $log"
    fi
    return 1
}

# Start the targets, jobs at a time, waiting for the oldest before starting another
# (simple, and the targets all run for the same time); report them in order.
pids=() bins=() rcs=()
done_upto=0
for bin in "$@"; do
    if [ $((${#pids[@]} - done_upto)) -ge "$jobs" ]; then
        wait "${pids[$done_upto]}"
        rcs[$done_upto]=$?
        done_upto=$((done_upto + 1))
    fi
    run_one "$bin" &
    pids+=($!)
    bins+=("$bin")
done
for ((i = done_upto; i < ${#pids[@]}; i++)); do
    wait "${pids[$i]}"
    rcs[$i]=$?
done

failed=0
for i in "${!bins[@]}"; do
    report "${bins[$i]}" "${rcs[$i]}" || failed=$((failed + 1))
done
echo "fuzz: ${#bins[@]} targets, $failed failed"
[ "$failed" -eq 0 ]
