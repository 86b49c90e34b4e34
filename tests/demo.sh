#!/usr/bin/env bash
# make demo -- the notebook's job on this machine, without Docker:
# a real redis-server and Swift (tempauth + s3api) on free ports, the
# notebook-shaped bucket, two haul-workers, and haul-scheduler run over Swift
# and over S3. Prints the first rows and the summaries; cleans up after itself.
set -u
cd "$(dirname "$0")/.."
TOP=$PWD
. tests/lib/servers.sh
. tests/lib/seed.sh
. tests/lib/testlib.sh
BUCKET=LSST-IR-FUSION-testfromopenstack
D=$(mktemp -d /tmp/haul-demo.XXXXXX)
pids=()
cleanup() {
    # Only the test shell cleans up: a forked child killed before it exec'd
    # its program must not run this trap and stop the servers.
    [ "$BASHPID" = "$$" ] || return 0
    [ ${#pids[@]} -gt 0 ] && haul_stop "${pids[@]}"
    haul_servers_stop
    rm -rf "$D"
}
trap cleanup EXIT

echo "== starting redis-server and OpenStack Swift (tempauth + s3api) under $D"
haul_servers_start "$D/srv" || exit 1
haul_seed_notebook "$BUCKET" "$D/data" >/dev/null || exit 1
echo "   Redis $HAUL_TEST_REDIS_URL, Swift auth $HAUL_TEST_ST_AUTH, S3 $HAUL_TEST_S3"
echo "== two workers"
for i in 1 2; do
    "$TOP/bin/haul-worker" --redis "$HAUL_TEST_REDIS_URL" --concurrency 32 2>"$D/worker$i.log" &
    pids+=($!)
done

echo "== the notebook's job over Swift: the 80-key listing 10 times, sidecar op"
echo "   ST_AUTH=$HAUL_TEST_ST_AUTH ST_USER=test:tester ST_KEY=... haul-scheduler run --swift --container $BUCKET --op sidecar --repeat 10 --out swift.csv"
ST_AUTH=$HAUL_TEST_ST_AUTH ST_USER=test:tester ST_KEY=testing \
    "$TOP/bin/haul-scheduler" run --redis "$HAUL_TEST_REDIS_URL" --swift --container "$BUCKET" \
    --op sidecar --repeat 10 --out "$D/swift.csv" || exit 1
echo "   first rows with a sidecar:"
grep '\.zip,' "$D/swift.csv" | head -5 | sed 's/^/     /'
echo "   rows: $(($(wc -l <"$D/swift.csv") - 1))"

echo "== the same over S3 (SigV4)"
AWS_ACCESS_KEY_ID=test:tester AWS_SECRET_ACCESS_KEY=testing \
    "$TOP/bin/haul-scheduler" run --redis "$HAUL_TEST_REDIS_URL" --s3 "$HAUL_TEST_S3" --region us-east-1 \
    --bucket "$BUCKET" --op sidecar --repeat 10 --out "$D/s3.csv" || exit 1
head -4 "$D/s3.csv" | sed 's/^/     /'
if cmp -s "$D/swift.csv" "$D/s3.csv"; then echo "   S3 and Swift answers are identical"; fi

echo "== haul-scheduler status"
"$TOP/bin/haul-scheduler" status --redis "$HAUL_TEST_REDIS_URL" | sed 's/^/   /'
