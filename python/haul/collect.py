"""Collection: a job's results stream read back as rows, in the keys' order.

The rules of scheduler/collect.c and order.c (docs/protocol.md, "Result
entries", "Duplicate keys", "What the collector checks", "Jobs"):

- rows are written in the order of the job's keys; row r is the result of
  its slot: a slot of its own (the next one) or, when a run of haul:dup:<job>
  covers it, the slot the run names; a row is written once it is below the
  job hash's `rows`;
- the first result of a slot wins; an entry naming a slot the job cannot
  have is dropped and counted;
- with a key, an entry whose MAC is missing or wrong is dropped and counted
  (`forged`);
- listing jobs (list, list-buckets) have no order: each prefix's rows as they
  come, until its `eof` entry, whose `count` is checked against the rows
  that arrived; an error entry ends its prefix too;
- when the job makes no progress for 2 s, the queue's dead letters of this
  job become error rows "task <id> was dead-lettered: <reason>";
- every entry read is either written or held here, so the stream is trimmed
  of what was read (XTRIM MINID, under the job hash's `trimmed` mark) unless
  keep_results; at the end the job is `done` with ok, errors, forged, and its
  keys live `retention` seconds more.

Unlike the C collector this one keeps every slot's result until the job
ends (the rows are returned as one DataFrame anyway), so it needs no
`dup_floor` bookkeeping. It does not run the reaper: the workers do, every
2 s.
"""
import bisect
import json
import os
import socket
import time

import msgpack

from .errors import HaulError, JobFailed
from .submit import job_expire, job_retire, now_ms

BLOCK_MS = 500
REFRESH_S = 1.0
CHECK_S = 2.0
TRIM_ENTRIES = 10000
TRIM_S = 1.0
DEAD_AFTER_S = 2.0
DEAD_EVERY_S = 3.0
LOST_AFTER_S = 15.0
TTL_S = 30.0
XREAD_BYTES = 64 << 20
XREAD_MAX = 1000

TRIM_LUA = (
    "#!lua flags=allow-oom\n"
    "if redis.call('EXISTS', KEYS[1]) == 0 then return {-1} end\n"
    "local t = redis.call('HGET', KEYS[1], 'trimmed') or ''\n"
    "if t ~= '' and string.sub(t, 1, #ARGV[1]) ~= ARGV[1] then return {0, t} end\n"
    "redis.call('XTRIM', KEYS[2], 'MINID', ARGV[2])\n"
    "redis.call('HSET', KEYS[1], 'trimmed', ARGV[1] .. ARGV[2])\n"
    "return {1}\n")

READ_COLS = ("key", "status", "http", "value", "bytes", "error", "verified", "ms", "worker", "task", "tries")
WRITE_COLS = ("key", "status", "http", "size", "md5", "etag", "error", "verified", "ms", "worker", "task",
              "tries")
VERIFIED = ("none", "md5", "segments", "parts")


def status_ok(op, status):
    """scheduler's haul_status_ok: a delete's `missing` is a success, a verify's is not."""
    if status in ("ok", "skipped", "would-upload", "would-delete"):
        return True
    return status == "missing" and op == "delete"


def _s(v):
    return v.decode("utf-8", "surrogateescape") if isinstance(v, bytes) else v


def _int(v, default):
    try:
        return int(v)
    except (TypeError, ValueError):
        return default


def stream_id_after(i):
    ms, seq = (int(x) for x in i.split("-"))
    if seq == (1 << 64) - 1:
        return "%d-0" % (ms + 1)
    return "%d-%d" % (ms, seq + 1)


def make_row(f, op):
    """A row as the CSV/JSON Lines output has it, from an entry's fields (str
    -> bytes). http 0, bytes -1 and ms -1 are None, as JSON Lines' nulls."""
    g = lambda n: _s(f.get(n))  # noqa: E731
    http = _int(g("http"), 0)
    nbytes = _int(g("bytes"), -1)
    ms = _int(g("ms"), -1)
    verified = g("verified")
    row = {"key": g("key"), "status": g("status"), "http": http or None}
    if op in ("put", "delete", "verify"):
        row.update(size=None if nbytes < 0 else nbytes, md5=g("md5"), etag=g("etag"))
    else:
        v = g("value")
        row.update(value=v if v is not None else g("path"), bytes=None if nbytes < 0 else nbytes)
    row.update(error=g("error"), verified=verified if verified in VERIFIED else None,
               ms=None if ms < 0 else ms, worker=g("worker"), task=g("task"), tries=_int(g("tries"), 0))
    return row


