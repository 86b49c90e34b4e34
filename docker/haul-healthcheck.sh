#!/bin/sh
# haul-healthcheck -- the image's HEALTHCHECK: true when this container's
# haul-worker has a live heartbeat in Redis.
#
# Every 2 s, from its one loop, a worker scores its id in the sorted set
# haul:workers with the time by its own clock (docs/protocol.md); "alive" is
# a score less than 15 s old.  This check runs on the worker's host, by the
# same clock, and asks for the ids scored in the last 15 s: the worker is
# among them exactly when its loop is turning and reaching Redis.  It says
# nothing about the object store, whose address and credentials come inside
# each task.  One ZRANGEBYSCORE per check: a command the least-privileged
# worker ACL in README.md allows (EXISTS, HGET, ZSCORE are not in it).
#
# The id and the Redis URL are read the way the worker reads them: --name and
# --redis from its command line, then HAUL_NAME, HAUL_REDIS, HAUL_REDIS_URL
# from the environment it was started with -- which is this check's own: the
# worker makes itself undumpable (no core dump may hold its secrets), so its
# /proc/PID/environ is root's to read, and the container gives both processes
# the same environment; the id defaults to <hostname>:<pid>.  The password (if the URL has one) is handed to redis-cli
# in REDISCLI_AUTH, never on a command line.
set -u

say() { echo "haul-healthcheck: $*"; }

pid=""
for d in /proc/[0-9]*; do
    if [ "$(cat "$d/comm" 2>/dev/null)" = haul-worker ]; then
        pid=${d#/proc/}
        break
    fi
done
[ -n "$pid" ] || { say "no haul-worker runs in this container"; exit 1; }

# The worker's own settings: flags first, then its environment.
name="" url=""
args=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null) || args=""
prev=""
while IFS= read -r a; do
    case $prev in
        --name) name=$a ;;
        --redis) url=$a ;;
    esac
    case $a in
        --name=*) name=${a#--name=} ;;
        --redis=*) url=${a#--redis=} ;;
    esac
    prev=$a
done <<EOF
$args
EOF
envvar() {
    v=$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sed -n "s/^$1=//p" | head -n 1)
    [ -n "$v" ] || eval "v=\${$1:-}"
    printf '%s' "$v"
}
[ -n "$name" ] || name=$(envvar HAUL_NAME)
[ -n "$url" ] || url=$(envvar HAUL_REDIS)
[ -n "$url" ] || url=$(envvar HAUL_REDIS_URL)
[ -n "$url" ] || url=redis://127.0.0.1:6379/0
[ -n "$name" ] || name="$(cat /proc/sys/kernel/hostname):$pid"

# redis://[user[:password]@]host[:port][/db], split as the worker splits it
# (common/queue.c): the last '@' ends the credentials.
rest=${url#redis://}
auth=""
case $rest in *@*) auth=${rest%@*} rest=${rest##*@} ;; esac
hostport=${rest%%/*}
db=0
case $rest in */?*) db=${rest#*/} ;; esac
host=${hostport%%:*}
[ -n "$host" ] || host=127.0.0.1
port=6379
case $hostport in *:*) port=${hostport#*:} ;; esac
user="" pass=""
case $auth in
    '') ;;
    *:*) user=${auth%%:*} pass=${auth#*:} ;;
    *) pass=$auth ;;
esac

set -- -h "$host" -p "$port" -n "$db"
[ -z "$user" ] || set -- "$@" --user "$user"
if [ -n "$pass" ]; then
    REDISCLI_AUTH=$pass
    export REDISCLI_AUTH
fi
since=$(($(date +%s%3N) - 15000))
out=$(timeout 4 redis-cli "$@" ZRANGEBYSCORE haul:workers "$since" +inf 2>&1)
rc=$?
if [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -qxF -- "$name"; then
    exit 0
fi
case $rc:$out in
    124:*) why="no answer within 4 s" ;;
    *"Could not connect"* | *ERR* | *NOPERM* | *NOAUTH* | *WRONGPASS* | *LOADING* | *rror*)
        why="redis-cli: $(printf '%s\n' "$out" | head -n 1)" ;;
    *) why="$(printf '%s\n' "$out" | grep -c .) other live worker(s)" ;;
esac
say "no heartbeat from $name in the last 15 s (haul:workers at $host:$port/$db: $why)"
exit 1
