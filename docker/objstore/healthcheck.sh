#!/bin/sh
# Healthy: the bucket is seeded (start.sh writes the ready file after the
# last object is stored) and the proxy still answers its /healthcheck.
D=${HAUL_OBJSTORE_DIR:-/var/lib/haul-objstore}
[ -e "$D/ready" ] || { echo "objstore: not seeded yet"; exit 1; }
exec curl -fsS -o /dev/null --max-time 4 "http://127.0.0.1:${HAUL_OBJSTORE_PORT:-8080}/healthcheck"
