#!/bin/bash
# deps.sh PKG... -- make sure the named Debian packages are installed.
#
# Quiet when nothing is missing. As root it installs the missing ones with apt-get; as any
# other user it prints the exact command to run and exits 1, so a test run never half-starts
# for want of a package.
#
# When installing as root it first writes /usr/sbin/policy-rc.d (exit 101) if there is none:
# redis-server, memcached and the swift-* packages would otherwise start system services on
# their default ports, which the tests do not want (they start their own on free ports). The
# file is left in place, so later installs on this machine behave the same way.

set -u

if [ $# -eq 0 ]; then
    exit 0
fi

if ! command -v dpkg-query >/dev/null 2>&1; then
    echo "deps.sh: dpkg-query not found: this script installs Debian packages ($*)" >&2
    exit 1
fi

missing=()
for pkg in "$@"; do
    status=$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null || true)
    if [ "$status" != "install ok installed" ]; then
        missing+=("$pkg")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "deps.sh: missing Debian packages: ${missing[*]}" >&2
    echo "deps.sh: install them with:" >&2
    echo "sudo apt-get install -y --no-install-recommends ${missing[*]}"
    exit 1
fi

if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '%s\n' '#!/bin/sh' \
        '# Written by haul tests/lib/deps.sh: do not start services on install.' \
        'exit 101' >/usr/sbin/policy-rc.d
    chmod 0755 /usr/sbin/policy-rc.d
fi

echo "deps.sh: installing ${missing[*]}" >&2
# Wait for the dpkg lock rather than failing when another install (for example a
# concurrent test run) holds it.
lock=(-o DPkg::Lock::Timeout=300)
apt-get "${lock[@]}" update -qq || exit 1
DEBIAN_FRONTEND=noninteractive apt-get "${lock[@]}" install -y -qq --no-install-recommends \
    "${missing[@]}" || exit 1
