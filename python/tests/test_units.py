"""The client's pieces that need no server: the Redis URL, coalescing, the
collector's ordering rules, key files, stores, the codec's checks."""
import os

import pytest

import haul
from haul import task as T
from haul.client import _redis_url
from haul.collect import Collector, make_row, stream_id_after
from haul.rowmac import RowMac
from haul.seal import load_key
from haul.submit import slots_of


def test_redis_url_as_hiredis_side_parses_it():
    kw, shown, pw = _redis_url("redis://user:p@ss/w@host:7000/3")
    assert (kw["host"], kw["port"], kw["db"], kw["username"], pw) == ("host", 7000, 3, "user", "p@ss/w")
    assert shown == "redis://user:***@host:7000/3"
    assert _redis_url("redis://pw@h")[1] == "redis://:***@h:6379/0"
    assert _redis_url("redis://")[1] == "redis://127.0.0.1:6379/0"
    with pytest.raises(haul.RedisError, match=r"^Redis URL: bad port 'x' \(expected redis://host:6379/0\)$"):
        _redis_url("redis://h:x/0")
    with pytest.raises(haul.RedisError, match="^Redis URL must start with redis://"):
        _redis_url("http://h")


def test_slots_and_runs_as_the_scheduler_numbers_them():
    keys = ["k%d" % i for i in range(80)]
    slots, runs = slots_of(keys * 10, True)
    assert slots == keys and runs == [[80 * r, 0, 80] for r in range(1, 10)]  # the listing x10: 9 runs
    slots, runs = slots_of(["a", "b", "a", "b", "c", "a", "c"], True)
    assert slots == ["a", "b", "c"] and runs == [[2, 0, 2], [5, 0, 1], [6, 2, 1]]
    assert slots_of(["a", "a"], False) == (["a", "a"], [])


class FakeCollector(Collector):
    """The bookkeeping without Redis: the job hash as given."""

    def __init__(self, rows, slots, runs, batch=4, mac=None, op="sidecar"):
        super().__init__(None, "j", mac=mac)
        self.op, self.listing, self.batch, self.queue = op, op in ("list", "list-buckets"), batch, "q"
        self.rows, self.slots, self.final, self.keys = rows, slots, True, rows
        self.runs, self.run_rows = [tuple(r) for r in runs], [r[0] for r in runs]

    def refresh(self):
        pass


def entry(key, i, value="", status="ok", **more):
    f = [("key", key), ("i", str(i)), ("status", status), ("http", "200"), ("value", value), ("bytes", "3"),
         ("ms", "1"), ("worker", "w"), ("task", "j:0"), ("tries", "1"), ("verified", "md5")]
    return f + [(k, v) for k, v in more.items()]


def test_rows_in_order_repeats_first_wins_and_bogus_slots():
    keys = ["a", "b", "a", "b", "c", "a", "c"]
    slots, runs = slots_of(keys, True)
    c = FakeCollector(len(keys), len(slots), runs)
    out = []
    for s in (2, 0, 1):  # results out of order
        rows, took = c.take(entry(slots[s], s, value=slots[s].upper()))
        assert took
        out += rows
        if s == 2:
            assert rows == []  # row 0 waits for slot 0
    assert [(r["key"], r["value"]) for r in out] == [(k, k.upper()) for k in keys]
    assert c.take(entry("a", 0, value="again")) == ([], False)     # first wins
    assert c.take(entry("x", 7)) == ([], False) and c.bogus == 1    # a slot the job cannot have
    assert c.complete() and (c.ok, c.errors) == (7, 0)


def test_forged_rows_dropped():
    mac = RowMac(bytes(32))
    c = FakeCollector(1, 1, [], mac=mac)
    e = entry("a", 0, value="x")
    assert c.take(e + [("mac", "0" * 32)]) == ([], False) and c.forged == 1
    good = e + [("mac", mac.compute("j", [x for kv in e for x in kv]))]
    rows, took = c.take(good)
    assert took and rows[0]["value"] == "x"


def test_listing_counts():
    c = FakeCollector(2, 2, [], op="list")
    assert c.take(entry("k1", 0))[0][0]["key"] == "k1"
    assert c.take(entry("p", 0, eof="1", count="1"))[0] == []
    rows, _ = c.take(entry("q/", 1, eof="1", count="3"))
    assert rows[0]["error"] == "listing of prefix 'q/' reported 3 entries but 0 rows arrived (rows lost in Redis)"
    assert c.complete() and c.errors == 1


def test_make_row_nulls_as_json_lines():
    r = make_row({"key": b"k", "status": b"error", "http": b"0", "bytes": b"-1", "ms": b"-1", "error": b"e"}, "get")
    assert (r["http"], r["bytes"], r["ms"], r["value"], r["verified"]) == (None, None, None, None, None)
    assert make_row({"key": b"k", "status": b"ok", "path": b"/d/k"}, "get")["value"] == "/d/k"
    assert stream_id_after("5-3") == "5-4" and stream_id_after("5-%d" % ((1 << 64) - 1)) == "6-0"


