# shellcheck shell=bash
# rgw.sh -- start a real Ceph RADOS Gateway for haul's integration tests.  Source it; do not
# run it.
#
#   . tests/lib/rgw.sh
#   if ! haul_rgw_deps; then
#       echo "SKIP ...: the Ceph packages cannot be installed"; echo "0 passed, 0 failed"; exit 0
#   fi
#   dir=$(mktemp -d)
#   trap 'haul_rgw_stop "$dir"; rm -rf "$dir"' EXIT
#   haul_rgw_start "$dir" || exit 1
#
# haul_rgw_start DIR builds and starts, with every file under DIR and nothing in /etc/ceph,
# /var/lib/ceph, /var/run/ceph or /var/log/ceph, a one-machine Ceph 16.2 (Pacific) cluster:
#   - one monitor (mon.a, msgr v2 only, on a free port of 127.0.0.1),
#   - one OSD (osd.0) with the memstore object store: data in RAM, nothing on disk until a
#     clean stop; it binds Ceph's usual 6800-7300 range on 127.0.0.1 (first free ports),
#   - radosgw (client.rgw.haul), beast frontend on a free port of 127.0.0.1, S3 and Swift on
#     that one port,
# creates two users and returns once RGW answers GET / and Swift auth v1.0 for both users
# (see the measured time below).  Users (fixed; the S3 and Swift names of a user see the same
# buckets):
#                 S3 access key / secret    Swift user / key (auth v1.0)
#   uid haul      haulak  / haulsk          haul:swift  / haulswiftkey
#   uid haul2     haulak2 / haulsk2         haul2:swift / haulswiftkey2
# It exports
#   HAUL_TEST_RGW_DIR            DIR, absolute
#   HAUL_TEST_RGW_PORT           RGW's port
#   HAUL_TEST_RGW_S3             http://127.0.0.1:PORT (path-style; SigV4)
#   HAUL_TEST_RGW_REGION         default (RGW's zonegroup: sign with it, not us-east-1)
#   HAUL_TEST_RGW_ST_AUTH        http://127.0.0.1:PORT/auth/1.0 (storage URL: .../swift/v1)
#   HAUL_TEST_RGW_ACCESS_KEY     haulak      HAUL_TEST_RGW_SECRET_KEY    haulsk
#   HAUL_TEST_RGW_SWIFT_USER     haul:swift  HAUL_TEST_RGW_SWIFT_KEY     haulswiftkey
#   HAUL_TEST_RGW_ACCESS_KEY2    haulak2     HAUL_TEST_RGW_SECRET_KEY2   haulsk2
#   HAUL_TEST_RGW_SWIFT_USER2    haul2:swift HAUL_TEST_RGW_SWIFT_KEY2    haulswiftkey2
#   HAUL_TEST_RGW_MON_PORT       the monitor's port
#   HAUL_TEST_RGW_CONF           DIR/ceph.conf: `ceph -c "$HAUL_TEST_RGW_CONF" -s`,
#                                `radosgw-admin -c "$HAUL_TEST_RGW_CONF" bucket list`, ...
# and writes them to DIR/rgw-env.sh for other processes to source.  On failure it prints the
# tail of the logs concerned, stops what it started and returns 1.
#
# Measured here (Debian bookworm, Ceph 16.2.15, 2 cores, idle): ready 2.4-2.8 s after the
# call (3.6-3.8 s when three start at once); the three daemons use about 145 MiB RSS
# together right after the start (mon 40, OSD 56, radosgw 57 MiB), about 200 MiB after
# test_rgw.sh's 30 MiB of objects.  haul_rgw_stop takes 0.7-1.0 s.  Works as root and as
# any other user (everything is under DIR).  What RGW answers for multipart, SLO and DLO
# objects: docs/notes-rgw-segmented.md.  curl --aws-sigv4 needs
# -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' (RGW refuses SigV4 without that header).
#
# Other functions: haul_rgw_stop [DIR], haul_rgw_deps, haul_rgw_available (each documented
# where it is defined).
#
# Skipping: an integration test that needs RGW runs `haul_rgw_deps` (it installs
# HAUL_TEST_RGW_PKGS as root; otherwise, when any is missing, it prints the apt-get command
# and fails) and, when that fails, prints "SKIP ..." with the reason and "0 passed, 0
# failed" and exits 0 (tests/run-integration.sh counts that line) -- as
# tests/integration/test_rgw.sh does.  `haul_rgw_available` checks without installing.
#
# Settings (environment):
#   HAUL_TEST_RGW_START_TIMEOUT=60   seconds for everything to come up
#   HAUL_TEST_RGW_STOP_TIMEOUT=30    seconds from TERM to KILL, per daemon (the OSD writes its
#                                    memstore contents to DIR/osd on a clean stop)
#   HAUL_TEST_RGW_MEMSTORE_MB=1024   the OSD's memstore size (RAM is used only as filled)
#   HAUL_TEST_RGW_DEBUG=1            RGW's debug level (1: one line per request start/end)
#
# Layout of DIR: ceph.conf, keyring (every entity's key: mon., client.admin, osd.0,
# client.rgw.haul), monmap, mon/mon.a, osd/osd.0, rgw/, crash/, run/NAME.pid and
# run/NAME.start (session id and start time of the daemons mon, osd, rgw), run/*.asok (admin
# sockets), log/NAME.log (Ceph's own logs: mon.a, osd.0, client.rgw.haul, cluster, and the
# command-line tools' client.admin), log/NAME.out (each daemon's stdout and stderr),
# log/setup.log (the set-up commands' output), rgw-env.sh.  Show log/ when a test fails.
#
# Why it is built this way (see also /work/shared/notes/ceph-rgw.md):
# - Every daemon runs in the foreground (-f) in its own session (setsid); its pid and start
#   time are recorded as in servers.sh, so stopping never signals a stranger.
# - One OSD holds every copy (pool size 1, chooseleaf type 0).  RGW creates its pools as it
#   needs them (4 at its first start, the bucket index and data pools at the first bucket,
#   7 in all): with 8 PGs each (not 32) one OSD stays under `mon max pg per osd`, which is
#   raised anyway; autoscale is off (there is no mgr).
# - paxos propose interval 0.1 s (default 1 s): each pool creation, and the OSD's boot,
#   waits for a monitor proposal.  With the default the start takes 12.4 s instead of 2.6.
# - `tcp_nodelay=1` on beast: without it every keep-alive request after the first waits 40 ms
#   or more (Nagle against delayed ACK).
# - `rgw relaxed s3 bucket names`: the users' buckets have upper-case names.
# - memstore keeps its data only across a *clean* stop (osd fast shutdown = false); after a
#   SIGKILL the OSD would come back without its placement groups.  So haul_rgw_start always
#   builds a new cluster (a DIR used before loses its old cluster), and haul_rgw_stop stops
#   RGW, then the OSD, then the monitor, each with TERM.
# - The monitor's port is written into its monmap, so when another program takes it between
#   the check and the bind the whole cluster is built again on new ports; RGW alone is just
#   restarted on a new port.
#
# The file is safe to source under set -u or set -e and does not change the caller's shell
# options.  Functions return non-zero on failure and print why on stderr; none of them exit.

