#!/usr/bin/env bash
# Workers on several hosts, with a network cut.  The "hosts" are network namespaces on this
# machine, each with one veth into a bridge that lives in a dedicated "switch" namespace with
# no uplink, so no packet of the test leaves these namespaces:
#
#   redis  10.77.0.2   redis-server bound to that address, requirepass and an ACL user;
#                      the scheduler runs here too
#   store  10.77.0.3   Swift single node (tests/lib/servers.sh with HAUL_TEST_NETNS and
#                      HAUL_TEST_SWIFT_ADDR): the proxy, Swift and S3, on 10.77.0.3
#   h1-h3  10.77.0.11-13  one haul-worker each, --concurrency 8, --name hN; h1 and h2 log in
#                      with the password (--redis), h3 as the ACL user (HAUL_REDIS_URL)
#
# 1. The notebook's job over Swift, 200-fold (16000 keys, 4000 tasks of 4); mid-job h2's
#    switch port goes down for HAUL_MULTIHOST_CUT_S seconds (default 4, shorter than the
#    worker's 10 s lease), then up again.  Checked: every answer is right (error rows would be
#    allowed, and printed, only for h2's keys), h1 and h3 stored results during the cut and h2
#    none, h2 stored results after it.  Nothing is requeued: the job waits for h2.
# 2. h2 restarted with --lease 3, a 4000-key job, and h2's port down until the job is done:
#    the reaper requeues h2's tasks and h1 and h3 complete the job without h2, which then
#    comes back, logs that its lease lapsed, and serves again.
# Also: Redis refuses a client without the password and a wrong password (worker exit 2,
# password not shown); the ACL user is refused nothing (ACL LOG); no password or store key in
# any log; nothing left queued or held.  32-38 s measured on 2 cores busy with other tests.
#
# Needs root (ip netns); without it, or where network namespaces cannot be made (an
# unprivileged container), it prints why and "0 passed, 0 failed" -- unless
# HAUL_TEST_REQUIRE_NETNS=1, which makes that a failure.  HAUL_KEEP=1 keeps the test files.
set -u
cd "$(dirname "$0")/../.." || exit 1
TOP=$PWD
. tests/lib/servers.sh
. tests/lib/seed.sh

PY=/usr/bin/python3
BUCKET=LSST-IR-FUSION-testfromopenstack
SCHED=$TOP/bin/haul-scheduler
WORKER=$TOP/bin/haul-worker
REPEAT=${HAUL_MULTIHOST_REPEAT:-200}
BATCH=4
CUT_S=${HAUL_MULTIHOST_CUT_S:-4}
NET=10.77.0
REDIS_IP=$NET.2 STORE_IP=$NET.3
passed=0 failed=0
ok()   { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1"; failed=$((failed + 1)); [ -n "${2:-}" ] && [ -f "$2" ] && sed 's/^/  | /' "$2" | tail -20; }
info() { echo "  $*"; }
finish() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }
now_ms() { date +%s%3N; }

skip() {
    if [ -n "${HAUL_TEST_REQUIRE_NETNS:-}" ]; then
        fail "multi-host test cannot run: $1"
    else
        echo "skip multi-host test: $1 (HAUL_TEST_REQUIRE_NETNS=1 makes this a failure)"
    fi
    finish
}
[ "$(id -u)" -eq 0 ] || skip "needs root for ip netns"
command -v ip >/dev/null || skip "no ip command (Debian package iproute2)"

