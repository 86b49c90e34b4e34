# servers.sh -- start real servers for haul's integration tests.  Source it; do not run it.
#
#   . tests/lib/servers.sh
#   dir=$(mktemp -d)
#   trap 'haul_servers_stop; rm -rf "$dir"' EXIT
#   haul_servers_start "$dir" || exit 1
#
# haul_servers_start DIR starts, on free ports of 127.0.0.1 (the proxy: HAUL_TEST_SWIFT_ADDR, below)
# and with every file under DIR:
#   - redis-server (no persistence),
#   - memcached (tempauth keeps its tokens there: without it auth fails),
#   - OpenStack Swift (Debian's 2.30): account, container and object servers over one ring
#     each (1 replica, 1 device, a plain directory), and a proxy with tempauth (auth v1.0) and
#     s3api (S3 SigV4, region us-east-1, path-style, upper-case bucket names allowed).
#     Users: test:tester / testing and test2:tester2 / testing2, both .admin.  An S3 access
#     key is the Swift user name ("test:tester"), its secret the Swift key ("testing").
# It returns once redis answers PING and the proxy answers /healthcheck, auth v1.0 for both
# users and an account HEAD (about 2 s on 2 idle cores), and exports
#   HAUL_TEST_DIR             DIR, absolute
#   HAUL_TEST_REDIS_PORT      HAUL_TEST_REDIS_URL=redis://127.0.0.1:PORT/0
#   HAUL_TEST_MEMCACHED_PORT
#   HAUL_TEST_SWIFT_PORT      the proxy: Swift and S3 on the same port
#   HAUL_TEST_ST_AUTH         http://127.0.0.1:PORT/auth/v1.0
#   HAUL_TEST_S3              http://127.0.0.1:PORT (path-style, region us-east-1)
# also written to DIR/env.sh for other processes to source.  On failure it prints the tail of
# the logs concerned, stops what it started and returns 1.
#
# Other functions: haul_servers_stop [DIR], haul_free_port, haul_urlquote, haul_swift_token,
# haul_swift_mkcontainer, haul_swift_put, haul_swift_put_many, haul_swift_get,
# haul_swift_get_many, haul_redis_cli, haul_servers_deps (each documented where it is
# defined).
#
# Settings (environment):
#   HAUL_TEST_START_TIMEOUT=60         seconds for everything to come up
#   HAUL_TEST_STOP_TIMEOUT=10          seconds from TERM to KILL
#   HAUL_TEST_SWIFT_PROXY_WORKERS=2    proxy worker processes (the proxy is the bottleneck
#                                      of any throughput test; the start time hardly changes)
#   HAUL_TEST_SWIFT_LOG_LEVEL=INFO     Swift servers' log level
#   HAUL_TEST_SWIFT_CONF_MODE          force unshare|global|existing (see _haul_pick_ns_mode)
#   HAUL_TEST_CURL_TIMEOUT=10          seconds per helper request
#   HAUL_TEST_NETNS=NAME               run every server, and every request the helpers make
#                                      (curl, redis-cli, port checks), inside the existing
#                                      network namespace NAME (`ip netns exec NAME`; needs root
#                                      and lo up in NAME).  Unset: the caller's namespace.
#   HAUL_TEST_SWIFT_ADDR=127.0.0.1     IPv4 address the Swift proxy binds to, and the one
#                                      HAUL_TEST_ST_AUTH and HAUL_TEST_S3 name (with
#                                      HAUL_TEST_NETNS: an address of that namespace, so other
#                                      namespaces can reach the store).  The other servers
#                                      always bind 127.0.0.1.
#   HAUL_TEST_SWIFT_FIXED_PORT=PORT    the proxy's port, instead of a free one picked at random
#                                      (a container publishing a known port): when it is
#                                      taken, the start fails instead of moving
#   HAUL_TEST_NO_REDIS=1               start no redis-server (a store alone, as in
#                                      docker/objstore); HAUL_TEST_REDIS_PORT and
#                                      HAUL_TEST_REDIS_URL are then empty
#
# Layout of DIR: etc/ (swift.conf, server configs, rings), srv/d1 (the one Swift device),
# redis/ (redis' working dir), tmp/ (the helpers' scratch files), log/NAME.log (each server's output: show these when a test
# fails), run/NAME.pid and run/NAME.start (session id and start time of each server).
#
# Why it is built this way:
# - Ports are picked at random below the kernel's ephemeral range (outgoing connections never
#   take those) and checked free by binding.  Another test run can still take a port between
#   the check and the server's own bind, so each server is confirmed listening *itself* (ss
#   shows the listener's pid) and is restarted on a fresh port when it lost the race.
# - Every server runs in its own session (setsid): Swift servers signal their whole process
#   group on SIGTERM, and stopping must be able to find the workers they fork.  A session id
#   cannot be handed to a new process while any member of the session is alive, so killing
#   "the processes of session SID" never hits a stranger; a recorded start time guards the
#   leader's pid against reuse after the whole session is gone.  Zombies are not waited for:
#   init on these machines reaps them only every second or two.
# - Swift reads its hash settings from the fixed path /etc/swift/swift.conf.  Each Swift
#   process runs in a private mount namespace (unshare -m --propagation private) with DIR/etc
#   bind-mounted over /etc/swift, so nothing global is written and concurrent runs do not
#   share anything.  Where unshare is not allowed (an unprivileged container), see
#   _haul_pick_ns_mode for the fallbacks.
# - Swift processes run with EVENTLET_NO_GREENDNS=yes: eventlet's green DNS imports dnspython
#   and httpx, a third of a second of CPU per process, for names we never resolve (everything
#   is 127.0.0.1).  With it the whole start takes about 2 s instead of 3.5 s.
# - There is no syslog socket: servers run with -v (Swift) or their own log options so their
#   logs land in DIR/log.
#
# The file is safe to source under set -u or set -e and does not change the caller's shell
# options.  Functions return non-zero on failure and print why on stderr; none of them exit.

