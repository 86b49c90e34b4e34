"""The client against real servers and the C side (tests/integration/test_python.sh
starts them and sets HAUL_TEST_*): the notebook's 800 keys over S3 and Swift,
sealed tasks both ways, jobs collected across languages, cancel, and the
documented exceptions. Skipped when the servers are not there."""
import csv
import os
import subprocess
import time

import pytest

import haul
from haul import task as T
from haul.seal import load_key

E = os.environ
pytestmark = pytest.mark.skipif("HAUL_TEST_REDIS_URL" not in E, reason="needs tests/integration/test_python.sh")

BUCKET = E.get("HAUL_TEST_BUCKET", "LSST-IR-FUSION-testfromopenstack")
SECRETS = ("testing", "wrong-secret-xyz")


@pytest.fixture(scope="module")
def expected():
    with open(E["HAUL_TEST_EXPECTED"], encoding="utf-8") as f:
        return [tuple(line.rstrip("\n").split("\t", 1)) for line in f]


@pytest.fixture(scope="module")
def client():
    return haul.Client(E["HAUL_TEST_REDIS_URL"], key_file=E["HAUL_TEST_KEY_FILE"])


def swift(**kw):
    return haul.Swift(auth_url=E["HAUL_TEST_ST_AUTH"], user="test:tester", key="testing", **kw)


def s3(secret="testing"):
    return haul.S3(E["HAUL_TEST_S3"], access_key="test:tester", secret_key=secret)


def sched(*args, key=True, **kw):
    env = {k: v for k, v in E.items() if not k.startswith(("HAUL_", "AWS_", "ST_", "OS_"))}
    env.update(ST_AUTH=E["HAUL_TEST_ST_AUTH"], ST_USER="test:tester", ST_KEY="testing")
    cmd = [E["HAUL_TEST_SCHED"], args[0], "--redis", E["HAUL_TEST_REDIS_URL"]] + list(args[1:])
    if key:
        cmd += ["--key-file", E["HAUL_TEST_KEY_FILE"]]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60, **kw)


@pytest.mark.parametrize("kind", ["s3", "swift"])
def test_notebook_800_keys(client, expected, kind):
    """list, then sidecar over the listing x10, as the notebook does: every row
    the expected sidecar text, in order, the index kept."""
    pd = pytest.importorskip("pandas")
    store = s3() if kind == "s3" else swift()
    keys = client.list(store, BUCKET)
    assert keys == [k for k, _ in expected]
    objects = pd.DataFrame({"key": keys * 10}, index=range(1000, 1800))
    objects["metadata"] = client.sidecar(objects["key"], store, BUCKET, progress=False)
    assert list(objects.index) == list(range(1000, 1800))
    assert list(zip(objects["key"], objects["metadata"])) == expected * 10
    zips = objects[objects["key"].str.endswith(".zip")]
    assert zips.loc[zips["key"] == "dummy/collated_7.zip", "metadata"].iloc[0] == "18/18_1.f|44/44_1.f|44/44_2.f"


def test_run_columns_stream_and_coalescing(client, expected):
    """run() gives the CSV's columns plus ms, worker, task, tries; stream=True the
    same rows as they come; the 800 keys are 80 fetched once each."""
    keys = [k for k, _ in expected]
    df = client.run("sidecar", keys, swift(), BUCKET, repeat=10, batch=7, keep_results=True, progress=False)
    assert list(df.columns) == ["key", "status", "http", "value", "bytes", "error", "verified", "ms", "worker",
                                "task", "tries"]
    assert len(df) == 800 and set(df["status"]) == {"ok"}
    job = df["task"].iloc[0].rsplit(":", 1)[0]
    st = client.job(job).status()
    assert (st["state"], st["keys"], st["distinct"], st["results_in_redis"]) == ("done", "800", "80", 80)
    rows = list(client.run("sidecar", keys[:20], swift(), BUCKET, stream=True, progress=False))
    assert [r["key"] for r in rows] == keys[:20] and all(r["status"] == "ok" for r in rows)