def peek_task(data):
    """id, job, first and keys of a task that may not decode (haul_task_peek):
    unauthenticated, for the error rows of a dead letter."""
    try:
        m = msgpack.unpackb(data, raw=True, strict_map_key=False)
    except Exception:
        return None
    if not isinstance(m, dict):
        return None
    out = {}
    for name in ("id", "job"):
        v = m.get(name.encode())
        out[name] = _s(v) if isinstance(v, bytes) else ""
    first = m.get(b"first", 0)
    out["first"] = first if isinstance(first, int) else 0
    keys = m.get(b"keys", [])
    out["keys"] = [_s(k) if isinstance(k, bytes) else "" for k in keys] if isinstance(keys, list) else []
    return out


class Collector:
    def __init__(self, r, job, mac=None, keep_results=False, retention=86400, job_ttl=604800,
                 submission=None, progress=None):
        self.r, self.job, self.mac = r, job, mac
        self.keep_results, self.retention, self.job_ttl = keep_results, retention, job_ttl
        self.sub = submission
        self.progress = progress
        self.jkey, self.skey, self.dkey = "haul:job:" + job, "haul:res:" + job, "haul:dup:" + job
        self.me = "%s:%d:%08x " % (socket.gethostname(), os.getpid(), int.from_bytes(os.urandom(4), "big"))
        self.last = "0-0"
        self.unread_trim = 0
        self.ok = self.errors = self.forged = self.bogus = self.rows_out = 0
        self.dead_next = 0
        self.unattributed = []
        # the job hash
        self.state, self.keys, self.slots, self.rows, self.cap, self.final = None, 0, 0, 0, 0, False
        self.runs_read = 0
        self.run_rows, self.runs = [], []   # runs by their first row
        # ordering
        self.results = {}                   # slot -> row (first wins)
        self.next_row = 0
        self.next_new_slot = 0              # the slot the next row without a run takes
        # listings
        self.prows, self.pdone = {}, set()

    # -- the job hash and the runs --

    def attach(self):
        h = {_s(k): _s(v) for k, v in self.r.hgetall(self.jkey).items()}
        if not h:
            raise HaulError("no job '%s' in Redis (see haul-scheduler status)" % self.job)
        if h.get("trimmed") and not self.sub:
            tr = h["trimmed"]
            raise HaulError("job %s%s: its results were trimmed by the collector that wrote them (up to stream "
                            "id %s), so they cannot be collected again (collect with --keep-results to keep a "
                            "job's results for a second collection)"
                            % (self.job, " was collected already" if h.get("state") == "done" else "",
                               tr.rsplit(" ", 1)[-1]))
        self.op = h.get("op", "")
        self.listing = self.op in ("list", "list-buckets")
        self.queue = h.get("queue", "default")
        self.batch = max(1, _int(h.get("batch"), 16))
        self.created = _int(h.get("created"), 0)
        mi = _int(h.get("max_inline"), 1 << 20)
        self.xcount = XREAD_MAX if self.listing else max(1, min(XREAD_MAX, XREAD_BYTES // max(mi, 1)))
        return h

    def refresh(self):
        names = ["state", "keys", "distinct", "rows", "dup_floor", "error", "trimmed", "tasks"]
        v = dict(zip(names, (_s(x) for x in self.r.hmget(self.jkey, names))))
        st = v["state"]
        self.keys = max(self.keys, _int(v["keys"], 0))
        if st is None:
            raise JobFailed("job %s vanished from Redis (its hash expired or was deleted)" % self.job, job=self.job)
        if st == "cancelled":
            raise JobFailed("job %s was cancelled (%d of %d keys done)" % (self.job, self.done_rows(), self.keys),
                            job=self.job)
        if st == "failed":
            raise JobFailed("job %s failed: %s" % (self.job, v["error"] or "(no reason recorded)"), job=self.job)
        if v["trimmed"] and not v["trimmed"].startswith(self.me):
            raise JobFailed("job %s: another collector is collecting it and trimmed its results (its mark: %s): "
                            "this one stops, its output incomplete" % (self.job, v["trimmed"]), job=self.job)
        final = st != "submitting" or self.final
        self.state = st
        keys = _int(v["keys"], 0)
        self.keys = max(self.keys, keys)
        slots = _int(v["distinct"], keys)
        rows = _int(v["rows"], keys if final else 0)
        tasks = _int(v["tasks"], 0)
        if not final and tasks * self.batch > self.cap:
            self.cap = tasks * self.batch
        if not self.listing:
            while True:
                got = self.r.lrange(self.dkey, self.runs_read, self.runs_read + 999)
                for e in got:
                    try:
                        row, slot, n = (int(x) for x in _s(e).split())
                    except ValueError:
                        raise HaulError("%s: element %d is not a run \"ROW SLOT N\"" % (self.dkey, self.runs_read))
                    if self.run_rows and row < self.run_rows[-1] + self.runs[-1][2]:
                        continue  # known already
                    self.run_rows.append(row)
                    self.runs.append((row, slot, n))
                self.runs_read += len(got)
                if len(got) < 1000:
                    break
        self.slots = max(self.slots, slots)
        self.rows = max(self.rows, rows)
        self.final = final

    def slot_limit(self):
        return self.slots if self.final or self.cap < self.slots else self.cap

    # -- rows --

    def slot_of_row(self, row):
        """The slot row `row` (the next to write) answers, and whether it takes a new one."""
        i = bisect.bisect_right(self.run_rows, row) - 1
        if i >= 0:
            r0, s0, n = self.runs[i]
            if row < r0 + n:
                return s0 + (row - r0), False
        return self.next_new_slot, True

    def count(self, row):
        self.rows_out += 1
        if status_ok(self.op, row["status"]):
            self.ok += 1
        else:
            self.errors += 1

    def drain(self):
        """Rows that can be written now, in order."""
        out = []
        while self.next_row < self.rows:
            slot, new = self.slot_of_row(self.next_row)
            res = self.results.get(slot)
            if res is None:
                break
            row = dict(res)
            if new:
                self.next_new_slot += 1
            self.next_row += 1
            self.count(row)
            out.append(row)
        return out

    def done_rows(self):
        return len(self.pdone) if self.listing else self.next_row

    def complete(self):
        if not self.final:
            return False
        if self.listing:
            return len(self.pdone) >= self.slots
        return self.next_row >= self.rows

    def take(self, fields):
        """One stream entry: the rows it lets out (listings: at once)."""
        f = {_s(k): v for k, v in fields}
        if "key" not in f or "i" not in f or "status" not in f:
            return [], False
        if self.mac is not None and not self.mac.verify(self.job, fields):
            self.forged += 1
            return [], False
        i = _int(_s(f["i"]), -1)
        if i >= self.slot_limit() and not self.final:
            self.refresh()
        if i < 0 or i >= self.slot_limit():
            self.bogus += 1
            return [], False
        row = make_row(f, self.op)
        if self.listing:
            return self.take_listing(i, row, f), True
        if i in self.results:
            return [], False  # first wins
        self.results[i] = row
        return self.drain(), True

    def take_listing(self, i, row, f):
        if i in self.pdone:
            return []
        if "eof" not in f and row["status"] == "ok":
            self.prows[i] = self.prows.get(i, 0) + 1
            self.count(row)
            return [row]
        self.pdone.add(i)
        if row["status"] != "ok":
            self.count(row)
            return [row]
        n = _int(_s(f.get("count")), self.prows.get(i, 0))
        got = self.prows.get(i, 0)
        if n != got:
            row = {"key": row["key"], "status": "error", "http": None, "value": None, "bytes": None,
                   "error": "listing of prefix '%s' reported %d entries but %d rows arrived (%s)"
                   % (row["key"][:300], n, got, "rows lost in Redis" if got < n
                      else "rows repeated: the listing ran twice"),
                   "verified": None, "ms": None, "worker": None, "task": None, "tries": 0}
            self.count(row)
            return [row]
        return []

    # -- dead letters --

    def scan_dead(self):
        dkey = "haul:dead:" + self.queue
        out = []
        while True:
            total = self.r.llen(dkey)
            if total < self.dead_next:
                self.dead_next = 0
            got = self.r.lrange(dkey, self.dead_next, self.dead_next + 63)
            for e in got:
                out += self.take_dead(e)
            self.dead_next += len(got)
            if len(got) < 64:
                return out

    def take_dead(self, e):
        hdr, _, data = e.partition(b"\n")
        hdr = _s(hdr)

        def field(name):
            for part in ("\t" + hdr).split("\t" + name)[1:2]:
                return part.split("\tworker=")[0] if name == "reason=" else part.split("\t")[0]
            return ""
        reason, worker, at = field("reason="), field("worker="), field("at=")
        t = peek_task(data)
        if t and t["job"] and t["job"] != self.job:
            return []
        n = -1
        if t and t["id"].startswith(self.job + ":"):
            n = _int(t["id"][len(self.job) + 1:], -1)
        if n < 0:
            if not at or _int(at, 0) >= self.created:
                self.unattributed.append(hdr.replace("\t", " ")[:300])
            return []
        lo = n * self.batch
        hi = lo + self.batch
        if self.final:
            lo, hi = min(lo, self.slots), min(hi, self.slots)
        if hi > self.slot_limit() and not self.final:
            self.refresh()
        hi = min(hi, self.slot_limit())
        msg = "task %s was dead-lettered: %s" % (t["id"], reason or "(no reason given)")
        out = []
        for s in range(lo, hi):
            j = s - t["first"]
            key = t["keys"][j] if 0 <= j < len(t["keys"]) else ""
            row = {"key": key, "status": "error", "http": None, "error": msg, "verified": None, "ms": None,
                   "worker": worker or None, "task": t["id"], "tries": 0}
            row.update({"value": None, "bytes": None} if self.op not in ("put", "delete", "verify")
                       else {"size": None, "md5": None, "etag": None})
            if self.listing:
                if s not in self.pdone:
                    self.pdone.add(s)
                    self.count(row)
                    out.append(row)
            elif s not in self.results:
                self.results[s] = row
        if not self.listing:
            out += self.drain()
        return out

    def inflight(self):
        """Tasks of this job in the queue or held by a leased worker (haul_queue_inflight)."""
        mark = (self.job + ":").encode()
        lists = ["haul:q:" + self.queue] + ["haul:proc:" + _s(w) for w in self.r.zrange("haul:leases:" + self.queue, 0, -1)]
        n = 0
        for name in lists:
            n += sum(1 for t in self.r.lrange(name, 0, -1) if mark in t)
        return n

    # -- trimming and the end --

    def trim(self):
        if self.keep_results or not self.unread_trim:
            return
        rep = self.r.eval(TRIM_LUA, 2, self.jkey, self.skey, self.me, stream_id_after(self.last))
        code = rep[0] if rep else -1
        if code == 1:
            self.unread_trim = 0
        elif code == 0:
            raise JobFailed("job %s: another collector is collecting it and trimmed its results (its mark: %s): this "
                            "one stops, its output incomplete" % (self.job, _s(rep[1])), job=self.job)
        else:
            raise JobFailed("job %s vanished from Redis (its hash expired or was deleted)" % self.job, job=self.job)

    def finish(self):
        self.trim()
        self.r.hset(self.jkey, mapping={"state": "done", "finished": now_ms(), "ok": self.ok,
                                        "errors": self.errors, "forged": self.forged})
        job_retire(self.r, self.job, self.retention)

    def fail(self, msg):
        self.r.eval("if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'state', 'failed', "
                    "'error', ARGV[1]) end return 0", 1, self.jkey, msg)
        self.r.sadd("haul:cancelled", self.job)
        job_retire(self.r, self.job, self.retention)

    # -- the loop --

    def rows_iter(self):
        """Every row, in order (listings: as they come)."""
        self.attach()
        self.refresh()
        if self.sub is None and not self.final:
            self.check_submitter()
        last_refresh = last_check = last_dead = last_trim = last_ttl = time.monotonic()
        last_progress = last_trim
        none_since = None
        while True:
            now = time.monotonic()
            if self.sub is not None and not self.sub.finished:
                if self.sub.error:
                    raise JobFailed(str(self.sub.error), job=self.job)
                if self.sub._thread is None:
                    self.sub.answered = len(self.results)
                    try:
                        if self.sub.step():
                            last_refresh = 0.0  # it just published the totals: learn them now
                    except HaulError as e:
                        self.sub.fail(str(e))
                        raise JobFailed(str(e), job=self.job) from None
            if not self.final or now - last_refresh >= REFRESH_S:
                if now - last_refresh >= (0.1 if not self.final else REFRESH_S):
                    self.refresh()
                    last_refresh = now
                    if self.final and self.state == "queued":
                        self.r.eval("if redis.call('HGET', KEYS[1], 'state') == ARGV[1] then "
                                    "redis.call('HSET', KEYS[1], 'state', ARGV[2]) end return 0", 1, self.jkey,
                                    "queued", "running")
                        self.state = "running"
                    if not self.listing:
                        yield from self.drain()
            if self.complete():
                break
            feeding = self.sub is not None and not self.sub.finished
            rep = self.r.xread({self.skey: self.last}, count=self.xcount, block=100 if feeding else BLOCK_MS)
            progressed = False
            for _, entries in rep or []:
                for eid, fields in entries:
                    self.last = _s(eid)
                    self.unread_trim += 1
                    rows, took = self.take(list(fields.items()))
                    progressed |= took
                    yield from rows
            now = time.monotonic()
            if self.unread_trim >= TRIM_ENTRIES or (self.unread_trim and now - last_trim >= TRIM_S):
                self.trim()
                last_trim = now
            if progressed:
                last_progress = now
                none_since = None
            if now - last_check >= CHECK_S:
                last_check = now
                if self.r.sismember("haul:cancelled", self.job):
                    raise JobFailed("job %s was cancelled (%d of %d keys done)"
                                    % (self.job, self.done_rows(), self.keys), job=self.job)
                if self.sub is None and not self.final:
                    self.check_submitter()
            if now - last_ttl >= TTL_S:
                job_expire(self.r, self.job, self.job_ttl)
                last_ttl = now
            idle = now - last_progress
            if idle >= DEAD_AFTER_S and now - last_dead >= DEAD_EVERY_S:
                last_dead = now
                before = len(self.results) + len(self.pdone)
                rows = self.scan_dead()
                yield from rows
                if len(self.results) + len(self.pdone) != before:  # dead letters answered keys
                    last_progress = now
                    none_since = None
                    continue
            if idle >= DEAD_AFTER_S and self.final and not self.complete():
                if self.inflight():
                    none_since = None
                elif none_since is None:
                    none_since = now
                elif now - none_since >= LOST_AFTER_S:
                    self.lost()
        self.finish()

    def check_submitter(self):
        """A job left `submitting` by a submitter that is gone cannot complete
        (collect.c's submitter_gone and left_submitting): the same host, its
        process no longer exists; another, its submitter_seen has not moved
        for a minute."""
        who, seen = (_s(x) or "" for x in self.r.hmget(self.jkey, ["submitter", "submitter_seen"]))
        now = time.monotonic()
        if seen != getattr(self, "_seen", None):
            self._seen, self._seen_at = seen, now
        host, _, pid = who.rpartition(":")
        why = None
        if host == socket.gethostname():
            try:
                os.kill(int(pid), 0)
            except ProcessLookupError:
                why = "its submitter (%s) is no longer running" % who
            except (ValueError, PermissionError):
                pass
        elif now - self._seen_at > 60:
            why = "its submitter (%s) has not been seen for %d s" % (who, now - self._seen_at)
        if not why:
            return
        msg = ("job %s was left 'submitting': %s after queueing %d keys; the rest of its keys were never queued, so "
               "it cannot complete. Cancel it (haul-scheduler cancel %s) and submit the job again"
               % (self.job, why, self.keys, self.job))
        if "no longer running" in why:
            marked = self.r.eval("if redis.call('HGET', KEYS[1], 'state') == ARGV[1] then "
                                 "redis.call('HSET', KEYS[1], 'state', ARGV[2], 'error', ARGV[3]) return 1 end "
                                 "return 0", 1, self.jkey, "submitting", "failed", msg)
            if marked == 1:
                self.r.sadd("haul:cancelled", self.job)
                job_retire(self.r, self.job, self.retention)
        raise JobFailed(msg, job=self.job)

    def lost(self):
        n = (self.slots - len(self.pdone)) if self.listing else (self.slots - len(self.results))
        if self.forged:
            msg = ("job %s cannot complete: %d keys have no trustworthy result: %d result entries were dropped "
                   "because their MAC did not verify (do the workers use the same --key-file as the scheduler?)"
                   % (self.job, n, self.forged))
        elif self.unattributed:
            msg = ("job %s cannot complete: %d keys have no result and their tasks are in no queue and held by no "
                   "worker; %d dead letter(s) on queue '%s' could not be attributed to a job (their task cannot be "
                   "read), likely theirs:%s" % (self.job, n, len(self.unattributed), self.queue,
                                                ";".join(" " + u for u in self.unattributed[:8])))
        else:
            msg = ("job %s cannot complete: %d keys' tasks are in no queue, held by no worker and named by no "
                   "dead letter (lost from Redis: a Redis that lost data, or a task removed by hand)" % (self.job, n))
        self.fail(msg)
        raise JobFailed(msg, job=self.job)

    def summary(self, secs):
        forged = ", %d forged entries dropped" % self.forged if self.forged else ""
        n = self.rows_out if self.listing else self.keys
        return "job %s: %d %s, %d ok, %d errors%s, %.2f s, %.0f keys/s" % (
            self.job, n, "rows" if self.listing else "keys", self.ok, self.errors, forged, secs,
            self.keys / secs if secs > 0 else 0.0)