HAUL_TEST_SERVER_PKGS="redis-server redis-tools memcached swift swift-proxy swift-account \
swift-container swift-object python3-swift curl iproute2 procps util-linux mount"

_HAUL_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_HAUL_PY=/usr/bin/python3          # Debian's interpreter: it has the swift modules
declare -gA _HAUL_PORT=() _HAUL_TOKENS=()
_HAUL_NS=""

# _haul_nsx CMD...: run CMD in HAUL_TEST_NETNS when it is set, else here.
_haul_nsx() {
    if [ -n "${HAUL_TEST_NETNS:-}" ]; then
        ip netns exec "$HAUL_TEST_NETNS" "$@"
    else
        "$@"
    fi
}

_haul_swift_addr() { echo "${HAUL_TEST_SWIFT_ADDR:-127.0.0.1}"; }

# haul_servers_deps: install (as root) or name (otherwise) the packages the servers need.
haul_servers_deps() {
    # shellcheck disable=SC2086  # the list is meant to split
    "$_HAUL_LIB_DIR/deps.sh" $HAUL_TEST_SERVER_PKGS
}

_haul_err() { echo "servers.sh: $*" >&2; }

_haul_now_ms() {
    if [ -n "${EPOCHREALTIME:-}" ]; then
        local t=${EPOCHREALTIME/[.,]/}
        echo $(( t / 1000 ))
    else
        date +%s%3N
    fi
}

# haul_free_port [EXCLUDE...]: print a TCP port that is free on 127.0.0.1 (and on
# HAUL_TEST_SWIFT_ADDR, in HAUL_TEST_NETNS, when set) now and is none of EXCLUDE.  Ports come
# from below the ephemeral range when there is room there.  With HAUL_PORT_COUNT=N in the
# environment it prints N distinct ports, one per line.
haul_free_port() {
    HAUL_PORT_ADDRS="127.0.0.1 $(_haul_swift_addr)" _haul_nsx "$_HAUL_PY" - "$@" <<'EOF'
import os, random, socket, sys
exclude = {int(a) for a in sys.argv[1:] if a.isdigit()}
addrs = sorted(set(os.environ.get('HAUL_PORT_ADDRS', '127.0.0.1').split()))
try:
    with open('/proc/sys/net/ipv4/ip_local_port_range') as f:
        lo, hi = (int(x) for x in f.read().split())
except (OSError, ValueError):
    lo, hi = 32768, 60999
if lo - 1 >= 12000:
    lo_pick, hi_pick = 10000, lo - 1
elif hi + 1 <= 64000:
    lo_pick, hi_pick = hi + 1, 65535
else:
    lo_pick, hi_pick = 1024, 65535
rng = random.SystemRandom()
count = int(os.environ.get('HAUL_PORT_COUNT') or 1)
def free1(addr, port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((addr, port))   # no SO_REUSEADDR: TIME_WAIT ports count as taken
        return True
    except OSError:
        return False
    finally:
        s.close()
def free(port):
    return all(free1(a, port) for a in addrs)
def pick():
    for _ in range(500):
        port = rng.randint(lo_pick, hi_pick)
        if port not in exclude and free(port):
            return port
    for _ in range(50):   # the chosen range is crowded: let the kernel choose
        s = socket.socket()
        s.bind(('127.0.0.1', 0))
        port = s.getsockname()[1]
        s.close()
        if port not in exclude and free(port):
            return port
    sys.exit('haul_free_port: no free port found')
for _ in range(count):
    port = pick()
    exclude.add(port)
    print(port)
EOF
}

# haul_urlquote STRING: percent-encode STRING's bytes for a URL path ('/' kept).
haul_urlquote() {
    "$_HAUL_PY" -c 'import os, sys, urllib.parse
print(urllib.parse.quote(os.fsencode(sys.argv[1]), safe=sys.argv[2]))' "$1" "${2-/}"
}

# Choose how Swift processes see DIR/etc/swift.conf at /etc/swift/swift.conf:
#   unshare  private mount namespace + bind mount (needs CAP_SYS_ADMIN: root, not in an
#            unprivileged container).  /etc/swift is created if absent.
#   global   fallback when unshare fails and we are root: write /etc/swift/swift.conf itself.
#            The hash prefix/suffix are the same fixed strings in every run, so concurrent
#            runs agree; the write is atomic and skipped when the content is already right.
#   existing fallback when not root: use the machine's /etc/swift/swift.conf as it is (any
#            hash suffix works for a throwaway ring, as long as all our servers read the same).
# HAUL_TEST_SWIFT_CONF_MODE=unshare|global|existing forces one (to test the fallbacks).
_haul_pick_ns_mode() {
    local dir=$1 mode=${HAUL_TEST_SWIFT_CONF_MODE:-}
    case $mode in
        '' | unshare | global | existing) ;;
        *) _haul_err "HAUL_TEST_SWIFT_CONF_MODE=$mode: use unshare, global or existing"; return 1 ;;
    esac
    if [ -z "$mode" ] || [ "$mode" = unshare ]; then
        if [ ! -d /etc/swift ] && [ "$(id -u)" -eq 0 ]; then
            mkdir -p /etc/swift 2>/dev/null || true
        fi
        # shellcheck disable=SC2016  # expanded by the inner sh
        if [ -d /etc/swift ] &&
            unshare -m --propagation private \
                /bin/sh -c 'mount --bind "$1" /etc/swift' sh "$dir/etc" >/dev/null 2>&1; then
            mode=unshare
        elif [ "$mode" = unshare ]; then
            _haul_err "unshare -m does not work here (HAUL_TEST_SWIFT_CONF_MODE=unshare)"
            return 1
        elif [ "$(id -u)" -eq 0 ]; then
            mode=global
        elif [ -r /etc/swift/swift.conf ]; then
            mode=existing
        else
            _haul_err "need root (or unshare rights) or a readable /etc/swift/swift.conf"
            return 1
        fi
    fi
    if [ "$mode" = global ] && ! cmp -s "$dir/etc/swift.conf" /etc/swift/swift.conf; then
        # Fallback: unshare does not work here, so this writes the global swift.conf.
        if ! { mkdir -p /etc/swift &&
            cp "$dir/etc/swift.conf" "/etc/swift/.swift.conf.$$" &&
            mv -f "/etc/swift/.swift.conf.$$" /etc/swift/swift.conf; }; then
            _haul_err "cannot write /etc/swift/swift.conf"
            return 1
        fi
    fi
    _HAUL_NS=$mode
}