HAUL_TEST_RGW_PKGS="ceph-mon ceph-osd radosgw ceph-common curl iproute2 procps util-linux \
python3"

_HAUL_RGW_LIB_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
_HAUL_RGW_PY=/usr/bin/python3
_HAUL_RGW_NAME=client.rgw.haul
# uid access secret swift-key, one user a line.
_HAUL_RGW_USERS="haul haulak haulsk haulswiftkey
haul2 haulak2 haulsk2 haulswiftkey2"

_haul_rgw_err() { echo "rgw.sh: $*" >&2; }

# haul_rgw_deps: install (as root) or name (otherwise, returning 1) the packages RGW needs.
haul_rgw_deps() {
    # shellcheck disable=SC2086  # the list is meant to split
    "$_HAUL_RGW_LIB_DIR/deps.sh" $HAUL_TEST_RGW_PKGS
}

# haul_rgw_available: true when every program haul_rgw_start runs is installed (installs
# nothing).  Prints what is missing on stderr.
haul_rgw_available() {
    local tool missing=""
    for tool in ceph-mon ceph-osd radosgw radosgw-admin ceph ceph-authtool monmaptool curl \
        ss pgrep setsid timeout "$_HAUL_RGW_PY"; do
        command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
    done
    if [ -n "$missing" ]; then
        _haul_rgw_err "not installed:$missing (packages: $HAUL_TEST_RGW_PKGS)"
        return 1
    fi
}

