#!/usr/bin/python3
"""Write tests/vectors/vectors.json: the conformance vectors both codecs check.

    PYTHONPATH=python python3 python/tests/make_vectors.py > tests/vectors/vectors.json

Made once with python/haul and committed; tests/unit/test_vectors.c (the C
codec) and python/tests/test_vectors.py (this one) check every vector, so a
change on either side that moves a byte fails both. The vectors:

- tasks: a task's fields and its bytes. Clear tasks: each side decodes the
  bytes to the fields and encodes the fields to the same bytes. Sealed tasks
  (the key and a fixed nonce below): each side opens them to the fields, the
  associated data is given in hex, and Python seals to the same bytes (the C
  encoder draws its nonce: it checks the layout and that it opens).
- rejects: bytes both decoders refuse, with the C decoder's sentence.
- rows: result entries and their MAC under the key.
- bump: the reaper's rule at byte 13 (the bytes after, or null: untouched).
"""
import json
import sys

from haul import task as T
from haul.rowmac import RowMac

KEY = bytes(range(0x40, 0x60))
NONCE = bytes.fromhex("000102030405060708090a0b")

S3 = dict(kind="s3", tls_verify=True, ca_file=None, endpoint="http://127.0.0.1:8080", region="us-east-1",
          access_key="AKIDEXAMPLE", secret_key="secret", session_token=None, path_style=True)
S3_VHOST = dict(S3, path_style=False, tls_verify=False, ca_file="/etc/ssl/ca.pem", session_token="FwoGZX-token",
                endpoint="https://s3.example.org", region="eu-west-2")
SWIFT = dict(kind="swift", tls_verify=True, ca_file=None, auth_url="http://127.0.0.1:8080/auth/v1.0",
             user="test:tester", key="testing", token=None, storage_url=None)
SWIFT_TOKEN = dict(kind="swift", tls_verify=True, ca_file=None, auth_url=None, user=None, key=None,
                   token="AUTH_tk0123456789abcdef", storage_url="http://127.0.0.1:8080/v1/AUTH_test")

DOC = dict(id="j1:0", job="j1", op="sidecar", conn=S3, bucket="bkt", max_inline=65536, suffixes=[".zip"],
           sidecar_ext=".metadata", keys=["a.zip", "b"], created=1700000000000)
NB = dict(id="20231114-221320-0badcafe:3", job="20231114-221320-0badcafe", op="sidecar", conn=SWIFT,
          bucket="LSST-IR-FUSION-testfromopenstack", max_inline=1 << 20, suffixes=[".zip"], sidecar_ext=".metadata",
          first=48, keys=["dummy/collated_0.zip", "dummy/collated_0.zip.metadata", "dummy/collated_1.zip"],
          created=1700000000123, queue="default", expires=1700086400123)

CLEAR = [
    ("documented_example", DOC),
    ("documented_example_with_queue", dict(DOC, queue="default", expires=1700086400000)),
    ("notebook_swift", NB),
    ("swift_token", dict(NB, conn=SWIFT_TOKEN, op="get", max_inline=0, out_dir="/data/out", suffixes=[],
                         sidecar_ext=None)),
    ("s3_virtual_host_tls", dict(DOC, conn=S3_VHOST, bucket="my-bucket.v2", max_attempts=1, attempt=3)),
    ("list_buckets", dict(DOC, op="list-buckets", bucket=None, keys=[""], suffixes=[], sidecar_ext=None,
                          max_inline=0)),
    ("list_prefix", dict(NB, op="list", keys=["dummy/", ""], first=0)),
    ("head_empty_sidecar_ext", dict(NB, op="head", sidecar_ext="", max_attempts=1000)),
    ("keys_unicode_and_long", dict(NB, keys=["caf\u00e9/\u65e5\u672c.zip", "k" * 31, "k" * 32, "x" * 255,
                                             "y" * 256, "z" * 1024, "with space+%2F.zip"])),
    ("sixteen_keys_array16", dict(NB, keys=["k%02d" % i for i in range(16)], first=1 << 33,
                                  suffixes=[".zip", ".tar", ".7z"])),
    ("big_numbers", dict(NB, max_inline=T.MAX_INLINE, created=(1 << 63) - 1, expires=(1 << 32),
                         attempt=0xffffffff - 1)),
    ("put_write_args", dict(NB, op="put", keys=["run/a.bin", "run/b.bin"], src_dir="/data/run42",
                            srcs=["a.bin", "sub/b.bin"], meta=["project", "lsst", "run-id", "42"],
                            segment_size=5 << 30, flags=T.FLAG_SKIP_EXISTING)),
    ("put_collate", dict(NB, op="put", keys=["collated_0.zip", "big.bin"], src_dir="/d", srcs=["collated_0.zip",
                         "big.bin"], member_counts=[3, 0], members=["a.f", "b.f", "c/d.f"])),
    ("verify_manifest", dict(NB, op="verify", keys=["a", "b", "c"], sizes=[0, None, 300000],
                             md5s=["d41d8cd98f00b204e9800998ecf8427e", "", "0123456789abcdef0123456789abcdef"],
                             flags=T.FLAG_DEEP)),
    ("delete_dry_run", dict(NB, op="delete", keys=["old/1", "old/2"], flags=T.FLAG_DRY_RUN)),
]
SEALED = [
    ("sealed_documented_example", dict(DOC, queue="default", expires=1700086400000)),
    ("sealed_notebook_swift", NB),
    ("sealed_swift_token_get", dict(NB, conn=SWIFT_TOKEN, op="get", out_dir="/data/out")),
    ("sealed_s3_virtual_host", dict(NB, conn=S3_VHOST, bucket="my-bucket.v2", sidecar_ext="")),
    ("sealed_list_buckets", dict(NB, op="list-buckets", bucket=None, keys=[""], first=0)),
    ("sealed_put", dict(NB, op="put", keys=["run/a.bin"], src_dir=None, srcs=["/abs/a.bin"], meta=["k", "v"],
                        flags=T.FLAG_SKIP_EXISTING | T.FLAG_DRY_RUN)),
    ("sealed_verify", dict(NB, op="verify", keys=["a", "b"], sizes=[None, 5], md5s=["", "0" * 32])),
]


