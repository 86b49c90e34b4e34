# bench/lib/net.sh -- sourced by bash scripts: hosts in network namespaces, and a store that
# looks remote (a constant added round trip) on kernels without netem.
#
# The "hosts" are network namespaces on this machine, each with one veth (eth0) into a bridge
# that lives in a switch namespace with no uplink, as in tests/integration/test_multihost.sh
# (which uses 10.77.0.0/24; this uses 10.78.0.0/24 so that both can run at once):
#
#   BENCH_NS_SW                      the switch: bridge br0 and the peer of every eth0
#   BENCH_NS_REDIS  BENCH_REDIS_IP   10.78.0.2
#   BENCH_NS_STORE  BENCH_STORE_IP   10.78.0.3
#   BENCH_NS_H1..   BENCH_IP_H1..    10.78.0.11.. one per client host, up to 4
#   BENCH_HOST_NSS  BENCH_HOST_IPS   the hosts' namespaces and addresses, space-separated
#   BENCH_NHOSTS                     how many hosts
#   BENCH_NET_PREFIX                 haul-bn<pid of the script>: every namespace is PREFIX-*
#
# Functions (all return non-zero with a message on stderr when they cannot do their job):
#   bench_net_up NHOSTS      build the network above and export the variables
#   bench_delay_on MS [PORT...]
#                            add MS milliseconds of round trip between the store and every
#                            other host, TCP only; with PORTs, only for the store's ports
#   bench_delay_off          remove it and print netdelay's statistics
#   bench_rtt_ms NS IP PORT  median TCP connect time in ms from namespace NS (or a short name:
#                            h1, redis, ...) to IP:PORT, over 7 connects
#   bench_net_down           remove everything; idempotent, fine in an EXIT trap
#
# How the delay works: the kernel has no netem here, so iptables rules in the switch send the
# TCP packets crossing the store's switch port (p-store), in both directions, to NFQUEUE 0,
# where bench/netdelay (make bench-tools; BENCH_NETDELAY overrides the path) holds each one
# MS/2 milliseconds before accepting it.  A handshake, a request and its answer each pay MS.
# Only that port: the store's loopback is never delayed (Swift's proxy talks to its account,
# container and object servers on 127.0.0.1 there), nor Redis, which is on its own host.
#
# Why in the switch and not on the store's eth0: a packet queued on the store's OUTPUT is still
# charged to its socket, and TCP Small Queues lets a socket have only about max(2 packets,
# 1 ms of its pacing rate) below TCP at once -- held MS/2 each, a download crawled at 0.5 MB/s
# (a 4 MB GET took 7 s) and BBR then believed that rate.  Crossing the veth frees the packet
# from its socket, so in the switch both directions are delayed alike and TCP sees only a
# longer round trip.  The switch's bridge hands its packets to iptables through br_netfilter
# (net.bridge.bridge-nf-call-iptables, per namespace) and the physdev match.
#
# BENCH_NETDELAY_RT=0 runs netdelay at normal priority instead of SCHED_FIFO 10.
#
# Needs root (ip netns, iptables), iproute2, iptables and python3.  Usage:
#   . bench/lib/net.sh
#   trap bench_net_down EXIT
#   bench_net_up 4 || exit 1
#   ip netns exec "$BENCH_NS_STORE" some-server --bind "$BENCH_STORE_IP" &
#   bench_delay_on 20 8080 || exit 1
#   bench_rtt_ms h1 "$BENCH_STORE_IP" 8080      # about 20
#   ...; bench_delay_off

BENCH_NET_DIR_=""             # netdelay's output, while the delay is on
BENCH_NETDELAY_PID=""
BENCH_NETDELAY=${BENCH_NETDELAY:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/build/bench/netdelay}
BENCH_NET_PREFIX=haul-bn$$
export BENCH_NET_PREFIX

# bench_sw_ipt_ ARGS: iptables in the switch's namespace.  The legacy tables when there is a
# choice: kernels without netem tend to be minimal ones, which may lack nf_tables.
bench_sw_ipt_() {
    local ipt=iptables
    command -v iptables-legacy >/dev/null && ipt=iptables-legacy
    ip netns exec "$BENCH_NS_SW" "$ipt" -w "$@"
}

# bench_ns_ NAME: a namespace's full name from a short one (h1, store, ...); full names pass.
bench_ns_() {
    if ip netns list 2>/dev/null | awk '{print $1}' | grep -qxF "$BENCH_NET_PREFIX-$1"; then
        echo "$BENCH_NET_PREFIX-$1"
    else
        echo "$1"
    fi
}

