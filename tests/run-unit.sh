#!/usr/bin/env bash
# Run unit test programs: tests/run-unit.sh [PREFIX...] -- BIN...
# PREFIX (e.g. valgrind --error-exitcode=9) runs in front of each program.
# Sums their "N passed, N failed" lines into one.
set -u
prefix=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do prefix+=("$1"); shift; done
[ $# -gt 0 ] && shift
passed=0 failed=0
for bin in "$@"; do
    echo "== $bin"
    out=$("${prefix[@]}" "$bin" 2>&1); rc=$?
    echo "$out" | grep -v '^ok ' | grep -v -E '^[0-9]+ passed, [0-9]+ failed$'
    line=$(echo "$out" | grep -E '^[0-9]+ passed, [0-9]+ failed$' | tail -1)
    p=$(echo "$line" | awk '{print $1}'); f=$(echo "$line" | awk '{print $3}')
    echo "   ${p:-0} passed, ${f:-?} failed"
    passed=$((passed + ${p:-0}))
    if [ -z "$line" ] || [ "$rc" -ne 0 ]; then failed=$((failed + ${f:-1})); [ "${f:-1}" = 0 ] && failed=$((failed + 1)); fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