_haul_rgw_now_ms() {
    if [ -n "${EPOCHREALTIME:-}" ]; then
        local t=${EPOCHREALTIME/[.,]/}
        echo $(( t / 1000 ))
    else
        date +%s%3N
    fi
}

# _haul_rgw_free_ports N [EXCLUDE...]: print N distinct TCP ports free on 127.0.0.1 now,
# from below the kernel's ephemeral range (outgoing connections never take those) and above
# Ceph's 6800-7300, checked by binding.
_haul_rgw_free_ports() {
    "$_HAUL_RGW_PY" - "$@" <<'EOF'
import random, socket, sys
count = int(sys.argv[1])
exclude = {int(a) for a in sys.argv[2:] if a.isdigit()}
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
    lo_pick, hi_pick = 7400, 65535
rng = random.SystemRandom()
def free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(('127.0.0.1', port))   # no SO_REUSEADDR: TIME_WAIT ports count as taken
        return True
    except OSError:
        return False
    finally:
        s.close()
for _ in range(count):
    for _ in range(1000):
        port = rng.randint(lo_pick, hi_pick)
        if port not in exclude and free(port):
            break
    else:
        sys.exit('rgw.sh: no free port found')
    exclude.add(port)
    print(port)
EOF
}

# _haul_rgw_alive PID: true when PID exists and is not a zombie.
_haul_rgw_alive() {
    local st
    st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
    st=${st##*) }
    [ "${st%% *}" != Z ]
}

# _haul_rgw_spawn DIR NAME CMD...: start CMD in a new session, output to DIR/log/NAME.out,
# and record its session id (its pid: the shell execs CMD) and start time in DIR/run.
_haul_rgw_spawn() {
    local dir=$1 name=$2
    shift 2
    local pidf=$dir/run/$name.pid out=$dir/log/$name.out
    rm -f "$pidf" "$dir/run/$name.start"
    printf '=== %s: %s\n' "$(date '+%F %T')" "$*" >>"$out"
    # NAME.spawn tells haul_rgw_stop, should a signal run it before the pid file exists, to
    # wait for the pid file rather than miss the daemon.
    : >"$dir/run/$name.spawn"
    # shellcheck disable=SC2016  # expanded by the inner sh
    setsid -f env -u CEPH_ARGS -u CEPH_CONF /bin/sh -c \
        'echo $$ >"$1.tmp" && mv -f "$1.tmp" "$1" && shift && exec "$@"' \
        sh "$pidf" "$@" </dev/null >>"$out" 2>&1
    local pid stat fields
    for _ in $(seq 200); do
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
    _haul_rgw_err "$name did not start (no pid file)"
    return 1
}

# _haul_rgw_session_pids DIR NAME: print the pids of the live processes of NAME's session.
_haul_rgw_session_pids() {
    local dir=$1 name=$2 sid want stat fields p
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
    for p in $(pgrep -s "$sid" 2>/dev/null); do
        if _haul_rgw_alive "$p"; then echo "$p"; fi
    done
    return 0
}

# _haul_rgw_kill DIR NAME: TERM NAME's session, wait until it is gone (KILL after
# HAUL_TEST_RGW_STOP_TIMEOUT seconds), forget its pid.
_haul_rgw_kill() {
    local dir=$1 name=$2 pids deadline
    # Started a moment ago: its pid file follows within milliseconds.
    for _ in $(seq 200); do
        [ -e "$dir/run/$name.spawn" ] || break
        sleep 0.01
    done
    pids=$(_haul_rgw_session_pids "$dir" "$name")
    # shellcheck disable=SC2086
    [ -z "$pids" ] || kill -TERM $pids 2>/dev/null || true
    deadline=$(( $(_haul_rgw_now_ms) + ${HAUL_TEST_RGW_STOP_TIMEOUT:-30} * 1000 ))
    while pids=$(_haul_rgw_session_pids "$dir" "$name") && [ -n "$pids" ]; do
        if [ "$(_haul_rgw_now_ms)" -ge "$deadline" ]; then
            _haul_rgw_err "$name still running ${HAUL_TEST_RGW_STOP_TIMEOUT:-30} s after TERM:" \
                "killed"
            # shellcheck disable=SC2086
            kill -KILL $pids 2>/dev/null || true
            sleep 0.1
            break
        fi
        sleep 0.05
    done
    rm -f "$dir/run/$name.pid" "$dir/run/$name.start" "$dir/run/$name.spawn"
    return 0
}

# _haul_rgw_listen_state DIR NAME PORT: "ours" when NAME's process listens on PORT, "other"
# when something else does, "dead" when NAME's process is gone, else "none".
_haul_rgw_listen_state() {
    local dir=$1 name=$2 port=$3 pid out
    pid=$(cat "$dir/run/$name.pid" 2>/dev/null) || pid=""
    out=$(ss -Hltnp "sport = :$port" 2>/dev/null) || out=""
    case $out in
        '' | *"pid=$pid,"*) ;;
        *)
            # A listener without our pid: someone else's, or ss read the process table just
            # before our daemon created the socket.  Ask again.
            sleep 0.05
            out=$(ss -Hltnp "sport = :$port" 2>/dev/null) || out=""
            ;;
    esac
    if [ -n "$out" ]; then
        case $out in
            *"pid=$pid,"*) echo ours ;;
            *) echo other ;;
        esac
    elif [ -z "$pid" ] || ! _haul_rgw_alive "$pid"; then
        echo dead
    else
        echo none
    fi
}

