#!/usr/bin/env bash
# make test: unit tests, then integration tests; one closing line for both.
set -u
cd "$(dirname "$0")/.."
u=$(tests/run-unit.sh -- "$@" 2>&1); urc=$?
echo "$u"
i=$(tests/run-integration.sh 2>&1); irc=$?
echo "$i"
count() { echo "$1" | grep -E "^$2: [0-9]+ passed" | tail -1; }
up=$(count "$u" unit | awk '{print $2}'); uf=$(count "$u" unit | awk '{print $4}')
ip=$(count "$i" integration | awk '{print $2}'); if_=$(count "$i" integration | awk '{print $4}')
p=$(( ${up:-0} + ${ip:-0} )); f=$(( ${uf:-1} + ${if_:-1} ))
[ $urc -ne 0 ] && [ "${uf:-0}" -eq 0 ] && f=$((f + 1))
[ $irc -ne 0 ] && [ "${if_:-0}" -eq 0 ] && f=$((f + 1))
echo
echo "$p passed, $f failed"
[ "$f" -eq 0 ]