# Namespace names carry the pid of the script that made them: concurrent runs do not meet, and
# namespaces left by a run that was killed with SIGKILL (no trap) are recognised and removed,
# with whatever still runs in them (a netdelay whose script died, a server), and their
# netdelay output directories /tmp/haul-bn<pid>.*.
bench_net_reap_() {
    local ns pid left d
    for d in /tmp/haul-bn[0-9]*.*; do
        [ -d "$d" ] || continue
        pid=${d#/tmp/haul-bn}; pid=${pid%%.*}
        kill -0 "$pid" 2>/dev/null || rm -rf "$d"
    done
    for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^haul-bn[0-9]+-(sw|redis|store|h[0-9])$'); do
        pid=${ns#haul-bn}; pid=${pid%%-*}
        kill -0 "$pid" 2>/dev/null && continue
        left=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
        # shellcheck disable=SC2086
        [ -n "${left// /}" ] && kill -KILL $left 2>/dev/null
        ip netns del "$ns" 2>/dev/null
    done
}

bench_net_up() {
    local n=${1:-} i h ns err
    case $n in
        [1-4]) ;;
        *) echo "bench_net_up: NHOSTS must be 1 to 4, not '$n'" >&2; return 2 ;;
    esac
    if [ "$(id -u)" -ne 0 ]; then
        echo "bench_net_up: needs root (ip netns add, veth, iptables)" >&2; return 1
    fi
    command -v ip >/dev/null || { echo "bench_net_up: no ip command (Debian package iproute2)" >&2; return 1; }
    bench_net_reap_
    # A second call rebuilds from scratch rather than half-reusing what is there.
    bench_net_down

    BENCH_NS_SW=$BENCH_NET_PREFIX-sw
    BENCH_NS_REDIS=$BENCH_NET_PREFIX-redis BENCH_REDIS_IP=10.78.0.2
    BENCH_NS_STORE=$BENCH_NET_PREFIX-store BENCH_STORE_IP=10.78.0.3
    BENCH_NHOSTS=$n BENCH_HOST_NSS="" BENCH_HOST_IPS=""
    export BENCH_NS_SW BENCH_NS_REDIS BENCH_REDIS_IP BENCH_NS_STORE BENCH_STORE_IP BENCH_NHOSTS
    local -a names=(redis store) addrs=("$BENCH_REDIS_IP" "$BENCH_STORE_IP")
    for i in $(seq "$n"); do
        names+=("h$i") addrs+=("10.78.0.$((10 + i))")
        export "BENCH_NS_H$i=$BENCH_NET_PREFIX-h$i" "BENCH_IP_H$i=10.78.0.$((10 + i))"
        BENCH_HOST_NSS="$BENCH_HOST_NSS${BENCH_HOST_NSS:+ }$BENCH_NET_PREFIX-h$i"
        BENCH_HOST_IPS="$BENCH_HOST_IPS${BENCH_HOST_IPS:+ }10.78.0.$((10 + i))"
    done
    export BENCH_HOST_NSS BENCH_HOST_IPS

    if ! err=$(ip netns add "$BENCH_NS_SW" 2>&1); then
        # Not even one namespace: the machine cannot (no root in this user namespace, an
        # unprivileged container), not a fault of the caller.
        echo "bench_net_up: ip netns add failed: ${err:0:200} (needs root and network namespaces; an unprivileged container has neither)" >&2
        return 1
    fi
    # (In a subshell for its output; `set -e` would be ignored in an `if`, hence the ||.)
    if ! err=$(
        exec 2>&1
        ip -n "$BENCH_NS_SW" link set lo up &&
            ip -n "$BENCH_NS_SW" link add br0 type bridge &&
            ip -n "$BENCH_NS_SW" link set br0 up || exit 1
        for i in "${!names[@]}"; do
            h=${names[$i]} ns=$BENCH_NET_PREFIX-${names[$i]}
            # Both ends are created directly in their namespaces: nothing appears in the
            # caller's namespace, even if we are interrupted half-way.
            ip netns add "$ns" &&
                ip -n "$ns" link set lo up &&
                ip link add name eth0 netns "$ns" type veth peer name "p-$h" netns "$BENCH_NS_SW" &&
                ip -n "$BENCH_NS_SW" link set "p-$h" master br0 &&
                ip -n "$BENCH_NS_SW" link set "p-$h" up &&
                ip -n "$ns" addr add "${addrs[$i]}/24" dev eth0 &&
                ip -n "$ns" link set eth0 up || exit 1
        done
    ); then
        echo "bench_net_up: building the network failed: ${err:0:300}" >&2
        bench_net_down
        return 1
    fi
}