def test_key_files_as_seal_c_reads_them(tmp_path):
    p = tmp_path / "k"
    p.write_text("ab" * 32 + "\n")
    os.chmod(p, 0o600)
    assert load_key(p).bytes() == bytes([0xab]) * 32
    p.write_bytes(bytes(range(32)))
    assert load_key(p).bytes() == bytes(range(32))
    p.write_text("ab" * 31 + "a\n")
    with pytest.raises(haul.KeyFileError, match=r"^key file .*: 64 bytes; expected exactly 32 raw bytes, or 64 hex"):
        load_key(p)
    p.write_text("ab" * 31 + "zz")
    with pytest.raises(haul.KeyFileError, match=r": byte 62 is not a hex digit;") as e:
        load_key(p)
    assert "zz" not in str(e.value) and "abab" not in str(e.value)
    p.write_text("")
    with pytest.raises(haul.KeyFileError, match=": empty;"):
        load_key(p)
    p.write_text("cd" * 32)
    os.chmod(p, 0o644)
    said = []
    load_key(p, warn=said.append)
    assert said == ["key file %s can be read or changed by group or others (mode 0644): chmod 600 %s" % (p, p)]
    assert "cd" * 4 not in repr(load_key(p))


def test_stores(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://s3.example:8080/")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AK")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "sekrit-1")
    monkeypatch.delenv("AWS_REGION", raising=False)
    s = haul.S3.from_env()
    assert repr(s) == "haul.S3(s3 http://s3.example:8080 region us-east-1)" and "sekrit" not in str(s)
    assert s.conn()["secret_key"] == "sekrit-1" and s.conn()["path_style"] is True
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    with pytest.raises(haul.HaulError, match="^S3 secret key missing: set --secret-key or AWS_SECRET_ACCESS_KEY$"):
        haul.S3.from_env()
    for v in ("ST_AUTH", "ST_USER", "ST_KEY", "OS_AUTH_TOKEN", "OS_STORAGE_URL"):
        monkeypatch.delenv(v, raising=False)
    with pytest.raises(haul.HaulError, match=r"^Swift needs --auth-url/--user/--key"):
        haul.Swift.from_env()
    t = haul.Swift(token="tok-9", storage_url="http://x/v1/AUTH_a")
    assert repr(t) == "haul.Swift(swift http://x/v1/AUTH_a (pre-issued token))"


def test_encoder_refuses_what_the_decoder_would():
    base = dict(id="j:0", job="j", op="sidecar", bucket="b", keys=["k"],
                conn=haul.S3("http://h", access_key="a", secret_key="s", virtual_host=True).conn())
    with pytest.raises(haul.TaskError, match="^task field 'bucket': bucket name 'a:b' holds ':' at byte 1: with "
                                             "--virtual-host"):
        T.encode(T.Task(**dict(base, bucket="a:b")))
    with pytest.raises(haul.TaskError, match=r"^task field 'keys'\[0\]: 1025 bytes, limit 1024$"):
        T.encode(T.Task(**dict(base, keys=["k" * 1025])))
    with pytest.raises(haul.TaskError, match="^task: a sealed task needs 'queue' and 'expires'"):
        T.encode(T.Task(**base), key=bytes(32))
    data = T.encode(T.Task(**base))
    assert T.bump_attempt(data)[13:17] == b"\0\0\0\1" and len(T.bump_attempt(data)) == len(data)


def test_submission_pauses_when_redis_is_out_of_memory():
    """An OOM refusal pauses the submission (the step says why and returns
    False); the next step queues what was not."""
    import redis
    from haul.submit import Submission

    class R:
        oom = True
        pushed = []

        def llen(self, key):
            return 0

        def eval(self, script, nkeys, *args):
            if "RPUSH" in args and self.oom:
                raise redis.ResponseError("OOM command not allowed when used memory > 'maxmemory'.")
            if "RPUSH" in args:
                self.pushed += args[6:]  # after: job key, key, states, command, ttl, counter
            return b"ok"

    conn = haul.S3("http://h", access_key="a", secret_key="s").conn()
    t = T.Task(op="sidecar", conn=conn, bucket="b", queue="q", suffixes=[".zip"], id="x:0", job="x")
    opts = dict(coalesce=True, batch=2, queue="q", max_queued=10, job_ttl=600, task_ttl=60, retention=0)
    r = R()
    s = Submission(r, t, ["a", "b", "c"], opts)
    assert s.step() is False and s.waiting.startswith("Redis is out of memory (maxmemory, noeviction)")
    r.oom = False
    assert s.step() is True and s.waiting is None and len(r.pushed) == 2
    assert [T.decode(x).keys for x in r.pushed] == [["a", "b"], ["c"]]


def test_no_checksum_only_for_get_and_sidecar():
    """NO_CHECKSUM (--ignore-checksum) on an op that hashes no body is refused,
    encoding and decoding, as common/task.c does."""
    import msgpack
    t = T.Task(op="head", conn={"kind": "s3", "endpoint": "http://127.0.0.1:1", "region": "us-east-1",
                                "access_key": "a", "secret_key": "s"},
               bucket="b", keys=["k"], id="j:0", job="j", flags=T.FLAG_NO_CHECKSUM)
    with pytest.raises(T.TaskError, match=r"NO_CHECKSUM \(16\) on op 'head'"):
        T.encode(t)
    t.op = "get"
    raw = T.encode(t)
    assert T.decode(raw).flags == T.FLAG_NO_CHECKSUM
    doc = msgpack.unpackb(raw, raw=False)
    doc["op"] = "head"
    with pytest.raises(T.TaskError, match=r"NO_CHECKSUM \(16\) on op 'head'"):
        T.decode(msgpack.packb(doc, use_bin_type=True))