# _haul_spawn NAME SWIFT(0|1) CMD...: start CMD in a new session, output to DIR/log/NAME.log,
# and record its session id (its pid) and start time in DIR/run.
_haul_spawn() {
    local name=$1 swift=$2
    shift 2
    local dir=$HAUL_TEST_DIR
    local pidf=$dir/run/$name.pid log=$dir/log/$name.log
    rm -f "$pidf" "$dir/run/$name.start"
    printf '=== %s: %s\n' "$(date '+%F %T')" "$*" >>"$log"
    # NAME.spawn tells haul_servers_stop, should a signal run it before the pid file exists,
    # to wait for the pid file rather than miss the server.
    : >"$dir/run/$name.spawn"
    # The pid file is written before anything can fail, so a dead start is seen at once.
    # In HAUL_TEST_NETNS, `ip netns exec` execs the rest in place: the pid stays the same.
    local nsx=()
    if [ -n "${HAUL_TEST_NETNS:-}" ]; then nsx=(ip netns exec "$HAUL_TEST_NETNS"); fi
    # shellcheck disable=SC2016  # expanded by the inner sh
    if [ "$swift" = 1 ] && [ "$_HAUL_NS" = unshare ]; then
        setsid -f "${nsx[@]}" env -u PYTHONPATH -u PYTHONHOME \
            EVENTLET_NO_GREENDNS=yes unshare -m --propagation private /bin/sh -c \
            'echo $$ >"$2.tmp" && mv -f "$2.tmp" "$2" && mount --bind "$1" /etc/swift &&
             shift 2 && exec "$@"' sh "$dir/etc" "$pidf" "$@" </dev/null >>"$log" 2>&1
    else
        setsid -f "${nsx[@]}" env -u PYTHONPATH -u PYTHONHOME \
            EVENTLET_NO_GREENDNS=yes /bin/sh -c \
            'echo $$ >"$1.tmp" && mv -f "$1.tmp" "$1" && shift && exec "$@"' \
            sh "$pidf" "$@" </dev/null >>"$log" 2>&1
    fi
    local i pid stat fields
    for i in $(seq 200); do
        if [ -s "$pidf" ]; then
            pid=$(<"$pidf")
            # Field 22 of /proc/PID/stat, the start time; exec keeps it.
            stat=$(cat "/proc/$pid/stat" 2>/dev/null) || stat=""
            if [ -n "$stat" ]; then
                read -r -a fields <<<"${stat##*) }"
                echo "${fields[19]}" >"$dir/run/$name.start"
            fi
            rm -f "$dir/run/$name.spawn"
            return 0
        fi
        sleep 0.01
    done
    rm -f "$dir/run/$name.spawn"
    _haul_err "$name did not start (no pid file)"
    return 1
}

# _haul_session_pids NAME: print the pids of the running processes of NAME's session.
_haul_session_pids() {
    local dir=$HAUL_TEST_DIR name=$1 sid want stat fields
    [ -s "$dir/run/$name.pid" ] || return 0
    sid=$(<"$dir/run/$name.pid")
    case $sid in '' | *[!0-9]*) return 0 ;; esac
    if stat=$(cat "/proc/$sid/stat" 2>/dev/null); then
        # The leader is alive: make sure it is the process we started, not a reused pid.
        want=$(cat "$dir/run/$name.start" 2>/dev/null) || want=""
        read -r -a fields <<<"${stat##*) }"
        if [ -n "$want" ] && [ "$want" != "${fields[19]}" ]; then
            return 0
        fi
    fi
    # Zombies are left out: they hold nothing, and init here may take a second or two to
    # reap them.
    local p
    for p in $(pgrep -s "$sid" 2>/dev/null); do
        if _haul_alive "$p"; then echo "$p"; fi
    done
    return 0
}

# _haul_signal_wait FN ARG...: send TERM to the pids "FN ARG..." prints, wait until it prints
# none, and send KILL to what is left after HAUL_TEST_STOP_TIMEOUT seconds (default 10).
_haul_signal_wait() {
    local pids deadline
    pids=$("$@")
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -TERM $pids 2>/dev/null || true
    deadline=$(( $(_haul_now_ms) + ${HAUL_TEST_STOP_TIMEOUT:-10} * 1000 ))
    while pids=$("$@") && [ -n "$pids" ]; do
        if [ "$(_haul_now_ms)" -ge "$deadline" ]; then
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null || true
            sleep 0.1
            break
        fi
        sleep 0.05
    done
    return 0
}

