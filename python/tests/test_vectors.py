"""The conformance vectors (tests/vectors/vectors.json), as tests/unit/test_vectors.c
checks them on the C side: decode each task to its fields and encode the fields
to the same bytes (sealed ones with the vector's nonce), refuse each reject with
the C decoder's sentence, each row's MAC, the reaper's rule at byte 13. No
servers needed."""
import json
import os

import pytest

from haul import task as T
from haul.errors import TaskError
from haul.rowmac import RowMac
from haul.seal import unseal

HERE = os.path.dirname(os.path.abspath(__file__))
PATH = os.environ.get("HAUL_VECTORS", os.path.join(HERE, "..", "..", "tests", "vectors", "vectors.json"))
V = json.load(open(PATH))
KEY, NONCE = bytes.fromhex(V["key"]), bytes.fromhex(V["nonce"])


def fields(t):
    d = {f: getattr(t, f) for f in ("id", "job", "op", "bucket", "max_inline", "out_dir", "suffixes", "sidecar_ext",
                                    "max_attempts", "src_dir", "srcs", "meta", "segment_size", "flags", "sizes", "md5s",
                                    "member_counts", "members", "first", "keys", "attempt", "created", "queue",
                                    "expires")}
    d["conn"] = t.conn
    return d


def want(v):
    f = dict(v["fields"])
    base = fields(T.Task())
    base.update(f)
    conn = dict(f["conn"])
    conn = {k: x for k, x in conn.items() if x is not None or k in ("ca_file",)}
    base["conn"] = conn
    return base


def clean(conn):
    return {k: x for k, x in conn.items() if x is not None or k == "ca_file"}


@pytest.mark.parametrize("v", V["tasks"], ids=[v["name"] for v in V["tasks"]])
def test_task(v):
    data = bytes.fromhex(v["hex"])
    t = T.decode(data, key=KEY if v["sealed"] else None)
    got = fields(t)
    got["conn"] = clean(got["conn"])
    assert got == want(v)
    t2 = T.Task(**v["fields"])
    if v["sealed"]:
        assert T.aad(t2).hex() == v["aad"]
        assert T.conn_bytes(t2.conn).hex() == v["plaintext"]
        assert T.encode(t2, key=KEY, nonce=NONCE) == data
        i = data.index(b"\xa6sealed") + 7
        n = data[i + 1] if data[i] == 0xc4 else int.from_bytes(data[i + 1:i + 3], "big")
        start = i + (2 if data[i] == 0xc4 else 3)
        assert unseal(KEY, bytes.fromhex(v["aad"]), data[start:start + n]).hex() == v["plaintext"]
    else:
        assert T.encode(t2) == data


@pytest.mark.parametrize("v", V["rejects"], ids=[v["name"] for v in V["rejects"]])
def test_reject(v):
    with pytest.raises(TaskError) as e:
        T.decode(bytes.fromhex(v["hex"]), key=KEY if v["key"] else None)
    assert str(e.value) == v["error"]


def test_rows():
    m = RowMac(KEY)
    for v in V["rows"]:
        assert m.compute(v["job"], v["items"]) == v["mac"]
        pairs = list(zip(v["items"][::2], v["items"][1::2])) + [("mac", v["mac"])]
        assert m.verify(v["job"], pairs)
        assert not m.verify(v["job"] + "x", pairs)


def test_bump():
    for v in V["bump"]:
        after = T.bump_attempt(bytes.fromhex(v["hex"]))
        assert (after.hex() if after is not None else None) == v["after"], v["name"]


def test_the_documented_bytes_are_cs_and_decode_here():
    """docs/protocol.md's example is haul_task_encode()'s output (the C unit test
    encoding_is_the_documented_one checks it): C-made bytes, decoded here."""
    doc = open(os.path.join(HERE, "..", "..", "docs", "protocol.md"), encoding="utf-8").read()
    block = doc[doc.index("This is the output of `haul_task_encode()`"):].split("```")[1]
    data = bytes.fromhex("".join(block.split()))
    t = T.decode(data)
    assert (t.id, t.job, t.op, t.bucket, t.keys, t.max_inline, t.created) == \
        ("j1:0", "j1", "sidecar", "bkt", ["a.zip", "b"], 65536, 1700000000000)
    assert t.conn["secret_key"] == "secret" and T.encode(t) == data


def test_vector_count():
    n = len(V["tasks"]) + len(V["rejects"]) + len(V["rows"]) + len(V["bump"])
    assert n >= 40
