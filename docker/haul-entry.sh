#!/bin/sh
# haul-entry PROGRAM [ARGS...] -- the image's entrypoint: when HAUL_KEY_FILE
# names a file that does not exist yet (compose's shared haul-keys volume on
# first start), make the key that seals the connection state in every task,
# then run PROGRAM. Race-free between containers starting together: the key
# is written under a temporary name and hard-linked into place, which fails
# for all but the first; the others use the first one's key.
set -u
if [ -n "${HAUL_KEY_FILE:-}" ] && [ ! -s "$HAUL_KEY_FILE" ]; then
    tmp="$HAUL_KEY_FILE.tmp.$$"
    if haul-scheduler keygen "$tmp" >/dev/null; then
        ln "$tmp" "$HAUL_KEY_FILE" 2>/dev/null && echo "haul-entry: made a new key in $HAUL_KEY_FILE" >&2
        rm -f "$tmp"
    fi
fi
exec "$@"