bench_delay_on() {
    local ms=${1:-} half p out i
    shift || true
    case $ms in
        ''|*[!0-9.]*|*.*.*|.*) echo "bench_delay_on: MS must be a number of milliseconds, not '$ms'" >&2; return 2 ;;
    esac
    for p in "$@"; do
        case $p in
            ''|*[!0-9]*) echo "bench_delay_on: '$p' is not a TCP port" >&2; return 2 ;;
        esac
        if [ "$p" -lt 1 ] || [ "$p" -gt 65535 ]; then echo "bench_delay_on: '$p' is not a TCP port" >&2; return 2; fi
    done
    if [ -z "${BENCH_NS_SW:-}" ] || ! ip netns pids "$BENCH_NS_SW" >/dev/null 2>&1; then
        echo "bench_delay_on: no network (call bench_net_up first)" >&2; return 1
    fi
    if [ ! -x "$BENCH_NETDELAY" ]; then
        echo "bench_delay_on: $BENCH_NETDELAY is missing (make bench-tools; needs libnetfilter-queue-dev)" >&2; return 1
    fi
    command -v iptables-legacy >/dev/null || command -v iptables >/dev/null ||
        { echo "bench_delay_on: no iptables (Debian package iptables)" >&2; return 1; }
    # Bridged packets reach iptables only through br_netfilter (a module on some kernels).
    if ! ip netns exec "$BENCH_NS_SW" sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null; then
        modprobe br_netfilter 2>/dev/null
        ip netns exec "$BENCH_NS_SW" sysctl -qw net.bridge.bridge-nf-call-iptables=1 2>/dev/null || {
            echo "bench_delay_on: no net.bridge.bridge-nf-call-iptables (the kernel needs CONFIG_BRIDGE_NETFILTER; modprobe br_netfilter)" >&2
            return 1
        }
    fi
    bench_delay_off >/dev/null 2>&1
    # Each direction pays half: the round trip is MS.
    half=$(awk -v m="$ms" 'BEGIN { printf "%g", m / 2 }')

    # Real-time priority: packets are due at set times, and with the clients and servers busy
    # on the same cores an ordinary netdelay was released up to 14 ms late (p99 of a request
    # 26 ms instead of 22); SCHED_FIFO keeps it under 0.5 ms.  netdelay never spins (it
    # sleeps in ppoll until the next packet is due), and the kernel caps real-time tasks
    # at 95% of a CPU anyway.  chrt and ip exec in place: $! is netdelay's pid.
    local -a rt=()
    if [ "${BENCH_NETDELAY_RT:-1}" != 0 ] && chrt -f 10 true 2>/dev/null; then rt=(chrt -f 10); fi
    BENCH_NET_DIR_=$(mktemp -d "/tmp/$BENCH_NET_PREFIX.XXXXXX") || return 1
    out=$BENCH_NET_DIR_/netdelay
    ip netns exec "$BENCH_NS_SW" "${rt[@]}" "$BENCH_NETDELAY" --queue 0 --delay-ms "$half" \
        </dev/null >"$out.out" 2>"$out.err" &
    BENCH_NETDELAY_PID=$!
    for i in $(seq 100); do
        grep -qx ready "$out.out" 2>/dev/null && break
        kill -0 "$BENCH_NETDELAY_PID" 2>/dev/null || break
        sleep 0.05
    done
    if ! grep -qx ready "$out.out" 2>/dev/null; then
        echo "bench_delay_on: netdelay did not start: $(head -c 300 "$out.err")" >&2
        bench_delay_off >/dev/null 2>&1
        return 1
    fi

    # Own chains, so that bench_delay_off removes exactly what was added.  --queue-bypass:
    # should netdelay die, packets pass undelayed instead of being dropped.
    local -a q=(-j NFQUEUE --queue-num 0 --queue-bypass)
    if ! out=$(
        exec 2>&1 </dev/null
        bench_sw_ipt_ -N HAUL_DELAY_TO_STORE && bench_sw_ipt_ -N HAUL_DELAY_FROM_STORE || exit 1
        if [ $# -eq 0 ]; then
            bench_sw_ipt_ -A HAUL_DELAY_TO_STORE "${q[@]}" &&
                bench_sw_ipt_ -A HAUL_DELAY_FROM_STORE "${q[@]}" || exit 1
        fi
        for p in "$@"; do
            # The store's ports: clients address their packets to them, answers come from them.
            bench_sw_ipt_ -A HAUL_DELAY_TO_STORE -p tcp --dport "$p" "${q[@]}" &&
                bench_sw_ipt_ -A HAUL_DELAY_FROM_STORE -p tcp --sport "$p" "${q[@]}" || exit 1
        done
        bench_sw_ipt_ -I FORWARD -m physdev --physdev-out p-store -p tcp -j HAUL_DELAY_TO_STORE &&
            bench_sw_ipt_ -I FORWARD -m physdev --physdev-in p-store -p tcp -j HAUL_DELAY_FROM_STORE
    ); then
        echo "bench_delay_on: iptables in $BENCH_NS_SW failed: ${out:0:300}" >&2
        bench_delay_off >/dev/null 2>&1
        return 1
    fi
    echo "bench_delay_on: +$ms ms round trip to $BENCH_NS_STORE (TCP${1:+, ports $*}; netdelay pid $BENCH_NETDELAY_PID${rt:+, SCHED_FIFO})" >&2
}