_haul_names_pids() {
    local name
    for name in "$@"; do _haul_session_pids "$name"; done
    return 0
}

# _haul_kill NAME...: stop the sessions of the named servers and wait until they are gone.
_haul_kill() {
    local name
    _haul_signal_wait _haul_names_pids "$@"
    for name in "$@"; do
        rm -f "$HAUL_TEST_DIR/run/$name.pid" "$HAUL_TEST_DIR/run/$name.start"
    done
    return 0
}

# _haul_alive PID: true when PID exists and is not a zombie.
_haul_alive() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }
    [ "${st%% *}" != Z ]
}

# _haul_listen_state NAME PORT: "ours" when NAME's process listens on PORT, "other" when
# something else does, "dead" when NAME's process is gone, else "none".
_haul_listen_state() {
    local name=$1 port=$2 pid out
    pid=$(cat "$HAUL_TEST_DIR/run/$name.pid" 2>/dev/null) || pid=""
    out=$(_haul_nsx ss -Hltnp "sport = :$port" 2>/dev/null) || out=""
    case $out in
        '' | *"pid=$pid,"* | *users:*) ;;
        *)
            # A listener without its process: either someone else's (not ours to see), or
            # ss read the process table just before our server created the socket.  Ask again.
            sleep 0.05
            out=$(_haul_nsx ss -Hltnp "sport = :$port" 2>/dev/null) || out=""
            ;;
    esac
    if [ -n "$out" ]; then
        case $out in
            *"pid=$pid,"*) echo ours ;;
            *) echo other ;;
        esac
    elif [ -z "$pid" ] || ! _haul_alive "$pid"; then
        echo dead
    else
        echo none
    fi
}

_haul_log_tail() {
    local name
    for name in "$@"; do
        echo "----- $HAUL_TEST_DIR/log/$name.log (last 30 lines) -----" >&2
        tail -n 30 "$HAUL_TEST_DIR/log/$name.log" >&2 2>/dev/null || true
    done
}

_haul_user() {
    if [ "$(id -u)" -eq 0 ]; then echo root; else id -un; fi
}

_haul_write_swift_conf() {
    cat >"$HAUL_TEST_DIR/etc/swift.conf" <<'EOF'
# Written by haul tests/lib/servers.sh.  Fixed strings: every test run may share them.
[swift-hash]
swift_hash_path_suffix = haul-test-suffix
swift_hash_path_prefix = haul-test-prefix

[storage-policy:0]
name = Policy-0
default = yes
EOF
}

# _haul_write_backend_conf NAME: account, container or object server config on its port.
_haul_write_backend_conf() {
    local name=$1 dir=$HAUL_TEST_DIR
    cat >"$dir/etc/$name-server.conf" <<EOF
[DEFAULT]
bind_ip = 127.0.0.1
bind_port = ${_HAUL_PORT[$name]}
bind_timeout = 5
workers = 0
user = $(_haul_user)
swift_dir = $dir/etc
devices = $dir/srv
mount_check = false
disable_fallocate = true
fallocate_reserve = 0
log_name = $name-server
log_level = ${HAUL_TEST_SWIFT_LOG_LEVEL:-INFO}

[pipeline:main]
pipeline = $name-server

[app:$name-server]
use = egg:swift#$name

[$name-replicator]
[$name-updater]
[$name-auditor]
EOF
}

_haul_write_proxy_conf() {
    local dir=$HAUL_TEST_DIR
    cat >"$dir/etc/proxy-server.conf" <<EOF
[DEFAULT]
bind_ip = $(_haul_swift_addr)
bind_port = ${_HAUL_PORT[proxy]}
bind_timeout = 5
workers = ${HAUL_TEST_SWIFT_PROXY_WORKERS:-2}
user = $(_haul_user)
swift_dir = $dir/etc
log_name = proxy-server
log_level = ${HAUL_TEST_SWIFT_LOG_LEVEL:-INFO}

# Order matters: s3api must come before tempauth.
[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk tempurl s3api tempauth copy container-quotas account-quotas slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
allow_account_management = true
account_autocreate = true

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = testing .admin
user_test2_tester2 = testing2 .admin

[filter:s3api]
use = egg:swift#s3api
# Must equal the region clients sign with (SigV4).
location = us-east-1
# The users' buckets have upper-case names (LSST-IR-FUSION-testfromopenstack).
dns_compliant_bucket_names = false
s3_acl = false

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:${_HAUL_PORT[memcached]}

[filter:catch_errors]
use = egg:swift#catch_errors
[filter:gatekeeper]
use = egg:swift#gatekeeper
[filter:healthcheck]
use = egg:swift#healthcheck
[filter:proxy-logging]
use = egg:swift#proxy_logging
[filter:listing_formats]
use = egg:swift#listing_formats
[filter:bulk]
use = egg:swift#bulk
[filter:tempurl]
use = egg:swift#tempurl
[filter:copy]
use = egg:swift#copy
[filter:container-quotas]
use = egg:swift#container_quotas
[filter:account-quotas]
use = egg:swift#account_quotas
[filter:slo]
use = egg:swift#slo
[filter:dlo]
use = egg:swift#dlo
[filter:versioned_writes]
use = egg:swift#versioned_writes
[filter:symlink]
use = egg:swift#symlink
EOF
}

# _haul_in_ns CMD...: run CMD in the foreground, seeing DIR/etc at /etc/swift.
_haul_in_ns() {
    if [ "$_HAUL_NS" = unshare ]; then
        # shellcheck disable=SC2016  # expanded by the inner sh
        env -u PYTHONPATH -u PYTHONHOME EVENTLET_NO_GREENDNS=yes \
            unshare -m --propagation private /bin/sh -c \
            'mount --bind "$1" /etc/swift && shift && exec "$@"' sh "$HAUL_TEST_DIR/etc" "$@"
    else
        env -u PYTHONPATH -u PYTHONHOME EVENTLET_NO_GREENDNS=yes \
            "$@"
    fi
}

# Build the three rings (one replica, one device "d1") for the backends' current ports.
# One Python process instead of nine swift-ring-builder runs: about 0.3 s instead of 3 s.
_haul_build_rings() {
    local dir=$HAUL_TEST_DIR
    if ! _haul_in_ns "$_HAUL_PY" - "$dir/etc" "${_HAUL_PORT[account]}" \
        "${_HAUL_PORT[container]}" "${_HAUL_PORT[object]}" >>"$dir/log/rings.log" 2>&1 <<'EOF'
import os, sys
from swift.common.ring import RingBuilder
etc = sys.argv[1]
for name, port in zip(('account', 'container', 'object'), sys.argv[2:5]):
    b = RingBuilder(10, 1, 1)   # part power 10, 1 replica, min_part_hours 1
    b.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': int(port),
               'replication_ip': '127.0.0.1', 'replication_port': int(port),
               'device': 'd1', 'weight': 1.0, 'meta': ''})
    b.rebalance()
    b.save(os.path.join(etc, name + '.builder'))
    b.get_ring().save(os.path.join(etc, name + '.ring.gz'))
    print('ring', name, '127.0.0.1:%s/d1' % port)
