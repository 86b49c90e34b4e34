"""Submission: a job's keys become tasks in Redis, a window at a time.

The same records as scheduler/submit.c (docs/protocol.md, "Jobs" and
"Duplicate keys"): the job hash and its empty results stream made in one
script, with their expiry; tasks pushed with RPUSH onto haul:q:<queue> while
the queue holds fewer than `max_queued` of them; every write through the
same guard script, so a job cancelled meanwhile stops its submitter.

Keys given from Python are all in memory, so the whole job is described at
once, as the C scheduler describes a job that fits in one publication:
slots are the distinct keys in order of first occurrence, every repeat is a
run "ROW SLOT N" in haul:dup:<job>, stored before the job hash says how many
rows are described (`rows`), and `dup_floor` is the number of slots (no
later run can name one: there is none). Then the tasks go in, a window at a
time, and the last push sets the state `queued`.
"""
import os
import socket
import threading
import time

import redis

from . import task as T
from .errors import HaulError

GROUP_MAX = 64       # tasks per RPUSH
DUP_BATCH = 256      # duplicate runs per RPUSH
PUBLISH_S = 1.0      # submitter_seen, at least this often
TTL_REFRESH_S = 30.0

# The scripts below are scheduler/submit.c's and job.c's, word for word: the
# job's records must be the ones a C collector expects.

# KEYS: the job hash, the key written. ARGV: the states the job may be in
# ("a|b"), the command, an expiry for the key written (0: none), a field of
# the job hash that counts the command's arguments ("" none), then the
# command's arguments after its key. "ok", or the state found ("" gone).
GUARD_LUA = (
    "local st = redis.call('HGET', KEYS[1], 'state')\n"
    "if not st or not string.find('|' .. ARGV[1] .. '|', '|' .. st .. '|', 1, true) then\n"
    "  return st or ''\n"
    "end\n"
    "redis.call(ARGV[2], KEYS[2], unpack(ARGV, 5))\n"
    "if tonumber(ARGV[3]) > 0 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end\n"
    "if ARGV[4] ~= '' then redis.call('HINCRBY', KEYS[1], ARGV[4], #ARGV - 4) end\n"
    "return 'ok'\n")

CREATE_LUA = (
    "redis.call('HSET', KEYS[1], unpack(ARGV, 5))\n"
    "redis.call('EXPIRE', KEYS[1], ARGV[1])\n"
    "redis.call('XADD', KEYS[2], 'MAXLEN', '0', '*', 'type', 'job')\n"
    "redis.call('EXPIRE', KEYS[2], ARGV[1])\n"
    "redis.call('ZADD', KEYS[3], ARGV[3], ARGV[2])\n"
    "redis.call('SADD', KEYS[4], ARGV[4])\n"
    "return 0\n")

PRUNE_LUA = (
    "local n, removed = tonumber(ARGV[2]), 0\n"
    "local function gone(id) return redis.call('EXISTS', ARGV[1] .. 'job:' .. id) == 0 end\n"
    "local function check(key, ids, rem)\n"
    "  for _, id in ipairs(ids) do\n"
    "    if gone(id) then removed = removed + redis.call(rem, key, id) end\n"
    "  end\n"
    "end\n"
    "check(KEYS[1], redis.call('ZRANGE', KEYS[1], 0, n - 1), 'ZREM')\n"
    "check(KEYS[1], redis.call('ZRANDMEMBER', KEYS[1], n), 'ZREM')\n"
    "check(KEYS[2], redis.call('SRANDMEMBER', KEYS[2], n), 'SREM')\n"
    "return removed\n")

EXPIRE_LUA = ("for _, k in ipairs(KEYS) do redis.call('EXPIRE', k, ARGV[1]) end\n"
              "return 0\n")


def now_ms():
    return int(time.time() * 1000)


def new_job_id():
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime()) + "-" + os.urandom(4).hex()