def test_ignore_checksum(client, expected):
    """ignore_checksum=True: the worker hashes nothing, and says so (verified
    none); the bodies are the same. Refused for an op it does not apply to."""
    zips = [(k, v) for k, v in expected if k.endswith(".zip")][:5]
    keys = [k + ".metadata" for k, _ in zips]
    checked = client.run("get", keys, swift(), BUCKET, progress=False)
    trusted = client.run("get", keys, swift(), BUCKET, ignore_checksum=True, progress=False)
    assert list(checked["verified"]) == ["md5"] * 5
    assert list(trusted["verified"]) == ["none"] * 5
    assert list(trusted["value"]) == list(checked["value"]) == [v for _, v in zips]
    with pytest.raises(haul.HaulError, match="--ignore-checksum is for --op get and --op sidecar, not --op head"):
        client.run("head", keys, swift(), BUCKET, ignore_checksum=True, progress=False)


def test_clear_tasks_on_a_worker_without_key(expected):
    """Without a key the connection travels in the clear (with the C side's
    warning), and a worker without a key runs it."""
    c = haul.Client(E["HAUL_TEST_REDIS_URL"], queue="clear")
    with pytest.warns(UserWarning, match="stored in the clear"):
        vals = c.sidecar([k for k, _ in expected], s3(), BUCKET, progress=False)
    assert vals == [v for _, v in expected]


def test_python_sealed_task_is_accepted_by_c_worker_and_c_sealed_decoded_by_python(client, expected):
    """A task sealed by haul-scheduler, taken from Redis and opened here; the
    tasks this client seals are the ones C workers ran above."""
    r = client._r
    q = "cquiet-%d" % os.getpid()
    p = sched("submit", "--swift", "--container", BUCKET, "--queue", q, "--batch", "5", "--prefix", "dummy/c",
              "--op", "sidecar", "--max-attempts", "3")
    assert p.returncode == 0, p.stderr
    job = p.stdout.strip()
    tasks = r.lrange("haul:q:" + q, 0, -1)
    assert tasks
    key = load_key(E["HAUL_TEST_KEY_FILE"])
    got = []
    for n, raw in enumerate(tasks):
        t = T.decode(raw, key=key)
        assert (t.id, t.job, t.op, t.bucket, t.queue, t.max_attempts) == ("%s:%d" % (job, n), job, "sidecar",
                                                                         BUCKET, q, 3)
        assert t.sealed and t.conn["kind"] == "swift" and t.conn["user"] == "test:tester"
        assert t.first == 5 * n
        got += t.keys
        # ... and byte for byte what this codec makes of it, with the same nonce
        nonce = raw[raw.index(b"sealed") + 8:][:12]
        assert T.encode(t, key=key, nonce=nonce) == bytes(raw)
    assert got == [k for k, _ in expected if k.startswith("dummy/c")]
    with pytest.raises(haul.TaskError, match="failed authentication"):
        T.decode(tasks[0], key=load_key(E["HAUL_TEST_OTHER_KEY_FILE"]))
    client.cancel(job, retention=0)
    r.delete("haul:q:" + q)


def test_python_job_collected_by_c_collector(client, expected):
    keys = [k for k, _ in expected] * 3
    job = client.submit("sidecar", keys, swift(), BUCKET, batch=9)
    assert job.wait_submitted(30)
    out = os.path.join(E["HAUL_TEST_TMP"], "py-by-c.csv")
    p = sched("collect", job.id, "--out", out)
    assert p.returncode == 0, p.stderr
    with open(out, newline="", encoding="utf-8") as f:
        rows = [(r["key"], r["value"]) for r in csv.DictReader(f)]
    assert rows == expected * 3
    st = job.status()
    assert (st["state"], st["ok"], st["errors"], st["forged"]) == ("done", "240", "0", "0")


def test_c_job_collected_by_python(client, expected):
    p = sched("submit", "--swift", "--container", BUCKET, "--op", "sidecar", "--repeat", "2", "--batch", "6")
    assert p.returncode == 0, p.stderr
    job = client.job(p.stdout.strip())
    df = job.results()
    assert list(zip(df["key"], df["value"].fillna(""))) == expected * 2
    st = job.status()
    assert (st["state"], st["ok"], st["errors"]) == ("done", "160", "0")