EOF
    then
        _haul_err "building the rings failed"
        _haul_log_tail rings
        return 1
    fi
}

# _haul_launch NAME: write NAME's config for its port and start it.
_haul_launch() {
    local name=$1 dir=$HAUL_TEST_DIR
    local port=${_HAUL_PORT[$name]}
    case $name in
        redis)
            _haul_spawn redis 0 redis-server --bind 127.0.0.1 --port "$port" \
                --save '' --appendonly no --dir "$dir/redis" \
                --logfile "$dir/log/redis.log" --daemonize no --protected-mode no
            ;;
        memcached)
            local asroot=()
            # memcached refuses to run as root without -u.
            if [ "$(id -u)" -eq 0 ]; then asroot=(-u root); fi
            _haul_spawn memcached 0 memcached "${asroot[@]}" -l 127.0.0.1 -p "$port" -U 0 \
                -m 64 -c 4096 -v
            ;;
        account | container | object)
            _haul_write_backend_conf "$name" &&
                _haul_spawn "$name" 1 "swift-$name-server" "$dir/etc/$name-server.conf" -v
            ;;
        proxy)
            _haul_write_proxy_conf &&
                _haul_spawn proxy 1 swift-proxy-server "$dir/etc/proxy-server.conf" -v
            ;;
    esac
}

