"""Client and Job: haul from a notebook.

    client = haul.Client("redis://host:6379/0", key_file="~/.haul/haul.key")
    store = haul.Swift.from_env()
    keys = client.list(store, "bucket")
    metadata = client.sidecar(keys, store, "bucket")

Every call speaks haul's protocol itself (docs/protocol.md): it submits tasks
to Redis for the C workers (submit.py) and reads their results back in the
keys' order (collect.py). The options are haul-scheduler's, with `_` for
`-`: queue=, batch=, coalesce=, max_attempts=, max_inline=, out_dir=,
suffixes=, sidecar_ext=, max_queued=, job_ttl=, task_ttl=, retention=,
keep_results=, repeat=, prefix= (list), progress=.
"""
import os
import sys
import time
import warnings

import redis

from . import task as T
from .collect import Collector, READ_COLS, WRITE_COLS, status_ok
from .errors import AuthError, HaulError, JobFailed, RedisError
from .rowmac import RowMac
from .seal import load_key
from .store import Store
from .submit import Submission, job_retire

try:
    import pandas as _pd
except ImportError:  # plain lists without pandas
    _pd = None

DEFAULTS = dict(queue="default", batch=16, coalesce=True, max_attempts=4, max_inline=1 << 20, out_dir=None,
                suffixes=".zip", sidecar_ext=".metadata", max_queued=1000, job_ttl=604800, task_ttl=86400,
                retention=86400, keep_results=False, repeat=1, prefix=None, progress=None,
                ignore_checksum=False)
LIMITS = dict(batch=(1, T.MAX_KEYS), max_attempts=(1, 1000), max_inline=(0, T.MAX_INLINE), max_queued=(0, 1 << 30),
              job_ttl=(60, 1 << 40), task_ttl=(60, 1 << 31), retention=(0, 1 << 40), repeat=(1, 1000000))
READ_OPS = ("list-buckets", "list", "head", "get", "sidecar")

NO_KEY_WARNING = ("no --key-file / HAUL_KEY_FILE: the store's credentials are stored in the clear in Redis tasks "
                  "(haul-scheduler keygen FILE makes a key; give it to the workers too)")


def _redis_url(url):
    """haul_redis_url_parse(): (kwargs for redis.Redis, the URL as shown, password hidden)."""
    if not url:
        raise RedisError("no Redis URL: set --redis or HAUL_REDIS_URL (redis://host:6379/0)")
    p = url
    ssl = False
    if p.startswith("redis://"):
        p = p[8:]
    elif p.startswith("rediss://"):  # redis-py speaks TLS, unlike hiredis 0.14
        p, ssl = p[9:], True
    elif "://" in p:
        raise RedisError("Redis URL must start with redis:// (rediss:// TLS is not supported by hiredis 0.14: "
                         "use a TLS tunnel)")
    user = password = None
    at = p.rfind("@")
    rest = p[at + 1:] if at >= 0 else p
    if at >= 0:
        auth = p[:at]
        if ":" in auth:
            user, password = auth.split(":", 1)
            user = user or None
        else:
            password = auth
    hostport, _, db = rest.partition("/")
    host, _, port = hostport.partition(":")
    host = host or "127.0.0.1"
    if port:
        if not port.isdigit() or not 0 < int(port) <= 65535:
            raise RedisError("Redis URL: bad port '%s' (expected redis://host:6379/0)" % port)
    if db and (not db.isdigit() or int(db) > 1000000):
        raise RedisError("Redis URL: bad database number '%s' (expected redis://host:6379/0)" % db)
    port, db = int(port or 6379), int(db or 0)
    shown = "redis://%s%s%s%s:%d/%d" % (user or "", ":***" if password is not None else "",
                                        "@" if user or password is not None else "", host, port, db)
    return dict(host=host, port=port, db=db, username=user, password=password, ssl=ssl), shown, password


def _frame(rows, cols):
    if _pd is None:
        return rows
    df = _pd.DataFrame(rows, columns=list(cols))
    for c in ("http", "bytes", "size", "ms", "tries"):  # integers that may be absent: not floats
        if c in df.columns:
            df[c] = df[c].astype("Int64")
    return df