def job_keys(job):
    return ["haul:job:" + job, "haul:res:" + job, "haul:dup:" + job, "haul:lpos:" + job]


def job_expire(r, job, seconds):
    r.eval(EXPIRE_LUA, 4, *job_keys(job), seconds)


def job_retire(r, job, retention):
    """A job that ended keeps its keys `retention` seconds; 0 deletes them."""
    if retention > 0:
        job_expire(r, job, retention)
        return
    r.delete(*job_keys(job))
    r.zrem("haul:jobs", job)


def jobs_prune(r, n=64):
    return r.eval(PRUNE_LUA, 2, "haul:jobs", "haul:cancelled", "haul:", n)


def slots_of(keys, coalesce):
    """Slots (the distinct keys, in order of first occurrence) and duplicate runs
    [row, slot, n] for keys, as scheduler/submit.c numbers them."""
    if not coalesce:
        return list(keys), []
    seen, slots, runs = {}, [], []
    for row, k in enumerate(keys):
        kb = T.b(k)
        s = seen.get(kb)
        if s is None:
            seen[kb] = len(slots)
            slots.append(k)
            continue
        if runs and runs[-1][0] + runs[-1][2] == row and runs[-1][1] + runs[-1][2] == s:
            runs[-1][2] += 1
        else:
            runs.append([row, s, 1])
    return slots, runs