# _haul_rgw_wait_listen DIR NAME PORT DEADLINE_MS: print the final state: ours, other, dead
# or timeout.
_haul_rgw_wait_listen() {
    local state
    while :; do
        state=$(_haul_rgw_listen_state "$1" "$2" "$3")
        case $state in
            ours | other) echo "$state"; return 0 ;;
            dead)
                # Died because its port was taken a moment ago: that counts as "other".
                state=$(_haul_rgw_listen_state "$1" "$2" "$3")
                [ "$state" = other ] || state=dead
                echo "$state"
                return 0
                ;;
        esac
        if [ "$(_haul_rgw_now_ms)" -ge "$4" ]; then echo timeout; return 0; fi
        sleep 0.05
    done
}

_haul_rgw_log_tail() {
    local dir=$1 f
    shift
    for f in "$@"; do
        [ -e "$dir/log/$f" ] || continue
        echo "----- $dir/log/$f (last 30 lines) -----" >&2
        tail -n 30 "$dir/log/$f" >&2 2>/dev/null || true
    done
}

# _haul_rgw_run DIR CMD...: run a set-up command, its output to DIR/log/setup.log.
_haul_rgw_run() {
    local dir=$1
    shift
    printf '=== %s: %s\n' "$(date '+%F %T')" "$*" >>"$dir/log/setup.log"
    if ! env -u CEPH_ARGS -u CEPH_CONF -u PYTHONPATH -u PYTHONHOME "$@" \
        </dev/null >>"$dir/log/setup.log" 2>&1; then
        _haul_rgw_err "failed: $*"
        return 1
    fi
}