# _haul_pick_ports NAME...: give each named server a new free port, distinct from every port
# this run already uses.
_haul_pick_ports() {
    local ports name i=0 want=()
    for name in "$@"; do
        if [ "$name" = proxy ] && [ -n "${HAUL_TEST_SWIFT_FIXED_PORT:-}" ]; then
            _HAUL_PORT[proxy]=$HAUL_TEST_SWIFT_FIXED_PORT
            # Swift binds with SO_REUSEPORT, so a second proxy on a port that is already
            # listening would share it instead of failing: look before starting it.
            if [ -n "$(_haul_nsx ss -Hltn "sport = :$HAUL_TEST_SWIFT_FIXED_PORT" 2>/dev/null)" ]; then
                _haul_fixed_taken proxy
                return 2
            fi
        else
            want+=("$name")
        fi
    done
    [ ${#want[@]} -gt 0 ] || return 0
    mapfile -t ports < <(HAUL_PORT_COUNT=${#want[@]} haul_free_port "${_HAUL_PORT[@]}")
    [ ${#ports[@]} -eq ${#want[@]} ] || return 1
    for name in "${want[@]}"; do
        _HAUL_PORT[$name]=${ports[$i]}
        i=$((i + 1))
    done
}

# _haul_fixed_taken NAME: true (with the reason on stderr) when NAME is the proxy and its port
# is the fixed HAUL_TEST_SWIFT_FIXED_PORT, which cannot move to another port.
_haul_fixed_taken() {
    [ "$1" = proxy ] && [ -n "${HAUL_TEST_SWIFT_FIXED_PORT:-}" ] || return 1
    _haul_err "proxy: port ${_HAUL_PORT[proxy]} (HAUL_TEST_SWIFT_FIXED_PORT) is taken by" \
        "another program"
}

_haul_curl_code() {
    _haul_nsx curl -sS -g -o /dev/null -w '%{http_code}' --max-time "${HAUL_TEST_CURL_TIMEOUT:-10}" "$@" \
        2>/dev/null || true
}

# haul_servers_start DIR: see the top of this file.
haul_servers_start() {
    local dir=${1:-} tool
    if [ -z "$dir" ]; then
        _haul_err "usage: haul_servers_start DIR"
        return 1
    fi
    local with_redis=1
    [ "${HAUL_TEST_NO_REDIS:-}" = 1 ] && with_redis=0
    for tool in redis-server redis-cli memcached swift-proxy-server swift-object-server \
        swift-container-server swift-account-server curl ss pgrep setsid unshare mount \
        "$_HAUL_PY"; do
        case $tool in redis-*) [ "$with_redis" = 1 ] || continue ;; esac
        if ! command -v "$tool" >/dev/null 2>&1; then
            _haul_err "$tool not found; install the packages with:" \
                "$_HAUL_LIB_DIR/deps.sh $HAUL_TEST_SERVER_PKGS"
            return 1
        fi
    done
    mkdir -p "$dir" && dir=$(cd "$dir" && pwd -P) || return 1
    if [ -n "$(ls "$dir/run/"*.pid 2>/dev/null)" ]; then
        _haul_err "servers already started in $dir (haul_servers_stop first)"
        return 1
    fi
    export HAUL_TEST_DIR=$dir
    mkdir -p "$dir/etc" "$dir/log" "$dir/run" "$dir/srv/d1" "$dir/redis" || return 1
    _HAUL_PORT=()
    _HAUL_TOKENS=()
    _haul_write_swift_conf
    _haul_pick_ns_mode "$dir" || return 1

    local deadline=$(( $(_haul_now_ms) + ${HAUL_TEST_START_TIMEOUT:-60} * 1000 ))
    local todo="redis memcached account container object proxy" name state
    [ "$with_redis" = 1 ] || todo=${todo#redis }
    local launched need_rings need_proxy ring_pid failed=""

    # Start everything at once, then confirm each server listens on its port; a server that
    # lost its port to another program is started again on a fresh one.  The proxy reads the
    # rings and memcached's port when it starts, so it is restarted after either moved.
    for _ in 1 2 3 4 5; do
        need_rings=0 need_proxy=0 launched=""
        for name in $todo; do
            case $name in
                account | container | object) need_rings=1 need_proxy=1 ;;
                memcached | proxy) need_proxy=1 ;;
            esac
        done
        # All ports first: the rings need the backends' ports.  The rings are built while
        # the other servers start; only the proxy needs them.
        # shellcheck disable=SC2086  # a list of names
        _haul_pick_ports $todo || {
            [ $? -eq 2 ] && failed=proxy || failed=ports
            break
        }
        if [ "$need_rings" = 1 ]; then
            _haul_build_rings &
            ring_pid=$!
        fi
        for name in $todo; do
            [ "$name" = proxy ] && continue
            _haul_launch "$name" || { failed=$name; break 2; }
            launched="$launched $name"
        done
        if [ "$need_rings" = 1 ]; then
            wait "$ring_pid" || { failed=rings; break; }
        fi
        if [ "$need_proxy" = 1 ]; then
            _haul_kill proxy
            _haul_launch proxy || { failed=proxy; break; }
            launched="$launched proxy"
        fi
        todo=""
        for name in $launched; do
            while :; do
                state=$(_haul_listen_state "$name" "${_HAUL_PORT[$name]}")
                case $state in
                    ours) break ;;
                    other)
                        if _haul_fixed_taken "$name"; then
                            failed=proxy
                            break 3
                        fi
                        echo "servers.sh: $name lost port ${_HAUL_PORT[$name]} to another" \
                            "program; restarting it on another port" >&2
                        _haul_kill "$name"
                        todo="$todo $name"
                        break
                        ;;
                    dead)
                        # A server that died because its port was taken a moment ago counts
                        # as "other"; anything else is a real failure.
                        state=$(_haul_listen_state "$name" "${_HAUL_PORT[$name]}")
                        if [ "$state" = other ] && _haul_fixed_taken "$name"; then
                            failed=proxy
                            break 3
                        fi
                        if [ "$state" = other ]; then
                            _haul_kill "$name"
                            todo="$todo $name"
                            break
                        fi
                        _haul_err "$name exited during start-up"
                        failed=$name
                        break 3
                        ;;
                esac
                if [ "$(_haul_now_ms)" -ge "$deadline" ]; then
                    _haul_err "$name not listening on ${_HAUL_PORT[$name]} in time"
                    failed=$name
                    break 3
                fi
                sleep 0.05
            done
        done
        [ -z "$todo" ] && break
    done
    if [ -z "$failed" ] && [ -n "$todo" ]; then
        _haul_err "could not find free ports for:$todo"
        failed=${todo# }
    fi

    export HAUL_TEST_REDIS_PORT=${_HAUL_PORT[redis]:-}
    export HAUL_TEST_REDIS_URL=${HAUL_TEST_REDIS_PORT:+redis://127.0.0.1:$HAUL_TEST_REDIS_PORT/0}
    export HAUL_TEST_MEMCACHED_PORT=${_HAUL_PORT[memcached]:-}
    export HAUL_TEST_SWIFT_PORT=${_HAUL_PORT[proxy]:-}
    local addr
    addr=$(_haul_swift_addr)
    export HAUL_TEST_ST_AUTH=http://$addr:${HAUL_TEST_SWIFT_PORT}/auth/v1.0
    export HAUL_TEST_S3=http://$addr:${HAUL_TEST_SWIFT_PORT}

    # Listening is not serving: wait for real answers.
    local pong="" code="" head=""
    [ "$with_redis" = 1 ] || pong=PONG
    while [ -z "$failed" ]; do
        if [ "$pong" != PONG ]; then
            pong=$(_haul_nsx redis-cli -h 127.0.0.1 -p "$HAUL_TEST_REDIS_PORT" ping 2>/dev/null) || pong=""
        fi
        if [ "$code" != 200 ]; then
            code=$(_haul_curl_code "$HAUL_TEST_S3/healthcheck")
        fi
        if [ "$pong" = PONG ] && [ "$code" = 200 ] &&
            _haul_token test:tester testing 2>/dev/null &&
            _haul_token test2:tester2 testing2 2>/dev/null; then
            # The account HEAD goes through the rings to the account server.
            head=$(_haul_curl_code -I -H "X-Auth-Token: $_HAUL_TOK" "$_HAUL_URL")
            case $head in 2??) break ;; esac
        fi
        if [ "$(_haul_now_ms)" -ge "$deadline" ]; then
            if [ "$pong" != PONG ]; then
                _haul_err "redis does not answer PING on $HAUL_TEST_REDIS_PORT"
                failed=redis
            else
                _haul_err "Swift proxy on $HAUL_TEST_SWIFT_PORT not ready: healthcheck" \
                    "${code:-none}, then auth v1.0 for both users, then account HEAD" \
                    "${head:-not tried}"
                failed="proxy memcached account container object"
            fi
            break
        fi
        sleep 0.05
    done
    if [ -n "$failed" ]; then
        # shellcheck disable=SC2086
        _haul_log_tail $failed
        haul_servers_stop "$dir"
        return 1
    fi

    local v
    for v in HAUL_TEST_DIR HAUL_TEST_REDIS_PORT HAUL_TEST_REDIS_URL HAUL_TEST_MEMCACHED_PORT \
        HAUL_TEST_SWIFT_PORT HAUL_TEST_ST_AUTH HAUL_TEST_S3 HAUL_TEST_NETNS; do
        printf 'export %s=%q\n' "$v" "${!v:-}"
    done >"$dir/env.sh"
    return 0
}

# haul_servers_stop [DIR]: stop every server haul_servers_start started in DIR (default
# $HAUL_TEST_DIR), whole sessions, waiting until they are gone.  Idempotent; always returns
# 0, so it is safe in `trap ... EXIT`.  DIR itself is left for the caller to delete.
haul_servers_stop() {
    local dir=${1:-${HAUL_TEST_DIR:-}}
    [ -n "$dir" ] && [ -d "$dir/run" ] || return 0
    local HAUL_TEST_DIR=$dir f name names="" i
    for f in "$dir"/run/*.pid "$dir"/run/*.spawn; do
        [ -e "$f" ] || continue
        f=${f##*/}
        name=${f%.*}
        case " $names " in *" $name "*) continue ;; esac
        # Started a moment ago: its pid file follows within milliseconds.
        for i in $(seq 200); do
            [ -s "$dir/run/$name.pid" ] || [ ! -e "$dir/run/$name.spawn" ] && break
            sleep 0.01
        done
        rm -f "$dir/run/$name.spawn"
        names="$names $name"
    done
    # shellcheck disable=SC2086
    [ -z "$names" ] || _haul_kill $names || true
    return 0
}