class Client:
    """A connection to haul's Redis, and optionally the key shared with the
    workers (`key_file`, or HAUL_KEY_FILE): with it every task's connection
    state is sealed and every result row authenticated."""

    def __init__(self, redis_url=None, key_file=None, timeout=5.0, **defaults):
        url = redis_url or os.environ.get("HAUL_REDIS_URL") or "redis://127.0.0.1:6379/0"
        kw, self.url, self._password = _redis_url(url)
        self._r = redis.Redis(socket_timeout=max(timeout, 5.0), socket_connect_timeout=timeout, **kw)
        try:
            self._r.ping()
        except redis.AuthenticationError as e:
            raise RedisError("Redis at %s refused the password: %s (check the user and password in the URL)"
                             % (self.url, self._redact(e))) from None
        except redis.ConnectionError as e:
            raise RedisError("cannot connect to Redis at %s: %s (is redis-server running there? check --redis / "
                             "HAUL_REDIS_URL)" % (self.url, self._redact(e))) from None
        except redis.RedisError as e:
            if self._password is not None and "AUTH" in str(e):  # hiredis's AUTH reply, as the C side says it
                raise RedisError("Redis at %s refused the password: %s (check the user and password in the URL)"
                                 % (self.url, self._redact(e))) from None
            raise RedisError("Redis at %s: %s" % (self.url, self._redact(e))) from None
        key_file = key_file or os.environ.get("HAUL_KEY_FILE")
        self._key = load_key(key_file, warn=lambda m: warnings.warn(m, stacklevel=3)) if key_file else None
        self._mac = RowMac(self._key) if self._key else None
        self.defaults = self._options(defaults)
        self._warned = False

    def __repr__(self):
        return "haul.Client(%s%s)" % (self.url, ", key file %s" % self._key.path if self._key else ", no key")

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("a haul.Client holds a connection and maybe a key: make one in each process")

    def _redact(self, e):
        m = str(e)
        if self._password:
            m = m.replace(self._password, "***")
        return m

    def _options(self, given, base=None):
        o = dict(base or DEFAULTS)
        for k, v in given.items():
            if k not in DEFAULTS:
                raise TypeError("unknown option %s= (haul's options: %s)" % (k, ", ".join(sorted(DEFAULTS))))
            if k in LIMITS and v is not None:
                lo, hi = LIMITS[k]
                if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                    raise HaulError("--%s: %r is not an integer from %d to %d" % (k.replace("_", "-"), v, lo, hi))
            o[k] = v
        return o

    def _call(self, fn, *a, **kw):
        try:
            return fn(*a, **kw)
        except redis.ConnectionError as e:
            raise RedisError("Redis: %s" % self._redact(e)) from None
        except redis.ResponseError as e:
            raise RedisError("Redis: %s" % self._redact(e)) from None

    # -- jobs ---------------------------------------------------------------

    def submit(self, op, keys, store, bucket=None, **options):
        """Queue a job and return its Job at once; its tasks are queued in the
        background, a window (max_queued) at a time. Collect with
        job.results(), here or with `haul-scheduler collect JOB`."""
        sub = self._submission(op, keys, store, bucket, options)
        sub.run_in_background()
        return Job(self, sub.job, submission=sub, options=sub.opts)

    def _submission(self, op, keys, store, bucket, options):
        o = self._options(options, self.defaults)
        if op not in READ_OPS:
            raise HaulError("--op: '%s' is not one of %s (the Python client does the read ops; put, delete and "
                            "verify: haul-scheduler)" % (op, ", ".join(READ_OPS)))
        if not isinstance(store, Store):
            raise HaulError("store: give a haul.S3 or haul.Swift (e.g. haul.Swift.from_env())")
        if op != "list-buckets":
            if not bucket:
                raise HaulError("--bucket (or --container) is required for --op %s" % op)
            conn = store.conn()
            e = T.bucket_check(bucket, conn["kind"] == "s3" and not conn.get("path_style", True))
            if e:
                raise HaulError("--bucket: " + e)
        if op == "list-buckets":
            keys = [""]
        elif op == "list":
            keys = [o["prefix"] or ""] if keys is None else [str(k) for k in keys]
        else:
            keys = [str(k) for k in keys]
        if o["repeat"] > 1:
            keys = keys * o["repeat"]
        for i, k in enumerate(keys):
            raw = T.b(k)
            if len(raw) > T.KEY_MAX:
                raise HaulError("key %d is %d bytes long; the limit is %d" % (i + 1, len(raw), T.KEY_MAX))
            if b"\0" in raw:
                raise HaulError("key %d holds a NUL byte" % (i + 1))
        sfx = o["suffixes"]
        sfx = [x for x in (sfx.split(",") if isinstance(sfx, str) else list(sfx)) if x]
        if len(sfx) > T.SUFFIX_MAX:
            raise HaulError("--suffixes: more than %d suffixes" % T.SUFFIX_MAX)
        t = T.Task(op=op, conn=store.conn(), bucket=None if op == "list-buckets" else bucket,
                   max_inline=o["max_inline"], out_dir=o["out_dir"], suffixes=sfx, sidecar_ext=o["sidecar_ext"],
                   max_attempts=o["max_attempts"], queue=o["queue"], id="x:0", job="x",
                   flags=T.FLAG_NO_CHECKSUM if o["ignore_checksum"] else 0)
        if o["ignore_checksum"] and op not in ("get", "sidecar"):
            raise HaulError("--ignore-checksum is for --op get and --op sidecar, not --op %s" % op)
        T._encode_check(t)  # a bad option is said before Redis is asked anything
        if not self._key and not self._warned:
            warnings.warn(NO_KEY_WARNING, stacklevel=4)
            self._warned = True
        sub = Submission(self._r, t, keys, o, key=self._key)
        self._call(sub.start)
        return sub

    def job(self, job_id, **options):
        """A job already in Redis, submitted by this client or by haul-scheduler."""
        if not self._r.exists("haul:job:" + job_id):
            raise HaulError("no job '%s' in Redis (see haul-scheduler status)" % job_id)
        return Job(self, job_id, options=self._options(options, self.defaults))

    def run(self, op, keys, store, bucket=None, stream=False, errors="raise", **options):
        """Submit and collect in one loop (haul-scheduler run): a DataFrame of
        the rows in the keys' order (a list of dicts without pandas), with the
        CSV's columns plus ms, worker, task, tries. stream=True: a generator of
        rows as they are written. errors="raise" raises JobFailed (AuthError for
        a refused credential or key) when a row failed; "keep" returns them."""
        sub = self._submission(op, keys, store, bucket, options)
        job = Job(self, sub.job, submission=sub, options=sub.opts)
        return job.results(stream=stream, errors=errors)

    # -- the notebook's calls --

    def list(self, store, bucket, prefix="", **options):
        """The keys of a bucket under prefix, listed by the workers (op list)."""
        rows = self.run("list", [prefix], store, bucket, progress=options.pop("progress", False), **options)
        return [r["key"] for r in _records(rows)]

    def list_buckets(self, store, **options):
        rows = self.run("list-buckets", None, store, None, progress=options.pop("progress", False), **options)
        return [r["key"] for r in _records(rows)]

    def sidecar(self, keys, store, bucket, **options):
        """Each key's sidecar text (key + sidecar_ext for keys ending in one of
        suffixes, "" for the others), aligned with keys: a Series with keys'
        index when keys is a Series, else a list."""
        ks = list(keys)
        rows = _records(self.run("sidecar", ks, store, bucket, **options))
        values = [r["value"] or "" for r in rows]
        if _pd is not None and isinstance(keys, _pd.Series):
            return _pd.Series(values, index=keys.index, name="metadata", dtype=object)
        return values

    def get(self, keys, store, bucket, **options):
        """Each key's body (as text when it fits max_inline; else the path the
        worker wrote under out_dir), aligned with keys."""
        ks = list(keys)
        rows = _records(self.run("get", ks, store, bucket, **options))
        values = [r["value"] for r in rows]
        if _pd is not None and isinstance(keys, _pd.Series):
            return _pd.Series(values, index=keys.index, dtype=object)
        return values

    def head(self, keys, store, bucket, **options):
        return self.run("head", list(keys), store, bucket, **options)

    def cancel(self, job_id, retention=None):
        return Job(self, job_id, options=self.defaults).cancel(retention)