# Namespace names carry our pid: concurrent runs do not meet, and namespaces left by a run
# that was killed with SIGKILL (no trap) are recognised and removed.
P=haul-mh$$
for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^haul-mh[0-9]+-(sw|redis|store|h[0-9])$'); do
    pid=${ns#haul-mh}; pid=${pid%%-*}
    kill -0 "$pid" 2>/dev/null || ip netns del "$ns" 2>/dev/null
done
SW=$P-sw
HOSTS=(redis store h1 h2 h3)
declare -A ADDR=([redis]=$REDIS_IP [store]=$STORE_IP [h1]=$NET.11 [h2]=$NET.12 [h3]=$NET.13)
NSS=()
ns() { echo "$P-$1"; }
# inns HOST CMD...: run CMD on HOST.  Processes started in the background use `ip netns exec`
# directly instead, so that $! is their pid (ip execs the command in place).
inns() { local h=$1; shift; ip netns exec "$(ns "$h")" "$@"; }

T=$(mktemp -d /tmp/haul-multihost.XXXXXX)
chmod 700 "$T"
WPIDS=() SPID="" RPID=""
cleanup() {
    local rc=$? p alive
    # A background child killed between fork and exec can run this trap: only the test itself
    # cleans up.
    [ "$BASHPID" = "$$" ] || return 0
    [ -n "$SPID" ] && kill -KILL "$SPID" 2>/dev/null
    for p in "${WPIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 50); do
        alive=0
        for p in "${WPIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
        [ $alive -eq 0 ] && break
        sleep 0.1
    done
    for p in "${WPIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    [ -n "$RPID" ] && kill -TERM "$RPID" 2>/dev/null
    haul_servers_stop
    [ -n "$RPID" ] && { for _ in $(seq 50); do kill -0 "$RPID" 2>/dev/null || break; sleep 0.1; done; kill -KILL "$RPID" 2>/dev/null; }
    # Anything still running in our namespaces was started by this test: stop it by pid.
    local left=""
    for p in "${NSS[@]}"; do left="$left $(ip netns pids "$p" 2>/dev/null | tr '\n' ' ')"; done
    # shellcheck disable=SC2086
    if [ -n "${left// /}" ]; then
        echo "  (stopping processes left in the test's namespaces:$left)"
        kill -KILL $left 2>/dev/null
    fi
    # Deleting a namespace deletes its end of each veth pair, and with it the other end.
    for p in "${NSS[@]}"; do ip netns del "$p" 2>/dev/null; done
    if [ "$failed" -eq 0 ] && [ "$rc" -eq 0 ] && [ -z "${HAUL_KEEP:-}" ]; then rm -rf "$T"; else echo "  (test files kept in $T)"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- the network ---------------------------------------------------------------------------
netup() {
    ip netns add "$SW" || return 1
    NSS+=("$SW")
    ip -n "$SW" link set lo up &&
        ip -n "$SW" link add br0 type bridge &&
        ip -n "$SW" link set br0 up || return 1
    local h n
    for h in "${HOSTS[@]}"; do
        n=$(ns "$h")
        ip netns add "$n" || return 1
        NSS+=("$n")
        # Both ends are created directly in their namespaces: nothing appears in this one.
        ip -n "$n" link set lo up &&
            ip link add name eth0 netns "$n" type veth peer name "p-$h" netns "$SW" &&
            ip -n "$SW" link set "p-$h" master br0 &&
            ip -n "$SW" link set "p-$h" up &&
            ip -n "$n" addr add "${ADDR[$h]}/24" dev eth0 &&
            ip -n "$n" link set eth0 up || return 1
    done
}
if ! netup 2>"$T/net.err"; then
    # No namespace could be made at all: not a failure of haul, but of the machine.
    if [ ${#NSS[@]} -eq 0 ]; then skip "ip netns add failed: $(head -c 200 "$T/net.err")"; fi
    fail "building the network" "$T/net.err"; finish
fi
links=$(ip -n "$SW" -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' ')
if [ "$links" = "br0 lo p-h1 p-h2 p-h3 p-redis p-store " ]; then
    ok "network: 5 hosts (namespaces $P-*) on $NET.0/24, one bridge, no uplink (switch has: $links)"
else
    fail "switch namespace links: $links"
fi

# ---- the store host --------------------------------------------------------------------------
# The store host runs no redis-server of its own (HAUL_TEST_NO_REDIS): Redis is on its own host.
HAUL_TEST_NETNS=$(ns store)
export HAUL_TEST_NETNS HAUL_TEST_SWIFT_ADDR=$STORE_IP HAUL_TEST_NO_REDIS=1
t0=$(now_ms)
haul_servers_start "$T/srv" 2>"$T/servers.err" || { fail "Swift did not start in $(ns store)" "$T/servers.err"; finish; }
haul_seed_notebook "$BUCKET" "$T/data" >/dev/null 2>"$T/seed.err" || { fail "seeding" "$T/seed.err"; finish; }
ok "store host: Swift proxy on $STORE_IP:$HAUL_TEST_SWIFT_PORT, notebook bucket seeded ($(( $(now_ms) - t0 )) ms)"

# ---- the Redis host ------------------------------------------------------------------------------
PW=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 24)     # default user
WPW=$(head -c 24 /dev/urandom | base64 | tr -d '/+=' | head -c 24)    # ACL user haulworker
# The commands a worker sends (README, "Workers on several hosts"), and nothing else; keys
# haul:* only.  EVAL runs the lease, reaper and listing-page scripts; Redis checks the commands
# inside them (TIME, ZADD, ZRANGEBYSCORE, RPOP, LPUSH, RPUSH, ZREM, DEL, EXISTS, HGET, XADD,
# HSET, PTTL, PEXPIRE) against the same list.
WORKER_CMDS="+auth +ping +select +blmove +lmove +lrange +llen +lrem +lpush +rpush +rpop +xadd
 +hset +hget +hincrby +expire +pexpire +pttl +exists +zadd +zrem +zrangebyscore +zremrangebyscore
 +smembers +del +multi +exec +eval +time"
WORKER_CMDS=$(echo $WORKER_CMDS)
mkdir -p "$T/redis"
(umask 077; cat >"$T/redis/redis.conf" <<EOF
bind $REDIS_IP
port 6379
protected-mode yes
save ""
appendonly no
dir $T/redis
logfile $T/redis.log
requirepass $PW
user haulworker on >$WPW resetkeys ~haul:* resetchannels -@all $WORKER_CMDS
EOF
)
ip netns exec "$(ns redis)" redis-server "$T/redis/redis.conf" </dev/null >>"$T/redis.log" 2>&1 &
RPID=$!
R=redis://:$PW@$REDIS_IP:6379/0
# The jobs below are queued whole at once (--max-queued 0) and keep their results
# (--keep-results): the test cuts a worker's link once 15% of the results are in the stream,
# counts them with XLEN, and reads the stream afterwards.
export HAUL_MAX_QUEUED=0 HAUL_KEEP_RESULTS=1
RW=redis://haulworker:$WPW@$REDIS_IP:6379/0
rcli() { local h=$1; shift; REDISCLI_AUTH=$PW inns "$h" redis-cli --no-auth-warning -h "$REDIS_IP" -p 6379 "$@"; }
for _ in $(seq 100); do [ "$(rcli redis ping 2>/dev/null)" = PONG ] && break; sleep 0.05; done
noauth=$(inns h1 redis-cli -h "$REDIS_IP" -p 6379 ping 2>&1)
pong=$(rcli h1 ping 2>&1)
noperm=$(REDISCLI_AUTH=$WPW inns h3 redis-cli --no-auth-warning --user haulworker -h "$REDIS_IP" -p 6379 FLUSHALL 2>&1)
noperm2=$(REDISCLI_AUTH=$WPW inns h3 redis-cli --no-auth-warning --user haulworker -h "$REDIS_IP" -p 6379 RPUSH other 1 2>&1)
if [ "$pong" = PONG ] && [[ $noauth == *NOAUTH* ]] && [[ $noperm == *NOPERM* ]] && [[ $noperm2 == *NOPERM* ]]; then
    ok "redis host: $REDIS_IP:6379 answers h1 only with the password ('$noauth'); ACL user haulworker may not FLUSHALL nor touch non-haul keys"
else
    fail "redis host (ping '$pong', without password '$noauth', ACL '$noperm' / '$noperm2')" "$T/redis.log"
fi
ST_AUTH_URL=$HAUL_TEST_ST_AUTH

# A wrong password: the worker exits 2 and names the URL without the password.
inns h1 timeout 10 "$WORKER" --redis "redis://:Wrong${PW}x@$REDIS_IP:6379/0" --name h1 >"$T/wrongpw.log" 2>&1
rc=$?
if [ $rc -eq 2 ] && grep -q "redis://:\*\*\*@$REDIS_IP:6379/0" "$T/wrongpw.log" && ! grep -q "$PW" "$T/wrongpw.log"; then
    ok "wrong Redis password from h1: exit 2, '$(head -c 160 "$T/wrongpw.log")'"
else
    fail "wrong Redis password (exit $rc)" "$T/wrongpw.log"
fi

# ---- the workers -------------------------------------------------------------------------
rcli redis ACL LOG RESET >/dev/null   # forget the refusals above: the workers' are checked below
for h in h1 h2; do
    ip netns exec "$(ns "$h")" "$WORKER" --redis "$R" --concurrency 8 --name "$h" >"$T/$h.log" 2>&1 &
    WPIDS+=($!)
done
ip netns exec "$(ns h3)" env HAUL_REDIS_URL="$RW" "$WORKER" --concurrency 8 --name h3 >"$T/h3.log" 2>&1 &
WPIDS+=($!)
for _ in $(seq 100); do [ "$(rcli redis ZCARD haul:workers)" = 3 ] && break; sleep 0.05; done
# Each worker's connection comes from its own host's address, as Redis sees it.
peers=$(rcli redis CLIENT LIST | grep -o 'addr=[0-9.]*' | sed 's/addr=//' | sort -u | tr '\n' ' ')
if [ "$(rcli redis ZRANGE haul:workers 0 -1 | sort | tr '\n' ' ')" = "h1 h2 h3 " ] &&
   [[ $peers == *"$NET.11 "* && $peers == *"$NET.12 "* && $peers == *"$NET.13 "* ]]; then
    ok "3 workers on 3 hosts registered (h3 as ACL user haulworker); Redis's clients: $peers"
else
    fail "workers did not register: $(rcli redis ZRANGE haul:workers 0 -1 | tr '\n' ' ')(clients: $peers)" "$T/h3.log"
fi

# ---- the job, and the cut -------------------------------------------------------------------
TOTAL=$((80 * REPEAT))
t_start=$(now_ms)
ip netns exec "$(ns redis)" env ST_AUTH="$ST_AUTH_URL" ST_USER=test:tester ST_KEY=testing \
    "$SCHED" run --redis "$R" --swift --container "$BUCKET" --prefix dummy --op sidecar \
    --repeat "$REPEAT" --no-coalesce --batch "$BATCH" --format jsonl --out "$T/job.jsonl" >"$T/job.out" 2>"$T/job.err" &
SPID=$!
job=""
for _ in $(seq 200); do
    job=$(grep -o 'job [0-9a-f-]* submitted' "$T/job.err" 2>/dev/null | awk '{print $2}')
    [ -n "$job" ] && break; sleep 0.05
done
# Cut once about 15% of the results are in: every worker is busy by then.
n=0 deadline=$((SECONDS + 30))
while kill -0 "$SPID" 2>/dev/null && [ "${n:-0}" -lt $((TOTAL * 15 / 100)) ] && [ $SECONDS -lt $deadline ]; do
    n=$(rcli redis XLEN "haul:res:$job" 2>/dev/null); sleep 0.05
done
ip -n "$SW" link set p-h2 down
t_cut=$(now_ms)
n_cut=$(rcli redis XLEN "haul:res:$job")
h2_held=$(rcli redis LLEN haul:proc:h2)
sleep "$CUT_S"
t_restore=$(now_ms)
ip -n "$SW" link set p-h2 up
n_restore=$(rcli redis XLEN "haul:res:$job")
info "job $job: $TOTAL keys; h2's link cut at $n_cut results with $h2_held task(s) in haul:proc:h2, restored after $(( t_restore - t_cut )) ms at $n_restore results"

# Wait for the job; it cannot finish without h2 if h2 holds tasks (no requeueing yet).
deadline=$((SECONDS + 45))
while kill -0 "$SPID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
if kill -0 "$SPID" 2>/dev/null; then
    kill -KILL "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; rc=timeout
    info "job not done 45 s after the restore: $(rcli redis XLEN "haul:res:$job") results;" \
        "queue $(rcli redis LLEN haul:q:default); held: h1 $(rcli redis LLEN haul:proc:h1)," \
        "h2 $(rcli redis LLEN haul:proc:h2), h3 $(rcli redis LLEN haul:proc:h3)"
else
    wait "$SPID"; rc=$?
fi
SPID=""
t_end=$(now_ms)
job_s=$(awk "BEGIN{printf \"%.2f\", ($t_end - $t_start) / 1000}")
info "scheduler: $(grep -h 'keys/s' "$T/job.err" | tail -1)"

# The stream as (id, fields) with a few lines of RESP, in the Redis host's namespace.
cat >"$T/dump.py" <<'PYEOF'
import json, os, socket, sys
host, key, limit = sys.argv[1], sys.argv[2], int(sys.argv[3])   # at most limit entries
s = socket.create_connection((host, 6379), timeout=10)
f = s.makefile('rb')
def cmd(*a):
    s.sendall(b''.join([b'*%d\r\n' % len(a)] + [b'$%d\r\n%s\r\n' % (len(x), x) for x in
                       (y if isinstance(y, bytes) else str(y).encode() for y in a)]))
    return read()
def read():
    line = f.readline()[:-2]
    t, rest = line[:1], line[1:]
    if t in (b'+', b':'): return rest.decode()
    if t == b'-': raise SystemExit('redis: ' + rest.decode())
    if t == b'$':
        n = int(rest)
        if n < 0: return None
        d = f.read(n + 2)[:-2]
        return d.decode('utf-8', 'replace')
    if t == b'*':
        n = int(rest)
        return None if n < 0 else [read() for _ in range(n)]
    raise SystemExit('bad reply %r' % line)
cmd('AUTH', os.environ['REDIS_PW'])
last, n = '-', 0
while n < limit:
    batch = cmd('XRANGE', key, last, '+', 'COUNT', 5000)
    if last != '-': batch = batch[1:]
    if not batch: break
    for eid, fields in batch:
        print(json.dumps({'id': eid, **dict(zip(fields[::2], fields[1::2]))}))
        n += 1
    last = batch[-1][0]
PYEOF
REDIS_PW=$PW inns redis "$PY" "$T/dump.py" "$REDIS_IP" "haul:res:$job" $((3 * TOTAL)) >"$T/stream.jsonl" 2>"$T/dump.err"

# The analysis of a job: answers against the expected text, with error rows allowed only for
# h2 (the cut worker), printed; who stored what, when; results of requeued tasks (attempt > 0).
cat >"$T/analyze.py" <<'PYEOF'
import collections, json, sys
out, exp_path, repeat, stream, t_cut, t_restore = sys.argv[1:7]
t_cut, t_restore = int(t_cut), int(t_restore)
expected = [l.rstrip('\n').partition('\t')[::2] for l in open(exp_path, encoding='utf-8')] * int(repeat)
rows = [json.loads(l) for l in open(out, encoding='utf-8')]
bad, cut_errors = [], []
if len(rows) != len(expected):
    bad.append('%d rows, expected %d' % (len(rows), len(expected)))
for n, (r, (k, v)) in enumerate(zip(rows, expected)):
    if r.get('key') != k:
        bad.append('row %d: key %r, expected %r' % (n, r.get('key'), k))
    elif r.get('status') != 'ok':
        (cut_errors if r.get('worker') == 'h2' else bad).append(
            'row %d (%s) worker %s: %s http %s: %s' % (n, k, r.get('worker'), r.get('status'),
                                                      r.get('http'), r.get('error')))
    elif (r.get('value') or '') != v:
        bad.append('row %d (%s): value %r, expected %r' % (n, k, r.get('value'), v))
ents = [json.loads(l) for l in open(stream, encoding='utf-8')]
ms = lambda e: int(e['id'].split('-')[0])
total = collections.Counter(e['worker'] for e in ents)
# 100 ms of margin after the cut: a packet that crossed the bridge just before it may still
# be waiting for Redis.
during = collections.Counter(e['worker'] for e in ents if t_cut + 100 < ms(e) < t_restore)
after = [ms(e) for e in ents if e['worker'] == 'h2' and ms(e) >= t_restore]
dup = len(ents) - len({e['i'] for e in ents})
print('rows=%d expected=%d' % (len(rows), len(expected)))
print('bad=%d' % len(bad))
for b in bad[:10]: print('BAD ' + b)
print('cut_errors=%d' % len(cut_errors))
for c in cut_errors[:20]: print('CUTERR ' + c)
print('stream=%d duplicates=%d' % (len(ents), dup))
for w in ('h1', 'h2', 'h3'):
    print('total_%s=%d during_%s=%d' % (w, total[w], w, during[w]))
print('h2_after=%d' % len(after))
print('h2_resume_ms=%s' % (min(after) - t_restore if after else 'none'))
again = collections.Counter(e['worker'] for e in ents if int(e.get('attempt') or 0) > 0)
print('again_h1=%d again_h2=%d again_h3=%d' % (again['h1'], again['h2'], again['h3']))
PYEOF
$PY "$T/analyze.py" "$T/job.jsonl" "$T/data/notebook-expected.tsv" "$REPEAT" "$T/stream.jsonl" \
    "$t_cut" "$t_restore" >"$T/analysis.txt"
A=$T/analysis.txt
val() { sed -n "s/^.*\b$1=\([^ ]*\).*$/\1/p" "$A" | head -1; }
grep -E '^(BAD|CUTERR) ' "$A" | sed 's/^/  /'

# 1. The answers.
if [ "$(val bad)" = 0 ] && [ "$(val rows)" = "$TOTAL" ] && { [ "$rc" = 0 ] || { [ "$rc" = 1 ] && [ "$(val cut_errors)" -gt 0 ]; }; }; then
    if [ "$(val cut_errors)" = 0 ]; then
        ok "job over Swift from 3 hosts with h2 cut for ${CUT_S} s: all $TOTAL answers correct, no error row ($job_s s)"
    else
        ok "job over Swift from 3 hosts with h2 cut for ${CUT_S} s: $TOTAL rows, every one correct but $(val cut_errors) error row(s) of h2, the cut worker (listed above) ($job_s s)"
    fi
else
    fail "job (scheduler exit $rc, $(val rows) rows, $(val bad) wrong, $(val cut_errors) errors of h2)" "$T/job.err"
fi
info "results stored: h1 $(val total_h1), h2 $(val total_h2), h3 $(val total_h3); during the cut: h1 $(val during_h1), h2 $(val during_h2), h3 $(val during_h3); duplicates in the stream: $(val duplicates)"

# 2. The others worked during the cut; h2 could not.
if [ "$(val during_h1)" -gt 0 ] && [ "$(val during_h3)" -gt 0 ] && [ "$(val during_h2)" = 0 ]; then
    ok "during the cut ($(( t_restore - t_cut )) ms) h1 stored $(val during_h1) and h3 $(val during_h3) results, h2 none"
else
    fail "during the cut: h1 $(val during_h1), h3 $(val during_h3), h2 $(val during_h2) results" "$A"
fi

# 3. h2 came back: results stored after the restore, or at least a heartbeat made after it
# (last_seen is the worker's clock when it made the heartbeat: one made during the cut and
# delivered after it does not count).  Heartbeats come every 2 s.
for _ in $(seq 60); do
    last_seen=$(rcli redis HGET haul:worker:h2 last_seen)
    [ "${last_seen:-0}" -gt "$t_restore" ] && break; sleep 0.1
done
if [ "$(val h2_after)" -gt 0 ] || [ "${last_seen:-0}" -gt "$t_restore" ]; then
    ok "h2 reconnected: first result $(val h2_resume_ms) ms after the link returned, $(val h2_after) results after it; latest heartbeat $(( ${last_seen:-0} - t_restore )) ms after it"
else
    fail "h2 after the cut: $(val h2_after) results, resumed after $(val h2_resume_ms) ms, last_seen ${last_seen:-none} (restore $t_restore)" "$T/h2.log"
fi
if [ "$(val duplicates)" != 0 ]; then info "NOTE: $(val duplicates) duplicate result(s) in the stream (a result stored twice)"; fi
h2log=$(grep -v -e 'serving queue' -e 'stopping:' -e 'in the clear' "$T/h2.log" | head -8)
if [ -n "$h2log" ]; then info "h2's log about the cut:"; sed 's/^/    | /' <<<"$h2log"
else info "h2's log about the cut: nothing (no Redis or HTTP error reached it)"; fi

# ---- a cut longer than the lease: the others take over h2's tasks ----------------------------
# h2 again, with the shortest lease (3 s), and a smaller job.  h2's link stays down until the
# job is done: the reaper run by h1's and h3's heartbeats must requeue the tasks h2 held.
LEASE2=3 REPEAT2=50
TOTAL2=$((80 * REPEAT2))
kill -TERM "${WPIDS[1]}"; wait "${WPIDS[1]}"; h2rc=$?
ip netns exec "$(ns h2)" "$WORKER" --redis "$R" --concurrency 8 --name h2 --lease "$LEASE2" \
    >"$T/h2-lease.log" 2>&1 &
WPIDS[1]=$!
for _ in $(seq 100); do [ -n "$(rcli redis ZSCORE haul:leases:default h2)" ] && break; sleep 0.05; done
ip netns exec "$(ns redis)" env ST_AUTH="$ST_AUTH_URL" ST_USER=test:tester ST_KEY=testing \
    "$SCHED" run --redis "$R" --swift --container "$BUCKET" --prefix dummy --op sidecar \
    --repeat "$REPEAT2" --no-coalesce --batch "$BATCH" --format jsonl --out "$T/job2.jsonl" >"$T/job2.out" 2>"$T/job2.err" &
SPID=$!
job2=""
for _ in $(seq 200); do
    job2=$(grep -o 'job [0-9a-f-]* submitted' "$T/job2.err" 2>/dev/null | awk '{print $2}')
    [ -n "$job2" ] && break; sleep 0.05
done
n=0 deadline=$((SECONDS + 30))
while kill -0 "$SPID" 2>/dev/null && [ "${n:-0}" -lt $((TOTAL2 * 15 / 100)) ] && [ $SECONDS -lt $deadline ]; do
    n=$(rcli redis XLEN "haul:res:$job2" 2>/dev/null); sleep 0.05
done
ip -n "$SW" link set p-h2 down
t_cut2=$(now_ms)
held2=$(rcli redis LLEN haul:proc:h2)
deadline=$((SECONDS + 40))
while kill -0 "$SPID" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
t_done2=$(now_ms)
if kill -0 "$SPID" 2>/dev/null; then
    kill -KILL "$SPID" 2>/dev/null; wait "$SPID" 2>/dev/null; rc2=timeout
    info "job 2 not done 40 s after the cut: $(rcli redis XLEN "haul:res:$job2") results;" \
        "queue $(rcli redis LLEN haul:q:default); held: h1 $(rcli redis LLEN haul:proc:h1)," \
        "h2 $(rcli redis LLEN haul:proc:h2), h3 $(rcli redis LLEN haul:proc:h3)"
else
    wait "$SPID"; rc2=$?
fi
SPID=""
ip -n "$SW" link set p-h2 up
t_restore2=$(now_ms)
info "job $job2: $TOTAL2 keys; h2 (lease ${LEASE2} s) cut with $held2 task(s) held; job done $(( t_done2 - t_cut2 )) ms after the cut; link restored then"
# h2 comes back, learns that its lease lapsed, and serves again.
lapsed="" last_seen=""
for _ in $(seq 100); do
    lapsed=$(grep -m1 'lease had lapsed' "$T/h2-lease.log")
    last_seen=$(rcli redis HGET haul:worker:h2 last_seen)
    [ -n "$lapsed" ] && [ "${last_seen:-0}" -gt "$t_restore2" ] && break; sleep 0.1
done
h2_back() {   # reported after the job's check, below
    if [ -n "$lapsed" ] && [ "${last_seen:-0}" -gt "$t_restore2" ] && [ "$h2rc" = 0 ]; then
        ok "h2 back after the long cut: heartbeat $(( last_seen - t_restore2 )) ms after the link returned; it logged: ${lapsed#* WARN }"
    else
        fail "h2 after the long cut (lapsed: '${lapsed}', last_seen ${last_seen:-none}, first h2 exit $h2rc)" "$T/h2-lease.log"
    fi
}
# Then the stream: anything h2 stored on its return is in it too.
REDIS_PW=$PW inns redis "$PY" "$T/dump.py" "$REDIS_IP" "haul:res:$job2" $((3 * TOTAL2)) >"$T/stream2.jsonl" 2>>"$T/dump.err"
$PY "$T/analyze.py" "$T/job2.jsonl" "$T/data/notebook-expected.tsv" "$REPEAT2" "$T/stream2.jsonl" \
    "$t_cut2" "$t_restore2" >"$T/analysis2.txt"
A=$T/analysis2.txt
grep -E '^(BAD|CUTERR) ' "$A" | sed 's/^/  /'
# The reaper runs in every worker's heartbeat and in the collecting scheduler: whoever is first.
reaped=$(grep -h 'reaped [0-9]* .*worker' "$T/h1.log" "$T/h3.log" "$T/job2.err" | head -2)
if [ "$rc2" = 0 ] && [ "$(val bad)" = 0 ] && [ "$(val rows)" = "$TOTAL2" ] && [ "$(val during_h2)" = 0 ] \
   && { [ "$held2" = 0 ] || { [ -n "$reaped" ] && [ $(( $(val again_h1) + $(val again_h3) )) -gt 0 ]; }; }; then
    ok "cut longer than h2's lease: job 2 done $(( t_done2 - t_cut2 )) ms after the cut while h2 was still cut off; all $TOTAL2 answers correct; h1 and h3 answered $(( $(val again_h1) + $(val again_h3) )) keys of requeued tasks (attempt 1)"
    [ -n "$reaped" ] && sed 's/^/    | /' <<<"$reaped"
    [ "$held2" = 0 ] && info "(h2 held no task at the cut: nothing to requeue this time)"
else
    fail "cut longer than the lease (scheduler $rc2, $(val rows) rows, $(val bad) wrong, h2 held $held2, requeued answers: h1 $(val again_h1) h3 $(val again_h3), h2 during the cut $(val during_h2))" "$T/job2.err"
fi
h2_back
info "duplicates in job 2's stream (a key answered by h2 after the others, or twice): $(val duplicates); h2's results: $(val total_h2)"

# 4. Nothing queued or held at the end.
held=0
for h in h1 h2 h3; do held=$((held + $(rcli redis LLEN "haul:proc:$h"))); done
if [ "$held" -eq 0 ] && [ "$(rcli redis LLEN haul:q:default)" = 0 ] && [ "$(rcli redis LLEN haul:dead:default)" = 0 ]; then
    ok "queue, processing lists and dead letters empty at the end"
else
    fail "left: queue $(rcli redis LLEN haul:q:default), held $held, dead $(rcli redis LLEN haul:dead:default)"
fi

# 4b. A listing, on a queue only a worker of the ACL user serves: its checkpoint reads and
# its page script go through the same ACL.
ip netns exec "$(ns h3)" env HAUL_REDIS_URL="$RW" "$WORKER" --queue acl-list --name h3-list \
    >"$T/h3-list.log" 2>&1 &
LP=$!
ip netns exec "$(ns redis)" env ST_AUTH="$ST_AUTH_URL" ST_USER=test:tester ST_KEY=testing \
    "$SCHED" run --redis "$R" --swift --container "$BUCKET" --op list --queue acl-list \
    --out "$T/acl-list.csv" >/dev/null 2>"$T/acl-list.err"
lrc=$?
haul_stop $LP
lrows=$(($(wc -l <"$T/acl-list.csv") - 1))
if [ $lrc -eq 0 ] && [ "$lrows" -ge 80 ] && ! grep -q NOPERM "$T/h3-list.log"; then
    ok "a listing by the ACL user's worker: $lrows rows"
else fail "listing by the ACL user's worker (exit $lrc, $lrows rows)" "$T/h3-list.log"; fi

# 5. The ACL user was refused nothing: WORKER_CMDS is all a worker needs.
denied=$(rcli redis ACL LOG 128 | awk 'prev == "object" {print} {prev = $0}' | sort -u | tr '\n' ' ')
if [ -z "$denied" ] && ! grep -q NOPERM "$T/h3.log"; then
    ok "h3's ACL user (keys haul:*, $(wc -w <<<"$WORKER_CMDS") commands: ${WORKER_CMDS//+/}) was refused nothing: ACL LOG empty"
else
    fail "Redis refused h3's ACL user: ${denied:-see log} (add to WORKER_CMDS and to README)" "$T/h3.log"
fi

# 6. Stop the workers (SIGTERM: exit 0), then look for passwords in every log.
wrc=""
for p in "${WPIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
for p in "${WPIDS[@]}"; do wait "$p"; wrc="$wrc $?"; done
WPIDS=()
x2=$(rcli redis XLEN "haul:res:$job2")
info "job 2's stream once h2 stopped: $x2 entries for $TOTAL2 keys ($((x2 - TOTAL2)) answered twice: h2 stored the tasks it held through the cut after all; the collector kept one)"
leaks=$(grep -l -F -e "$PW" -e "$WPW" -e testing "$T"/h[123]*.log "$T"/wrongpw.log "$T"/job*.err "$T"/job*.out 2>/dev/null | tr '\n' ' ')
if [ -z "$leaks" ] && grep -q "redis://:\*\*\*@$REDIS_IP:6379/0" "$T/h1.log" \
   && grep -q "redis://haulworker:\*\*\*@$REDIS_IP:6379/0" "$T/h3.log" && [ "$wrc" = " 0 0 0" ]; then
    ok "workers exited 0 on SIGTERM; no Redis password or store key in any log (they show redis://:***@ and redis://haulworker:***@)"
else
    fail "passwords in logs: '${leaks}', worker exits:$wrc" "$T/h1.log"
fi
finish