class Submission:
    """One job being queued. start() makes the job; step() queues what the
    window allows and returns True once every task is queued."""

    def __init__(self, r, template, keys, opts, key=None):
        self.r = r
        self.t = template            # a Task with everything but id, first, keys, created, expires
        self.opts = opts
        self.key = key
        self.keys = keys
        self.job = new_job_id()
        self.t.job = self.job
        self.coalesce = opts["coalesce"] and template.op not in ("list", "list-buckets") and \
            T.OPS.index(template.op) < T.OP_PUT
        self.slots, self.runs = slots_of(keys, self.coalesce)
        self.batch = opts["batch"]
        self.ntasks = (len(self.slots) + self.batch - 1) // self.batch
        self.pushed = 0
        self.finished = False
        self.error = None
        self.answered = -1           # slots answered, when a collector in this process says
        self.jkey, self.qkey = "haul:job:" + self.job, "haul:q:" + opts["queue"]
        self.who = "%s:%d" % (socket.gethostname(), os.getpid())
        self.last_publish = self.last_ttl = 0.0
        self.waiting = None          # why the last step could not write (Redis out of memory)
        self._thread = None

    # -- writes, guarded by the job's state --

    def guarded(self, cmd, key, ttl, counter, args, states="submitting"):
        rep = self.r.eval(GUARD_LUA, 2, self.jkey, key, states, cmd, ttl, counter, *args)
        rep = rep.decode() if isinstance(rep, bytes) else rep
        if rep != "ok":
            if not rep:
                raise HaulError("job %s vanished from Redis while it was being submitted (its hash expired "
                                "or was deleted)" % self.job)
            if rep == "cancelled":
                raise HaulError("job %s was cancelled while it was being submitted" % self.job)
            raise HaulError("job %s is '%s' while it was being submitted (another scheduler changed it)"
                            % (self.job, rep))

    def start(self):
        o = self.opts
        try:
            jobs_prune(self.r)
        except Exception:  # pruning is housekeeping: never a reason not to submit
            pass
        now = now_ms()
        fields = ["op", self.t.op, "store", self.t.conn["kind"], "endpoint", T.conn_describe(self.t.conn),
                  "bucket", self.t.bucket or "", "queue", o["queue"], "batch", self.batch,
                  "max_inline", self.t.max_inline, "max_queued", o["max_queued"],
                  "coalesce", 1 if self.coalesce else 0, "state", "submitting", "created", now,
                  "submitter", self.who, "submitter_seen", now, "job_ttl", o["job_ttl"], "keys", 0,
                  "distinct", 0, "tasks", 0, "runs", 0, "rows", 0, "dup_floor", 0]
        self.r.eval(CREATE_LUA, 4, self.jkey, "haul:res:" + self.job, "haul:jobs", "haul:queues",
                    o["job_ttl"], self.job, now, o["queue"], *fields)
        # The whole job is known: its runs first, then the hash describing every row.
        for i in range(0, len(self.runs), DUP_BATCH):
            part = ["%d %d %d" % tuple(x) for x in self.runs[i:i + DUP_BATCH]]
            self.guarded("RPUSH", "haul:dup:" + self.job, o["job_ttl"], "runs", part)
        self.publish(final=False)
        self.last_ttl = time.monotonic()

    def publish(self, final):
        n = len(self.keys)
        args = ["keys", n, "distinct", len(self.slots), "rows", n, "dup_floor", len(self.slots),
                "submitter_seen", now_ms()]
        if final:
            args += ["state", "queued"]
        self.guarded("HSET", self.jkey, 0, "", args)
        self.last_publish = time.monotonic()

    def encode(self, n):
        t = self.t
        t.id = "%s:%d" % (self.job, n)
        t.first = n * self.batch
        t.keys = self.slots[t.first:t.first + self.batch]
        t.created = now_ms()
        t.expires = t.created + self.opts["task_ttl"] * 1000
        return T.encode(t, key=self.key)

    def step(self):
        """Queue what the window allows. True once every task is queued. Redis
        refusing writes for lack of memory (maxmemory, noeviction) pauses the
        submission, as it does the C scheduler's: the collector's trimming frees
        memory, and the next step writes again."""
        self.waiting = None
        try:
            return self._step()
        except redis.ResponseError as e:
            if "OOM" not in str(e):
                raise
            self.waiting = ("Redis is out of memory (maxmemory, noeviction): Redis: %s; queueing waits until "
                            "results are trimmed or memory is freed" % e)
            return False

    def _step(self):
        if self.finished:
            return True
        o = self.opts
        mono = time.monotonic()
        if mono - self.last_ttl >= TTL_REFRESH_S:
            job_expire(self.r, self.job, o["job_ttl"])
            self.last_ttl = mono
        room = self.ntasks - self.pushed
        if o["max_queued"] > 0:
            room = min(room, o["max_queued"] - self.r.llen(self.qkey))
            # With a collector in this process: at most two windows of keys between
            # queued and collected, as the C scheduler's `run` keeps them.
            if self.answered >= 0:
                pushed = min(self.pushed * self.batch, len(self.slots))
                if pushed - self.answered > 2 * o["max_queued"] * self.batch:
                    room = 0
        while room > 0:
            n = min(room, GROUP_MAX)
            group = [self.encode(self.pushed + i) for i in range(n)]
            self.guarded("RPUSH", self.qkey, 0, "tasks", group)
            self.pushed += n
            room -= n
        if self.pushed >= self.ntasks:
            self.publish(final=True)
            self.finished = True
            return True
        if time.monotonic() - self.last_publish >= PUBLISH_S:
            self.publish(final=False)
        return False

    def fail(self, msg):
        """The job will not complete: say so, have workers drop its tasks."""
        try:
            self.guarded("HSET", self.jkey, 0, "", ["state", "failed", "error", msg])
            self.r.sadd("haul:cancelled", self.job)
            job_retire(self.r, self.job, self.opts["retention"])
        except Exception:
            pass

    # -- in the background, for submit() --

    def run_in_background(self):
        def loop():
            try:
                while not self.step():
                    time.sleep(0.1)
            except Exception as e:  # the collector reports it
                self.error = e
                self.fail(str(e))
        self._thread = threading.Thread(target=loop, name="haul-submit-" + self.job, daemon=True)
        self._thread.start()

    def wait(self, timeout=None):
        if self._thread:
            self._thread.join(timeout)
        if self.error:
            raise self.error
        return self.finished