# _haul_token USER KEY: set _HAUL_TOK and _HAUL_URL, from a cache or by auth v1.0.
_haul_token() {
    local user=$1 key=$2 out
    local ck="${HAUL_TEST_ST_AUTH:-} $user"
    if [ -n "${_HAUL_TOKENS[$ck]:-}" ]; then
        out=${_HAUL_TOKENS[$ck]}
    else
        out=$(haul_swift_token "$user" "$key") || return 1
        _HAUL_TOKENS[$ck]=$out
    fi
    _HAUL_TOK=${out%% *}
    _HAUL_URL=${out#* }
}

_haul_token_forget() {
    unset "_HAUL_TOKENS[${HAUL_TEST_ST_AUTH:-} $1]"
}

# haul_swift_token [USER KEY]: auth v1.0 (default test:tester / testing); prints
# "TOKEN STORAGE_URL".
haul_swift_token() {
    local user=${1:-test:tester} key=${2:-testing} hdrs line token="" url=""
    if [ -z "${HAUL_TEST_ST_AUTH:-}" ]; then
        _haul_err "HAUL_TEST_ST_AUTH is not set (haul_servers_start first)"
        return 1
    fi
    hdrs=$(_haul_nsx curl -sS -g -o /dev/null -D - --max-time "${HAUL_TEST_CURL_TIMEOUT:-10}" \
        -H "X-Auth-User: $user" -H "X-Auth-Key: $key" "${HAUL_TEST_ST_AUTH:-}") || {
        _haul_err "auth v1.0 at $HAUL_TEST_ST_AUTH failed"
        return 1
    }
    while IFS= read -r line; do
        line=${line%$'\r'}
        case ${line,,} in
            x-auth-token:*) token=${line#*:} ;;
            x-storage-url:*) url=${line#*:} ;;
        esac
    done <<<"$hdrs"
    token=${token# }
    url=${url# }
    if [ -z "$token" ] || [ -z "$url" ]; then
        _haul_err "auth v1.0 as $user: no token in the answer: ${hdrs%%$'\r'*}"
        return 1
    fi
    echo "$token $url"
}

# haul_swift_mkcontainer CONTAINER [USER KEY]: create CONTAINER (fine if it exists).
haul_swift_mkcontainer() {
    local c=$1 user=${2:-test:tester} key=${3:-testing} enc code
    enc=$(haul_urlquote "$c" "") || return 1
    for _ in 1 2; do
        _haul_token "$user" "$key" || return 1
        code=$(_haul_curl_code -X PUT -H "X-Auth-Token: $_HAUL_TOK" "$_HAUL_URL/$enc")
        case $code in
            201 | 202) return 0 ;;
            401) _haul_token_forget "$user" ;;
            *) break ;;
        esac
    done
    _haul_err "PUT container $c as $user: HTTP $code"
    return 1
}

# haul_swift_put CONTAINER KEY FILE [USER KEY]: upload FILE as object KEY (any bytes; the key
# is percent-encoded in the URL).
haul_swift_put() {
    local c=$1 k=$2 file=$3 user=${4:-test:tester} key=${5:-testing} cenc kenc code
    [ -f "$file" ] || { _haul_err "haul_swift_put: no file $file"; return 1; }
    cenc=$(haul_urlquote "$c" "") && kenc=$(haul_urlquote "$k") || return 1
    for _ in 1 2; do
        _haul_token "$user" "$key" || return 1
        code=$(_haul_curl_code -T "$file" -H "X-Auth-Token: $_HAUL_TOK" \
            "$_HAUL_URL/$cenc/$kenc")
        case $code in
            201) return 0 ;;
            401) _haul_token_forget "$user" ;;
            *) break ;;
        esac
    done
    _haul_err "PUT $c/$k as $user: HTTP $code"
    return 1
}