# _haul_rgw_write_conf DIR MON_PORT RGW_PORT FSID: DIR/ceph.conf (written whole, atomically).
_haul_rgw_write_conf() {
    local dir=$1 monport=$2 rgwport=$3 fsid=$4
    cat >"$dir/ceph.conf.tmp" <<EOF
# Written by haul tests/lib/rgw.sh: a throwaway one-machine cluster.
[global]
fsid = $fsid
mon host = v2:127.0.0.1:$monport
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.0/8
ms bind msgr1 = false
ms bind retry count = 1
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
keyring = $dir/keyring
run dir = $dir/run
admin socket = $dir/run/\$name.asok
crash dir = $dir/crash
log to file = true
log file = $dir/log/\$name.log
log to stderr = false
err to stderr = true
mon cluster log file = $dir/log/cluster.log
mon data = $dir/mon/\$name
osd data = $dir/osd/\$name
rgw data = $dir/rgw/\$name
osd objectstore = memstore
memstore device bytes = $(( ${HAUL_TEST_RGW_MEMSTORE_MB:-1024} * 1024 * 1024 ))
osd fast shutdown = false
osd pool default size = 1
osd pool default min size = 1
mon allow pool size one = true
osd crush chooseleaf type = 0
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon max pg per osd = 1000
mon allow pool delete = true
mon warn on pool no redundancy = false
mon data avail crit = 1
mon data avail warn = 2
mon warn on insecure global id reclaim allowed = false
paxos propose interval = 0.1

[client.rgw.haul]
rgw frontends = beast endpoint=127.0.0.1:$rgwport tcp_nodelay=1
rgw relaxed s3 bucket names = true
debug rgw = ${HAUL_TEST_RGW_DEBUG:-1}
EOF
    mv -f "$dir/ceph.conf.tmp" "$dir/ceph.conf"
}