def test_cancel(client, expected):
    """A job on a queue no worker serves, cancelled: results() says so, the
    workers' set names it, and its keys get the retention."""
    q = "nobody-%d" % os.getpid()
    job = client.submit("sidecar", [k for k, _ in expected], swift(), BUCKET, queue=q, retention=60)
    job.wait_submitted(30)
    assert client._r.llen("haul:q:" + q) == 5
    assert "cancelled" in job.cancel()
    assert job.status()["state"] == "cancelled"
    assert client._r.sismember("haul:cancelled", job.id)
    assert 0 < client._r.ttl("haul:job:" + job.id) <= 60
    with pytest.raises(haul.JobFailed, match=r"job %s was cancelled \(0 of 80 keys done\)" % job.id):
        job.results()
    client._r.delete("haul:q:" + q)


def test_wrong_secret_is_auth_error(client):
    with pytest.raises(haul.AuthError) as e:
        client.sidecar(["dummy/collated_7.zip", "dummy/1/1_1.f"], s3("wrong-secret-xyz"), BUCKET, progress=False,
                       max_attempts=1)
    msg = str(e.value)
    assert "403" in msg and "check the secret key" in msg, msg
    assert "wrong-secret-xyz" not in msg and "wrong-secret-xyz" not in repr(e.value.rows)
    assert len(e.value.rows) == 1


def test_wrong_key_is_auth_error():
    """Tasks sealed with another key than the workers': dead-lettered by the
    workers, an AuthError here with their sentence."""
    c = haul.Client(E["HAUL_TEST_REDIS_URL"], key_file=E["HAUL_TEST_OTHER_KEY_FILE"])
    t0 = time.time()
    with pytest.raises(haul.AuthError, match="sealed connection state failed authentication: wrong key "
                                             r"\(HAUL_KEY_FILE\), or the task was altered"):
        c.sidecar(["dummy/collated_7.zip"], swift(), BUCKET, progress=False)
    assert time.time() - t0 < 20


def test_redis_unreachable():
    with pytest.raises(haul.RedisError, match=r"cannot connect to Redis at redis://:\*\*\*@127.0.0.1:1/0: .* "
                                              r"\(is redis-server running there\? check --redis / HAUL_REDIS_URL\)"):
        haul.Client("redis://:pw-secret@127.0.0.1:1/0", timeout=1)


def test_no_secret_in_any_repr_or_message(client):
    key = load_key(E["HAUL_TEST_KEY_FILE"])
    with pytest.raises(haul.RedisError) as e:  # this Redis has no password: AUTH is refused
        haul.Client(E["HAUL_TEST_REDIS_URL"].replace("redis://", "redis://:pw-secret-2@"))
    assert "refused the password" in str(e.value) and "pw-secret-2" not in str(e.value)
    assert ":***@" in str(e.value)
    shown = [repr(client), str(client), repr(s3()), str(s3()), repr(swift()), repr(key), str(key),
             repr(haul.Swift(token="tok-secret-1", storage_url="http://x/v1/AUTH_t"))]
    for text in shown:
        for secret in ("testing", "tok-secret-1", "pw-secret-2", key.bytes().hex()):
            assert secret not in text, text
    t = T.Task(id="j:0", job="j", op="sidecar", conn=s3().conn(), bucket="b", keys=["k"])
    assert "testing" not in repr(t)
    for bad in (dict(bucket="a/b"), dict(max_attempts=0)):
        with pytest.raises(haul.HaulError) as e:
            client.sidecar(["k"], s3(), bad.pop("bucket", BUCKET), **bad)
        assert "testing" not in str(e.value)
    import pickle
    for obj in (s3(), key, client):
        with pytest.raises(TypeError):
            pickle.dumps(obj)