# _haul_mktemp NAME: a temporary file under DIR/tmp (removed with DIR, even when a signal
# cuts a helper short), or under TMPDIR before haul_servers_start.
_haul_mktemp() {
    local d=${TMPDIR:-/tmp}
    if [ -n "${HAUL_TEST_DIR:-}" ] && mkdir -p "$HAUL_TEST_DIR/tmp" 2>/dev/null; then
        d=$HAUL_TEST_DIR/tmp
    fi
    mktemp "$d/haul-$1.XXXXXX"
}

# _haul_swift_many put|get CONTAINER LIST USER KEY: one curl, many objects.
_haul_swift_many() {
    local mode=$1 c=$2 list=$3 user=$4 key=$5 cfg out bad want=201
    if [ "$mode" = get ]; then want=200; fi
    [ -r "$list" ] || { _haul_err "no list file $list"; return 1; }
    cfg=$(_haul_mktemp curl) || return 1
    for _ in 1 2; do
        _haul_token "$user" "$key" || { rm -f "$cfg"; return 1; }
        # A curl config: each value quoted, each key percent-encoded into its URL.
        if ! "$_HAUL_PY" - "$mode" "$_HAUL_URL" "$c" "$_HAUL_TOK" "$list" >"$cfg" <<'EOF'
import sys, urllib.parse
mode, base, container, token, listfile = sys.argv[1:6]
def q(b):
    return b'"' + b.replace(b'\\', b'\\\\').replace(b'"', b'\\"') + b'"'
out = sys.stdout.buffer
out.write(b'header = ' + q(b'X-Auth-Token: ' + token.encode()) + b'\n')
with open(listfile, 'rb') as f:
    for line in f.read().split(b'\n'):
        if not line:
            continue
        k, _, path = line.partition(b'\t')
        url = '%s/%s/%s' % (base, urllib.parse.quote(container, safe=''),
                            urllib.parse.quote(k, safe='/'))
        out.write(b'url = ' + q(url.encode()) + b'\n')
        if mode == 'put':
            out.write(b'upload-file = ' + q(path) + b'\noutput = "/dev/null"\n')
        else:
            out.write(b'output = ' + q(path) + b'\n')
EOF
        then
            rm -f "$cfg"
            return 1
        fi
        # 8 at a time (-Z): the proxy has workers to spare.  --no-progress-meter because
        # curl 7.88 draws its parallel progress meter despite -s.
        out=$(_haul_nsx curl -sS --no-progress-meter -g --create-dirs --max-time 300 \
            -Z --parallel-max 8 -K "$cfg" -w '%{http_code} %{url_effective}\n' 2>&1) || true
        bad=$(grep -v "^$want " <<<"$out" || true)
        [ -z "$bad" ] && { rm -f "$cfg"; return 0; }
        case $bad in
            401*) _haul_token_forget "$user" ;;
            *) break ;;
        esac
    done
    rm -f "$cfg"
    _haul_err "${mode^^} in $c as $user failed:"
    head -n 20 <<<"$bad" >&2
    return 1
}

# haul_swift_put_many CONTAINER LIST [USER KEY]: upload many objects with one curl, 8 at a
# time (80 small objects in about 0.4 s).  LIST has lines "KEY<TAB>FILE".
haul_swift_put_many() {
    _haul_swift_many put "$1" "$2" "${3:-test:tester}" "${4:-testing}"
}

# haul_swift_get_many CONTAINER LIST [USER KEY]: download many objects the same way; LIST
# has lines "KEY<TAB>FILE", FILE's directories are created.  Fails unless every GET is 200.
haul_swift_get_many() {
    _haul_swift_many get "$1" "$2" "${3:-test:tester}" "${4:-testing}"
}

# haul_swift_get CONTAINER KEY [USER KEY]: write the object's bytes to stdout.
haul_swift_get() {
    local c=$1 k=$2 user=${3:-test:tester} key=${4:-testing} cenc kenc tmp code
    cenc=$(haul_urlquote "$c" "") && kenc=$(haul_urlquote "$k") || return 1
    tmp=$(_haul_mktemp get) || return 1
    for _ in 1 2; do
        _haul_token "$user" "$key" || { rm -f "$tmp"; return 1; }
        code=$(_haul_nsx curl -sS -g -o "$tmp" -w '%{http_code}' --max-time 60 \
            -H "X-Auth-Token: $_HAUL_TOK" "$_HAUL_URL/$cenc/$kenc" 2>/dev/null || true)
        case $code in
            200) cat "$tmp"; rm -f "$tmp"; return 0 ;;
            401) _haul_token_forget "$user" ;;
            *) break ;;
        esac
    done
    rm -f "$tmp"
    _haul_err "GET $c/$k as $user: HTTP $code"
    return 1
}

# haul_redis_cli ARGS...: redis-cli against the test redis.
haul_redis_cli() {
    if [ -z "${HAUL_TEST_REDIS_PORT:-}" ]; then
        _haul_err "haul_redis_cli: HAUL_TEST_REDIS_PORT is not set (haul_servers_start first)"
        return 1
    fi
    _haul_nsx redis-cli -h 127.0.0.1 -p "$HAUL_TEST_REDIS_PORT" "$@"
}
