#!/usr/bin/env bash
# The demo object store's main process (docker/objstore/Dockerfile).
#
# Starts memcached and Swift with tests/lib/servers.sh -- the proxy on
# HAUL_OBJSTORE_PORT (8080) of every interface, the rest on loopback -- seeds
# the notebook's bucket (HAUL_OBJSTORE_BUCKET) with tests/lib/seed.sh, then
# writes the ready file the healthcheck looks for.  It stays in the
# foreground: SIGTERM stops the servers; a server that dies ends the
# container with status 1, and the tail of its log.
#
# Everything is made again at each start: a restarted container is a fresh,
# freshly seeded store.
set -u
LIB=/opt/haul-objstore/lib
D=${HAUL_OBJSTORE_DIR:-/var/lib/haul-objstore}
BUCKET=${HAUL_OBJSTORE_BUCKET:-LSST-IR-FUSION-testfromopenstack}
PORT=${HAUL_OBJSTORE_PORT:-8080}

# shellcheck source=SCRIPTDIR/../../tests/lib/servers.sh
. "$LIB/servers.sh"
# shellcheck source=SCRIPTDIR/../../tests/lib/seed.sh
. "$LIB/seed.sh"

export HAUL_TEST_NO_REDIS=1 HAUL_TEST_SWIFT_FIXED_PORT=$PORT HAUL_TEST_SWIFT_ADDR=0.0.0.0

stopping=0
trap 'stopping=1' TERM INT

rm -rf "${D:?}/srv" "$D/seed" "$D/ready"
t0=$SECONDS
echo "objstore: starting memcached and Swift (tempauth + s3api), proxy on port $PORT"
if ! haul_servers_start "$D/srv"; then
    echo "objstore: the servers did not start" >&2
    exit 1
fi
if ! haul_seed_notebook "$BUCKET" "$D/seed" >/dev/null; then
    echo "objstore: seeding $BUCKET failed" >&2
    haul_servers_stop
    exit 1
fi
: >"$D/ready"
echo "objstore: ready in $((SECONDS - t0)) s: bucket $BUCKET, $(wc -l <"$D/seed/notebook-keys.txt") objects;" \
    "Swift auth v1.0 http://<host>:$PORT/auth/v1.0 (test:tester / testing)," \
    "S3 http://<host>:$PORT (region us-east-1, path-style)"

# A sleep in the background, so a signal ends the wait at once.
while [ "$stopping" = 0 ]; do
    sleep 2 &
    wait $! 2>/dev/null
    [ "$stopping" = 0 ] || break
    for name in memcached account container object proxy; do
        if [ -z "$(_haul_session_pids "$name")" ]; then
            echo "objstore: $name exited" >&2
            _haul_log_tail "$name"
            rm -f "$D/ready"
            haul_servers_stop
            exit 1
        fi
    done
done
echo "objstore: stopping"
rm -f "$D/ready"
haul_servers_stop
exit 0
