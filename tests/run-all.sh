#!/usr/bin/env bash
# make test: unit tests, then integration tests, output as it comes; one
# closing line for both.
set -u
cd "$(dirname "$0")/.."
log=$(mktemp)
trap 'rm -f "$log"' EXIT
tests/run-unit.sh -- "$@" 2>&1 | tee "$log"
urc=${PIPESTATUS[0]}
u=$(cat "$log")
tests/run-integration.sh 2>&1 | tee "$log"
irc=${PIPESTATUS[0]}
i=$(cat "$log")
count() { echo "$1" | grep -E "^$2: [0-9]+ passed" | tail -1; }
up=$(count "$u" unit | awk '{print $2}'); uf=$(count "$u" unit | awk '{print $4}')
ip=$(count "$i" integration | awk '{print $2}'); if_=$(count "$i" integration | awk '{print $4}')
p=$(( ${up:-0} + ${ip:-0} )); f=$(( ${uf:-1} + ${if_:-1} ))
[ $urc -ne 0 ] && [ "${uf:-0}" -eq 0 ] && f=$((f + 1))
[ $irc -ne 0 ] && [ "${if_:-0}" -eq 0 ] && f=$((f + 1))
echo
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