# Rules first, then netdelay: with the rules gone nothing new is queued, and netdelay accepts
# what it holds as it stops.  Quiet when the delay is not on.
bench_delay_off() {
    local rc=0 c i
    if [ -n "${BENCH_NS_SW:-}" ] && ip netns pids "$BENCH_NS_SW" >/dev/null 2>&1; then
        while bench_sw_ipt_ -D FORWARD -m physdev --physdev-out p-store -p tcp -j HAUL_DELAY_TO_STORE 2>/dev/null; do :; done
        while bench_sw_ipt_ -D FORWARD -m physdev --physdev-in p-store -p tcp -j HAUL_DELAY_FROM_STORE 2>/dev/null; do :; done
        for c in HAUL_DELAY_TO_STORE HAUL_DELAY_FROM_STORE; do
            bench_sw_ipt_ -F "$c" 2>/dev/null && bench_sw_ipt_ -X "$c" 2>/dev/null
        done
    fi
    if [ -n "$BENCH_NETDELAY_PID" ]; then
        kill -TERM "$BENCH_NETDELAY_PID" 2>/dev/null
        for i in $(seq 50); do kill -0 "$BENCH_NETDELAY_PID" 2>/dev/null || break; sleep 0.05; done
        if kill -0 "$BENCH_NETDELAY_PID" 2>/dev/null; then
            echo "bench_delay_off: netdelay (pid $BENCH_NETDELAY_PID) did not stop on SIGTERM: killed" >&2
            kill -KILL "$BENCH_NETDELAY_PID" 2>/dev/null
            rc=1
        fi
        # Reap it when it is our child (it is, unless we are a subshell of the caller).
        wait "$BENCH_NETDELAY_PID" 2>/dev/null
        BENCH_NETDELAY_PID=""
    fi
    if [ -n "$BENCH_NET_DIR_" ]; then
        [ -s "$BENCH_NET_DIR_/netdelay.err" ] && sed 's/^/  /' "$BENCH_NET_DIR_/netdelay.err" >&2
        rm -rf "$BENCH_NET_DIR_"
        BENCH_NET_DIR_=""
    fi
    return $rc
}

# bench_rtt_ms NS IP PORT: the median of 7 TCP connect times, in ms with two decimals.
bench_rtt_ms() {
    local ns
    if [ $# -ne 3 ]; then echo "usage: bench_rtt_ms NAMESPACE IP PORT" >&2; return 2; fi
    ns=$(bench_ns_ "$1")
    ip netns exec "$ns" python3 -c '
import socket, statistics, sys, time
ip, port, ms = sys.argv[1], int(sys.argv[2]), []
for _ in range(7):
    s = socket.socket()
    s.settimeout(5)
    t = time.perf_counter()
    try:
        s.connect((ip, port))
    except OSError as e:
        sys.exit(f"bench_rtt_ms: connect to {ip}:{port}: {e}")
    ms.append((time.perf_counter() - t) * 1000)
    s.close()
print(f"{statistics.median(ms):.2f}")
' "$2" "$3"
}

# Everything goes, whatever state it is in.  Processes still running in our namespaces were
# started there by the caller (servers, clients): deleting a namespace's name does not end
# them, and they would keep it and its veth alive, so they are stopped by pid.
bench_net_down() {
    local nss ns left p i alive
    # A background child killed between fork and exec can run the caller's EXIT trap: only the
    # script itself tears down.
    [ "$BASHPID" = "$$" ] || return 0
    bench_delay_off
    nss=$(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$BENCH_NET_PREFIX-(sw|redis|store|h[0-9])\$")
    [ -n "$nss" ] || return 0
    left=""
    for ns in $nss; do left="$left $(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')"; done
    if [ -n "${left// /}" ]; then
        echo "bench_net_down: stopping processes left in $BENCH_NET_PREFIX-*:$left" >&2
        # shellcheck disable=SC2086
        kill -TERM $left 2>/dev/null
        for i in $(seq 30); do
            alive=0
            for p in $left; do kill -0 "$p" 2>/dev/null && alive=1; done
            [ $alive -eq 0 ] && break
            sleep 0.1
        done
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null
    fi
    # Deleting a namespace deletes its end of each veth pair, and with it the other end; the
    # store's iptables rules go with its namespace.
    for ns in $nss; do ip netns del "$ns" 2>/dev/null; done
    return 0
}