def fields(t):
    d = dict(t)
    d.setdefault("max_attempts", T.DEFAULT_ATTEMPTS)
    return d


def task(d):
    return T.Task(**{k: v for k, v in d.items()})


def rejects():
    doc = T.encode(task(DOC))
    sealed = T.encode(task(SEALED[0][1]), key=KEY, nonce=NONCE)
    v2 = doc[:3] + b"\x02" + doc[4:]
    # both conn and sealed: the sealed task with conn added (map header + 1)
    both = bytes([sealed[0] + 1]) + sealed[1:] + b"\xa4conn" + T.conn_bytes(S3)
    zero = T.encode(task(DOC)).replace(b"\xacmax_attempts\x04", b"\xacmax_attempts\x00")
    altered = sealed.replace(b"\xa3bkt", b"\xa3bku")
    nul = doc.replace(b"\xa1b", b"\xa1\x00")
    long_key = T.encode(task(dict(DOC, keys=["k"]))).replace(b"\x91\xa1k", b"\x91\xda\x04\x01" + b"k" * 1025)
    no_bucket = T.encode(task(DOC)).replace(b"\xa3bkt", b"\xc0")
    no_bucket = no_bucket  # the encoder would refuse it; the bytes are made by hand
    return [
        ("empty", b"", False),
        ("not_a_map", b"\xa3abc", False),
        ("trailing_byte", doc + b"\x00", False),
        ("version_2", v2, False),
        ("max_attempts_0", zero, False),
        ("both_conn_and_sealed", both, False),
        ("sealed_without_key", sealed, False),
        ("clear_with_key", doc, True),
        ("sealed_bucket_altered", altered, True),
        ("nul_in_key", nul, False),
        ("key_over_1024", long_key, False),
        ("no_bucket", no_bucket, False),
    ]


def main():
    out = {"comment": "made by python/tests/make_vectors.py; checked by tests/unit/test_vectors.c and "
                      "python/tests/test_vectors.py",
           "key": KEY.hex(), "nonce": NONCE.hex(), "tasks": [], "rejects": [], "rows": [], "bump": []}
    for name, d in CLEAR:
        out["tasks"].append({"name": name, "sealed": False, "fields": fields(d), "hex": T.encode(task(d)).hex()})
    for name, d in SEALED:
        t = task(d)
        out["tasks"].append({"name": name, "sealed": True, "fields": fields(d),
                             "hex": T.encode(t, key=KEY, nonce=NONCE).hex(), "aad": T.aad(t).hex(),
                             "plaintext": T.conn_bytes(t.conn).hex()})
    for name, data, with_key in rejects():
        try:
            T.decode(data, key=KEY if with_key else None)
            err = None
        except T.TaskError as e:
            err = str(e)
        out["rejects"].append({"name": name, "key": with_key, "hex": data.hex(), "error": err})
    mac = RowMac(KEY)
    rows = [
        ("20231114-221320-0badcafe", ["key", "dummy/collated_7.zip", "i", "55", "status", "ok", "http", "200",
                                      "value", "18/18_1.f|44/44_1.f|44/44_2.f", "bytes", "29", "ms", "3",
                                      "worker", "host:123", "task", "20231114-221320-0badcafe:3", "attempt", "0",
                                      "tries", "1", "verified", "md5"]),
        ("20231114-221320-0badcafe", ["key", "dummy/1/1_1.f", "i", "1", "status", "ok", "http", "0", "value", "",
                                      "bytes", "-1", "ms", "0", "worker", "host:123", "task",
                                      "20231114-221320-0badcafe:0", "attempt", "0", "tries", "0", "verified",
                                      "none"]),
        ("j", ["key", "k", "i", "0", "status", "error", "http", "403", "bytes", "-1",
               "error", "S3 GET b/k: 403 SignatureDoesNotMatch (check the secret key and region)", "ms", "12",
               "worker", "w", "task", "j:0", "attempt", "2", "tries", "1", "verified", "none"]),
        ("j", ["key", "caf\u00e9", "i", "7", "status", "ok", "http", "200", "value", "line1\nline2\x00",
               "bytes", "12"]),
        ("", []),
    ]
    for job, items in rows:
        out["rows"].append({"job": job, "items": items, "mac": mac.compute(job, items)})
    doc = T.encode(task(DOC))
    for name, data in [("zero", doc), ("three", T.encode(task(dict(DOC, attempt=3)))),
                       ("at_max", T.encode(task(dict(DOC, attempt=0xffffffff)))),
                       ("not_this_layout", b"\x82\xa1v\x01\xa7attempt\xcc\x05"),
                       ("short", doc[:16]), ("map16", b"\xde" + doc[1:])]:
        after = T.bump_attempt(data)
        out["bump"].append({"name": name, "hex": data.hex(), "after": after.hex() if after is not None else None})
    json.dump(out, sys.stdout, indent=1, ensure_ascii=True)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