# _haul_rgw_build DIR MON_PORT RGW_PORT: a new cluster: config, keys, monmap, mon store.
_haul_rgw_build() {
    local dir=$1 monport=$2 rgwport=$3 fsid kr=$1/keyring
    rm -rf "$dir/mon" "$dir/osd" "$dir/rgw" "$dir/crash" "$dir/keyring" "$dir/monmap" \
        "$dir/ceph.conf" "$dir/rgw-env.sh"
    rm -f "$dir"/run/*.asok
    mkdir -p "$dir/mon/mon.a" "$dir/osd/osd.0" "$dir/rgw" "$dir/crash" || return 1
    fsid=$(cat /proc/sys/kernel/random/uuid) || return 1
    _haul_rgw_write_conf "$dir" "$monport" "$rgwport" "$fsid"
    # ceph-mon --mkfs imports every key in the keyring, with its caps, into the monitor's
    # auth database: no `ceph auth add` later.
    _haul_rgw_run "$dir" ceph-authtool --create-keyring "$kr" --gen-key -n mon. \
        --cap mon 'allow *' &&
        _haul_rgw_run "$dir" ceph-authtool "$kr" --gen-key -n client.admin \
            --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' &&
        _haul_rgw_run "$dir" ceph-authtool "$kr" --gen-key -n osd.0 \
            --cap mon 'allow profile osd' --cap osd 'allow *' --cap mgr 'allow profile osd' &&
        _haul_rgw_run "$dir" ceph-authtool "$kr" --gen-key -n "$_HAUL_RGW_NAME" \
            --cap mon 'allow rw' --cap osd 'allow rwx' --cap mgr 'allow rw' &&
        _haul_rgw_run "$dir" monmaptool --create --fsid "$fsid" \
            --addv a "[v2:127.0.0.1:$monport]" "$dir/monmap" &&
        _haul_rgw_run "$dir" ceph-mon -c "$dir/ceph.conf" --mkfs -i a \
            --monmap "$dir/monmap" --keyring "$kr"
}

# _haul_rgw_swift_auth USER KEY: true when auth v1.0 gives a token.
_haul_rgw_swift_auth() {
    local hdrs
    hdrs=$(curl -sS -g -o /dev/null -D - --max-time 10 -H "X-Auth-User: $1" \
        -H "X-Auth-Key: $2" "$HAUL_TEST_RGW_ST_AUTH" 2>/dev/null) || return 1
    case ${hdrs,,} in *x-auth-token:*) return 0 ;; esac
    return 1
}

# haul_rgw_start DIR: see the top of this file.
haul_rgw_start() {
    local dir=${1:-} t0 name
    t0=$(_haul_rgw_now_ms)
    if [ -z "$dir" ]; then
        _haul_rgw_err "usage: haul_rgw_start DIR"
        return 1
    fi
    haul_rgw_available || return 1
    mkdir -p "$dir" && dir=$(cd "$dir" && pwd -P) || return 1
    for name in mon osd rgw; do
        if [ -n "$(_haul_rgw_session_pids "$dir" "$name")" ]; then
            _haul_rgw_err "RGW already running in $dir (haul_rgw_stop first)"
            return 1
        fi
    done
    mkdir -p "$dir/log" "$dir/run" || return 1
    export HAUL_TEST_RGW_DIR=$dir
    local deadline=$(( t0 + ${HAUL_TEST_RGW_START_TIMEOUT:-60} * 1000 ))
    local conf=$dir/ceph.conf ports monport="" rgwport="" state failed=""
    local logs="setup.log mon.out mon.a.log osd.out osd.0.log rgw.out client.rgw.haul.log"

    # Monitor first: its port is in the monmap, so losing it means building again.
    for _ in 1 2 3 4 5; do
        failed=""
        mapfile -t ports < <(_haul_rgw_free_ports 2)
        if [ ${#ports[@]} -ne 2 ]; then failed=ports; break; fi
        monport=${ports[0]} rgwport=${ports[1]}
        _haul_rgw_build "$dir" "$monport" "$rgwport" || { failed=build; break; }
        _haul_rgw_spawn "$dir" mon ceph-mon -c "$conf" -f -i a || { failed=mon; break; }
        state=$(_haul_rgw_wait_listen "$dir" mon "$monport" "$deadline")
        case $state in
            ours) break ;;
            other)
                echo "rgw.sh: the monitor lost port $monport to another program;" \
                    "building again on other ports" >&2
                _haul_rgw_kill "$dir" mon
                failed=ports
                ;;
            *)
                _haul_rgw_err "the monitor did not start ($state)"
                failed=mon
                break
                ;;
        esac
    done

    # The OSD: registered in the osdmap (ceph osd new waits for the monitor's quorum) while
    # its store is made.
    local osd_uuid mkfs_pid
    if [ -z "$failed" ]; then
        osd_uuid=$(cat /proc/sys/kernel/random/uuid)
        _haul_rgw_run "$dir" ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" \
            --no-mon-config &
        mkfs_pid=$!
        _haul_rgw_run "$dir" timeout 30 ceph -c "$conf" --connect-timeout 25 \
            osd new "$osd_uuid" 0 || failed=osd
        wait "$mkfs_pid" || failed=osd
    fi
    if [ -z "$failed" ]; then
        _haul_rgw_spawn "$dir" osd ceph-osd -c "$conf" -f -i 0 || failed=osd
    fi

    # RGW, while the OSD boots: it creates its pools and waits for them.
    local code=""
    for _ in 1 2 3 4 5; do
        [ -z "$failed" ] || break
        _haul_rgw_spawn "$dir" rgw radosgw -c "$conf" -f -n "$_HAUL_RGW_NAME" ||
            { failed=rgw; break; }
        state=$(_haul_rgw_wait_listen "$dir" rgw "$rgwport" "$deadline")
        case $state in
            ours) break ;;
            other)
                echo "rgw.sh: radosgw lost port $rgwport to another program;" \
                    "restarting it on another port" >&2
                _haul_rgw_kill "$dir" rgw
                rgwport=$(_haul_rgw_free_ports 1 "$monport") || { failed=rgw; break; }
                _haul_rgw_write_conf "$dir" "$monport" "$rgwport" \
                    "$(sed -n 's/^fsid = //p' "$conf")"
                ;;
            *)
                _haul_rgw_err "radosgw did not start ($state)"
                failed=rgw
                ;;
        esac
    done

    export HAUL_TEST_RGW_PORT=$rgwport HAUL_TEST_RGW_MON_PORT=$monport
    export HAUL_TEST_RGW_CONF=$conf
    export HAUL_TEST_RGW_S3=http://127.0.0.1:$rgwport
    export HAUL_TEST_RGW_REGION=default
    export HAUL_TEST_RGW_ST_AUTH=http://127.0.0.1:$rgwport/auth/1.0
    export HAUL_TEST_RGW_ACCESS_KEY=haulak HAUL_TEST_RGW_SECRET_KEY=haulsk
    export HAUL_TEST_RGW_SWIFT_USER=haul:swift HAUL_TEST_RGW_SWIFT_KEY=haulswiftkey
    export HAUL_TEST_RGW_ACCESS_KEY2=haulak2 HAUL_TEST_RGW_SECRET_KEY2=haulsk2
    export HAUL_TEST_RGW_SWIFT_USER2=haul2:swift HAUL_TEST_RGW_SWIFT_KEY2=haulswiftkey2

    # Listening is not serving: RGW answers only once its pools exist.
    while [ -z "$failed" ]; do
        code=$(curl -sS -g -o /dev/null -w '%{http_code}' --max-time 5 \
            "$HAUL_TEST_RGW_S3/" 2>/dev/null) || code=""
        [ "$code" = 200 ] && break
        if [ -z "$(_haul_rgw_session_pids "$dir" rgw)" ]; then
            _haul_rgw_err "radosgw exited during start-up"
            failed=rgw
        elif [ "$(_haul_rgw_now_ms)" -ge "$deadline" ]; then
            _haul_rgw_err "radosgw on $rgwport not ready: GET / answered ${code:-nothing}"
            failed=rgw
        else
            sleep 0.1
        fi
    done

    # Users: radosgw-admin writes them to RADOS; RGW reads them at the first request.
    local uid ak sk swk
    if [ -z "$failed" ]; then
        while read -r uid ak sk swk; do
            if ! _haul_rgw_run "$dir" timeout 60 radosgw-admin -c "$conf" user create \
                --uid="$uid" --display-name="haul test user $uid" \
                --access-key="$ak" --secret-key="$sk" ||
                ! _haul_rgw_run "$dir" timeout 60 radosgw-admin -c "$conf" subuser create \
                    --uid="$uid" --subuser="$uid:swift" --access=full --key-type=swift \
                    --secret-key="$swk"; then
                failed=users
                break
            fi
        done <<<"$_HAUL_RGW_USERS"
    fi
    while [ -z "$failed" ]; do
        _haul_rgw_swift_auth haul:swift haulswiftkey &&
            _haul_rgw_swift_auth haul2:swift haulswiftkey2 && break
        if [ "$(_haul_rgw_now_ms)" -ge "$deadline" ]; then
            _haul_rgw_err "Swift auth v1.0 at $HAUL_TEST_RGW_ST_AUTH fails for the test users"
            failed=users
        else
            sleep 0.1
        fi
    done

    if [ -n "$failed" ]; then
        # shellcheck disable=SC2086
        _haul_rgw_log_tail "$dir" $logs
        haul_rgw_stop "$dir"
        return 1
    fi
    local v
    for v in HAUL_TEST_RGW_DIR HAUL_TEST_RGW_PORT HAUL_TEST_RGW_MON_PORT HAUL_TEST_RGW_CONF \
        HAUL_TEST_RGW_S3 HAUL_TEST_RGW_REGION HAUL_TEST_RGW_ST_AUTH \
        HAUL_TEST_RGW_ACCESS_KEY HAUL_TEST_RGW_SECRET_KEY \
        HAUL_TEST_RGW_SWIFT_USER HAUL_TEST_RGW_SWIFT_KEY \
        HAUL_TEST_RGW_ACCESS_KEY2 HAUL_TEST_RGW_SECRET_KEY2 \
        HAUL_TEST_RGW_SWIFT_USER2 HAUL_TEST_RGW_SWIFT_KEY2; do
        printf 'export %s=%q\n' "$v" "${!v}"
    done >"$dir/rgw-env.sh"
    echo "rgw.sh: RGW ready on $HAUL_TEST_RGW_S3 in $(( $(_haul_rgw_now_ms) - t0 )) ms" \
        >>"$dir/log/setup.log"
    return 0
}

# haul_rgw_stop [DIR]: stop RGW, then the OSD (cleanly: memstore saves its contents to
# DIR/osd), then the monitor, started by haul_rgw_start in DIR (default $HAUL_TEST_RGW_DIR),
# waiting until each is gone.  Idempotent; always returns 0, so it is safe in `trap ...
# EXIT`.  DIR itself is left for the caller to delete.
haul_rgw_stop() {
    local dir=${1:-${HAUL_TEST_RGW_DIR:-}} name
    [ -n "$dir" ] && [ -d "$dir/run" ] || return 0
    for name in rgw osd mon; do
        _haul_rgw_kill "$dir" "$name"
    done
    return 0
}