def _records(rows):
    if _pd is not None and isinstance(rows, _pd.DataFrame):
        return rows.to_dict("records")
    return rows


def _progress(total, enabled):
    if enabled is False:
        return None
    try:
        from tqdm import std as tq
        bar = tq.tqdm
        if "ipykernel" in sys.modules:
            try:
                import ipywidgets  # noqa: F401
                from tqdm.notebook import tqdm as bar
            except ImportError:
                pass
    except ImportError:
        return None
    if enabled is None and not ("ipykernel" in sys.modules or sys.stderr.isatty()):
        return None
    return bar(total=total or None, unit="key", desc="haul", file=sys.stderr)


class Job:
    """A job in Redis. status(), cancel(), results()."""

    def __init__(self, client, job_id, submission=None, options=None):
        self.client, self.id, self._sub = client, job_id, submission
        self.options = options or client.defaults

    def __repr__(self):
        return "haul.Job(%s)" % self.id

    def status(self):
        """The job hash (no secret is ever in it), with `results_in_redis`."""
        r = self.client._r
        h = {k.decode(): v.decode("utf-8", "replace") for k, v in r.hgetall("haul:job:" + self.id).items()}
        if not h:
            raise HaulError("no job '%s' in Redis (see haul-scheduler status)" % self.id)
        h["results_in_redis"] = r.xlen("haul:res:" + self.id) if r.exists("haul:res:" + self.id) else 0
        return h

    def cancel(self, retention=None):
        """haul-scheduler cancel: workers drop its remaining tasks within a few seconds."""
        r = self.client._r
        ok = r.eval("if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end "
                    "redis.call('HSET', KEYS[1], 'state', ARGV[1]) return 1", 1, "haul:job:" + self.id, "cancelled")
        if ok != 1:
            raise HaulError("no job '%s' in Redis (see haul-scheduler status)" % self.id)
        r.sadd("haul:cancelled", self.id)
        job_retire(r, self.id, self.options["retention"] if retention is None else retention)
        return "job %s cancelled: workers drop its remaining tasks within a few seconds" % self.id

    def wait_submitted(self, timeout=None):
        """Block until every task is queued (submit() queues in the background)."""
        return self._sub.wait(timeout) if self._sub else True

    def results(self, stream=False, errors="raise"):
        gen = self._rows(errors)
        if stream:
            return gen
        rows = list(gen)
        cols = WRITE_COLS if self._op in ("put", "delete", "verify") else READ_COLS
        return _frame(rows, cols)

    def _rows(self, errors):
        c = self.client
        col = Collector(c._r, self.id, mac=c._mac, keep_results=self.options["keep_results"],
                        retention=self.options["retention"], job_ttl=self.options["job_ttl"], submission=self._sub)
        try:
            col.attach()
        except redis.RedisError as e:
            raise RedisError("Redis: %s" % c._redact(e)) from None
        self._op = col.op
        t0 = time.time()
        bar = _progress(col.keys or (len(self._sub.keys) if self._sub else 0), self.options["progress"])
        failed = []
        try:
            for row in col.rows_iter():
                if not status_ok(col.op, row["status"]):
                    failed.append(row)
                if bar is not None:
                    if col.keys and bar.total != col.keys and not col.listing:
                        bar.total = col.keys
                    bar.update(1)
                yield row
        except redis.RedisError as e:
            raise RedisError("Redis: %s" % c._redact(e)) from None
        except JobFailed as e:
            if failed and not e.rows:
                e.rows = _frame(failed, READ_COLS)
            raise _classify(e, failed)
        finally:
            if bar is not None:
                bar.close()
        self.summary = col.summary(time.time() - t0)
        self.collector = col
        if failed and errors == "raise":
            raise _classify(JobFailed(self.summary, rows=_frame(failed, READ_COLS), job=self.id), failed)


def _classify(exc, failed):
    """A refused credential or key is an AuthError with the row's own sentence."""
    for row in failed:
        err = row.get("error") or ""
        if row.get("http") in (401, 403) or "sealed connection state failed authentication" in err or \
                "this worker has a key" in err or "this worker has no key" in err:
            e = AuthError(err, rows=exc.rows if len(failed) else [])
            e.job = getattr(exc, "job", None)
            return e
    return exc