def test_coalescing_and_records_as_the_c_scheduler(client, expected, tmp_path):
    """The same keys (duplicates scattered) submitted by haul-scheduler and by
    this client: the same slots in the same tasks, the same duplicate runs,
    the same job hash figures, the same expiries."""
    import random
    rnd = random.Random(7)
    keys = [rnd.choice(expected[:50])[0] for _ in range(300)]
    path = tmp_path / "dups.txt"
    path.write_text("".join(k + "\n" for k in keys), encoding="utf-8")
    r = client._r
    qc, qp = "cmp-c-%d" % os.getpid(), "cmp-py-%d" % os.getpid()
    p = sched("submit", "--swift", "--container", BUCKET, "--keys", str(path), "--queue", qc, "--batch", "7",
              "--max-queued", "0")
    assert p.returncode == 0, p.stderr
    cjob = p.stdout.strip()
    pjob = client.submit("sidecar", keys, swift(), BUCKET, queue=qp, batch=7, max_queued=0)
    assert pjob.wait_submitted(30)
    key = load_key(E["HAUL_TEST_KEY_FILE"])

    def tasks(q):
        return [(t.first, t.keys) for t in (T.decode(x, key=key) for x in r.lrange("haul:q:" + q, 0, -1))]
    assert tasks(qp) == tasks(qc)
    assert r.lrange("haul:dup:" + pjob.id, 0, -1) == r.lrange("haul:dup:" + cjob, 0, -1)
    hc, hp = client.job(cjob).status(), pjob.status()
    for f in ("state", "keys", "distinct", "rows", "dup_floor", "tasks", "runs", "batch", "coalesce", "op", "store",
              "endpoint", "bucket", "max_inline", "max_queued", "job_ttl"):
        assert hp[f] == hc[f], f
    for k in ("haul:job:", "haul:res:", "haul:dup:"):
        assert abs(r.ttl(k + pjob.id) - r.ttl(k + cjob)) <= 2 and r.ttl(k + pjob.id) > 604000
    assert r.zscore("haul:jobs", pjob.id) and r.sismember("haul:queues", qp)
    for j in (cjob, pjob.id):
        client.cancel(j, retention=0)
    assert not r.exists("haul:job:" + pjob.id) and r.zscore("haul:jobs", pjob.id) is None
    r.delete("haul:q:" + qc, "haul:q:" + qp)


def test_retention_after_collection(client, expected):
    keys = [k for k, _ in expected[:20]]
    job = client.submit("sidecar", keys, swift(), BUCKET, retention=120)
    job.results()
    r = client._r
    assert job.status()["state"] == "done"
    assert 0 < r.ttl("haul:job:" + job.id) <= 120 and 0 < r.ttl("haul:res:" + job.id) <= 120
    assert r.xlen("haul:res:" + job.id) == 0  # trimmed as written
    with pytest.raises(haul.HaulError, match="was collected already: its results were trimmed"):
        client.job(job.id).results()
    job2 = client.submit("sidecar", keys, swift(), BUCKET, retention=0)
    job2.results()
    assert not r.exists("haul:job:" + job2.id) and not r.exists("haul:res:" + job2.id)


def test_window_and_task_lifetime(client, expected):
    """max_queued tasks at a time, more as a worker takes them; each task bound
    to its queue and its lifetime (expires = created + task_ttl)."""
    r = client._r
    q = "window-%d" % os.getpid()
    keys = [k for k, _ in expected]
    job = client.submit("sidecar", keys, swift(), BUCKET, queue=q, batch=2, max_queued=5, task_ttl=600)
    time.sleep(0.6)
    assert r.llen("haul:q:" + q) == 5
    st = job.status()
    assert (st["state"], st["tasks"], st["keys"], st["max_queued"]) == ("submitting", "5", "80", "5")
    t = T.decode(r.lindex("haul:q:" + q, 0), key=load_key(E["HAUL_TEST_KEY_FILE"]))
    assert (t.queue, t.expires - t.created, t.id, t.first, t.keys) == (q, 600000, job.id + ":0", 0, keys[:2])
    worker = os.path.join(os.path.dirname(E["HAUL_TEST_SCHED"]), "haul-worker")
    log = open(os.path.join(E["HAUL_TEST_TMP"], "window-worker.log"), "ab")
    w = subprocess.Popen([worker, "--redis", E["HAUL_TEST_REDIS_URL"], "--queue", q, "--key-file",
                          E["HAUL_TEST_KEY_FILE"], "--concurrency", "4"], stdout=log, stderr=log,
                         env={k: v for k, v in E.items() if not k.startswith("HAUL_")})
    try:
        df = job.results()
    finally:
        w.terminate()
        w.wait(20)
    assert list(zip(df["key"], df["value"].fillna(""))) == expected
    assert job.status()["tasks"] == "40"
