"""The task codec: Task <-> one msgpack map, byte for byte as common/task.c.

docs/protocol.md, "Task (msgpack)", is the reference. The encoder writes the
entries in the documented order and the shortest format for every value but
`attempt`, which is always a uint32 at bytes 12-16 (the delivery count the
reaper rewrites in place). It is written here rather than with msgpack's
packer so that every byte is the C encoder's. The decoder (for tasks read
back from Redis, and the conformance tests) accepts any conforming encoding
and refuses what the C decoder refuses, with its sentences for the common
cases.

Strings are bytes on the wire; here they are `str`, encoded as UTF-8 with
surrogateescape so that a key that is not UTF-8 goes through unchanged.
"""
import dataclasses
import struct
from typing import List, Optional

import msgpack

from . import seal as _seal
from .errors import HaulError, TaskError

VERSION = 1
MAX_BYTES = 16 << 20
MAX_KEYS = 100000
KEY_MAX = 1024
STR_MAX = 4096
SUFFIX_MAX = 16
MAX_DEPTH = 8
SEALED_MAX = 64 << 10
DEFAULT_ATTEMPTS = 4
MAX_ATTEMPTS = 1000
MAX_INLINE = 64 << 20
ATTEMPT_OFFSET = 13

OPS = ("none", "list-buckets", "list", "head", "get", "sidecar", "put", "delete", "verify")
OP_PUT = OPS.index("put")

FLAG_SKIP_EXISTING = 1
FLAG_DRY_RUN = 2
FLAG_DEEP = 4
FLAG_BULK = 8        # delete over Swift: the store offers bulk delete (main's common/task.h, issue 10)
FLAG_NO_CHECKSUM = 16  # get, sidecar: the body's length checked, not its MD5 (--ignore-checksum)
FLAGS = 31

# conn's strings, in the encoder's order, with the kind they belong to (None: both).
CONN_STRS = (
    ("ca_file", None), ("endpoint", "s3"), ("region", "s3"), ("access_key", "s3"),
    ("secret_key", "s3"), ("session_token", "s3"), ("auth_url", "swift"), ("user", "swift"),
    ("key", "swift"), ("token", "swift"), ("storage_url", "swift"),
)
SECRETS = ("secret_key", "session_token", "key", "token")

_PREFIX = bytes([0xa1, 0x76, VERSION, 0xa7]) + b"attempt" + bytes([0xce])


def b(s):
    """A str field as its wire bytes."""
    return s if isinstance(s, bytes) else s.encode("utf-8", "surrogateescape")


def s(raw):
    return raw.decode("utf-8", "surrogateescape")


@dataclasses.dataclass
class Task:
    """A task as `struct haul_task` holds it. conn is a dict of the `conn` map's
    entries (kind, tls_verify, path_style and the strings); its secrets never
    appear in repr()."""
    id: str = ""
    job: str = ""
    op: str = "sidecar"
    conn: dict = dataclasses.field(default_factory=dict, repr=False)
    bucket: Optional[str] = None
    max_inline: int = 0
    out_dir: Optional[str] = None
    suffixes: List[str] = dataclasses.field(default_factory=list)
    sidecar_ext: Optional[str] = None
    max_attempts: int = DEFAULT_ATTEMPTS
    src_dir: Optional[str] = None
    srcs: List[str] = dataclasses.field(default_factory=list)
    meta: List[str] = dataclasses.field(default_factory=list)
    segment_size: int = 0
    flags: int = 0
    sizes: List[Optional[int]] = dataclasses.field(default_factory=list)
    md5s: List[str] = dataclasses.field(default_factory=list)
    member_counts: List[int] = dataclasses.field(default_factory=list)
    members: List[str] = dataclasses.field(default_factory=list)
    first: int = 0
    keys: List[str] = dataclasses.field(default_factory=list)
    attempt: int = 0
    created: int = 0
    queue: Optional[str] = None
    expires: int = 0
    version: int = VERSION
    sealed: bool = dataclasses.field(default=False, repr=False)


# ---- msgpack, written by hand ------------------------------------------------

def _str(out, v):
    if v is None:
        out.append(b"\xc0")
        return
    raw = b(v)
    n = len(raw)
    if n < 32:
        out.append(bytes([0xa0 | n]))
    elif n < 256:
        out.append(b"\xd9" + bytes([n]))
    elif n < 65536:
        out.append(b"\xda" + struct.pack(">H", n))
    else:
        out.append(b"\xdb" + struct.pack(">I", n))
    out.append(raw)


def _bin(out, raw):
    n = len(raw)
    if n < 256:
        out.append(b"\xc4" + bytes([n]))
    elif n < 65536:
        out.append(b"\xc5" + struct.pack(">H", n))
    else:
        out.append(b"\xc6" + struct.pack(">I", n))
    out.append(bytes(raw))


def _uint(out, v):
    if v < 128:
        out.append(bytes([v]))
    elif v < 256:
        out.append(b"\xcc" + bytes([v]))
    elif v < 65536:
        out.append(b"\xcd" + struct.pack(">H", v))
    elif v < 1 << 32:
        out.append(b"\xce" + struct.pack(">I", v))
    else:
        out.append(b"\xcf" + struct.pack(">Q", v))


def _header(out, n, fix, b16, b32):
    if n < 16:
        out.append(bytes([fix | n]))
    elif n < 65536:
        out.append(bytes([b16]) + struct.pack(">H", n))
    else:
        out.append(bytes([b32]) + struct.pack(">I", n))


def _map(out, n):
    _header(out, n, 0x80, 0xde, 0xdf)


def _array(out, n):
    _header(out, n, 0x90, 0xdc, 0xdd)


def _strv(out, v):
    _array(out, len(v))
    for x in v:
        _str(out, x)


def _bool(out, v):
    out.append(b"\xc3" if v else b"\xc2")


def conn_bytes(conn):
    """The `conn` map's msgpack: kind, tls_verify, the kind's strings, then (S3)
    path_style. This is also the plaintext a sealed task carries."""
    kind = conn.get("kind")
    names = [n for n, k in CONN_STRS if k is None or k == kind]
    out = []
    _map(out, 2 + len(names) + (kind == "s3"))
    _str(out, "kind")
    _str(out, kind)
    _str(out, "tls_verify")
    _bool(out, conn.get("tls_verify", True))
    for n in names:
        _str(out, n)
        _str(out, conn.get(n))
    if kind == "s3":
        _str(out, "path_style")
        _bool(out, conn.get("path_style", True))
    return b"".join(out)


# ---- the checks the decoder makes, made before encoding ------------------------

def field_err(name, idx, msg):
    return TaskError("task field '%s'%s: %s" % (name, "[%d]" % idx if idx is not None and idx >= 0 else "", msg))


def _check_str(name, idx, v, limit, required):
    if v is None:
        if required:
            raise field_err(name, idx, "missing")
        return
    raw = b(v)
    if len(raw) > limit:
        raise field_err(name, idx, "%d bytes, limit %d" % (len(raw), limit))
    if required and not raw:
        raise field_err(name, idx, "empty")
    if b"\0" in raw:
        raise field_err(name, idx, "contains a NUL byte (at offset %d of the string)" % raw.index(b"\0"))


def conn_check(conn):
    """common/conn.c's haul_conn_check: None, or its sentence."""
    def set_(k):
        v = conn.get(k)
        return bool(v)

    def http(v):
        return v.startswith("http://") or v.startswith("https://")

    kind = conn.get("kind")
    if kind == "s3":
        for k, what, src in (("endpoint", "S3 endpoint", "--endpoint or AWS_ENDPOINT_URL"),
                             ("region", "S3 region", "--region or AWS_REGION"),
                             ("access_key", "S3 access key", "--access-key or AWS_ACCESS_KEY_ID"),
                             ("secret_key", "S3 secret key", "--secret-key or AWS_SECRET_ACCESS_KEY")):
            if not set_(k):
                return "%s missing: set %s" % (what, src)
        if not http(conn["endpoint"]):
            return "S3 endpoint must start with http:// or https://: check --endpoint or AWS_ENDPOINT_URL"
        return None
    if kind == "swift":
        cred = (("auth_url", "Swift auth URL", "--auth-url or ST_AUTH"), ("user", "Swift user", "--user or ST_USER"),
                ("key", "Swift key", "--key or ST_KEY"))
        tok = (("token", "Swift token", "--token or OS_AUTH_TOKEN"),
               ("storage_url", "Swift storage URL", "--storage-url or OS_STORAGE_URL"))
        if all(set_(k) for k, _, _ in tok):
            if not http(conn["storage_url"]):
                return ("Swift storage URL must start with http:// or https://: check --storage-url or "
                        "OS_STORAGE_URL")
            return None
        if all(set_(k) for k, _, _ in cred):
            if not http(conn["auth_url"]):
                return "Swift auth URL must start with http:// or https://: check --auth-url or ST_AUTH"
            return None
        for group in (tok, cred):
            if any(set_(k) for k, _, _ in group):
                for k, what, src in group:
                    if not set_(k):
                        return "%s missing: set %s" % (what, src)
        return ("Swift needs --auth-url/--user/--key (ST_AUTH, ST_USER, ST_KEY) or --token/--storage-url "
                "(OS_AUTH_TOKEN, OS_STORAGE_URL)")
    return ("no object store configured: set an S3 endpoint (--endpoint or AWS_ENDPOINT_URL) or a Swift "
            "auth URL (--auth-url or ST_AUTH)")


def bucket_check(name, virtual_host=False):
    """common/conn.c's haul_bucket_check: None, or its sentence."""
    raw = b(name) if name is not None else b""
    shown = "".join("\\x%02x" % c if c < 0x20 or c == 0x7f else chr(c) for c in raw[:70])
    if not raw:
        return "bucket name is empty"
    if len(raw) > 255:
        return "bucket name '%s...' is %d bytes long; the limit is 255" % (shown, len(raw))
    if raw in (b".", b".."):
        return "bucket name '%s' is not a name (it would change the request's path)" % shown
    for i, c in enumerate(raw):
        if c == 0x2f or c < 0x20 or c == 0x7f:
            return ("bucket name '%s' holds %s at byte %d: a bucket or container name cannot (a key's path "
                    "goes in --keys or --prefix)" % (shown, "'/'" if c == 0x2f else "a control character", i))
        if virtual_host and not (chr(c).isascii() and (chr(c).isalnum() or chr(c) in ".-_")):
            return ("bucket name '%s' holds '%s' at byte %d: with --virtual-host the bucket becomes part of "
                    "the host name, which may hold only letters, digits, '.', '-' and '_' (use path-style "
                    "addressing for this bucket)" % (shown, chr(c) if 0x21 <= c < 0x7f else "?", i))
    if virtual_host and (raw[:1] in (b".", b"-") or raw[-1:] in (b".", b"-")):
        return ("bucket name '%s' starts or ends with '.' or '-': with --virtual-host it is part of the host "
                "name, which cannot" % shown)
    return None


def _check_no_checksum(t):
    """common/task.c check_write_args(): NO_CHECKSUM only where bodies are hashed."""
    if t.flags & FLAG_NO_CHECKSUM and t.op not in ("get", "sidecar"):
        raise field_err("args.flags", None, "NO_CHECKSUM (16) on op '%s' (only get and sidecar hash bodies)" % t.op)


def _encode_check(t):
    _check_str("id", None, t.id, STR_MAX, True)
    _check_str("job", None, t.job, STR_MAX, True)
    if t.op not in OPS[1:]:
        raise field_err("op", None, "no operation set")
    e = conn_check(t.conn)
    if e:
        raise TaskError("task conn: " + e)
    for n, k in CONN_STRS:
        if k is None or k == t.conn.get("kind"):
            _check_str("conn." + n, None, t.conn.get(n), STR_MAX, False)
    _check_str("bucket", None, t.bucket, STR_MAX, t.op != "list-buckets")
    _check_str("args.out_dir", None, t.out_dir, STR_MAX, False)
    _check_str("args.sidecar_ext", None, t.sidecar_ext, STR_MAX, False)
    if t.max_attempts == 0:
        raise field_err("args.max_attempts", None, "0, must be at least 1 (1 means no retries)")
    if t.max_attempts > MAX_ATTEMPTS:
        raise field_err("args.max_attempts", None, "%d out of range, limit %d" % (t.max_attempts, MAX_ATTEMPTS))
    if t.max_inline > MAX_INLINE:
        raise field_err("args.max_inline", None, "%d out of range, limit %d" % (t.max_inline, MAX_INLINE))
    _check_str("queue", None, t.queue, STR_MAX, False)
    if t.bucket is not None and t.op != "list-buckets":
        e = bucket_check(t.bucket, t.conn.get("kind") == "s3" and not t.conn.get("path_style", True))
        if e:
            raise TaskError("task field 'bucket': " + e)
    if len(t.suffixes) > SUFFIX_MAX:
        raise field_err("args.suffixes", None, "%d entries, limit %d" % (len(t.suffixes), SUFFIX_MAX))
    for i, x in enumerate(t.suffixes):
        _check_str("args.suffixes", i, x, STR_MAX, False)
    if len(t.keys) > MAX_KEYS:
        raise field_err("keys", None, "%d entries, limit %d" % (len(t.keys), MAX_KEYS))
    for i, k in enumerate(t.keys):
        if k is None:
            raise field_err("keys", i, "missing")
        _check_str("keys", i, k, KEY_MAX, False)
    _check_str("args.src_dir", None, t.src_dir, STR_MAX, False)
    for i, x in enumerate(t.srcs):
        _check_str("args.srcs", i, x, STR_MAX, True)
    for i, x in enumerate(t.members):
        _check_str("args.members", i, x, STR_MAX, True)
    if t.flags & ~FLAGS:
        raise field_err("args.flags", None, "unknown bits 0x%x" % (t.flags & ~FLAGS))
    _check_no_checksum(t)
    if t.op == "put" and len(t.srcs) != len(t.keys):
        raise field_err("args.srcs", None, "%d entries for %d keys" % (len(t.srcs), len(t.keys)))
    if t.op != "put" and t.srcs:
        raise field_err("args.srcs", None, "only a put carries files")
    if len(t.sizes) != len(t.md5s):
        raise field_err("args.md5s", None, "%d entries for %d sizes" % (len(t.md5s), len(t.sizes)))


# ---- the associated data of a sealed task ---------------------------------------

def aad(t):
    """docs/protocol.md, "The associated data": every field outside `sealed`
    that steers a worker, each item followed by a 00 byte."""
    out = []

    def item(x):
        out.append(b(x) + b"\0")

    def opt(x):
        out.append((b"+" + b(x) if x is not None else b"-") + b"\0")

    def num(n):
        item(str(n))

    item("haul-task-aad-v2")
    item(t.id)
    item(t.job)
    item(t.op)
    opt(t.bucket)
    opt(t.out_dir)
    opt(t.sidecar_ext)
    num(len(t.suffixes))
    for x in t.suffixes:
        item(x)
    num(t.first)
    num(t.max_inline)
    num(t.max_attempts)
    num(len(t.keys))
    for k in t.keys:
        item(k)
    opt(t.queue)
    num(t.expires)
    if OPS.index(t.op) < OP_PUT:
        return b"".join(out)
    item("write-args")
    opt(t.src_dir)
    num(len(t.srcs))
    for x in t.srcs:
        item(x)
    num(len(t.meta))
    for x in t.meta:
        item(x)
    num(t.segment_size)
    num(t.flags)
    num(len(t.sizes))
    for size, md5 in zip(t.sizes, t.md5s):
        item(str(-1 if size is None else size))
        item(md5)
    num(len(t.member_counts))
    for n in t.member_counts:
        num(n)
    num(len(t.members))
    for x in t.members:
        item(x)
    return b"".join(out)


# ---- encoding ---------------------------------------------------------------------

def encode(t, key=None, nonce=None):
    """The task's bytes; with `key` (a SealKey or 32 bytes) the connection is
    sealed into `sealed`. `nonce` is for test vectors only."""
    _encode_check(t)
    if key is not None and (t.queue is None or not t.expires):
        raise TaskError("task: a sealed task needs 'queue' and 'expires' (they bind it to its queue and "
                        "its lifetime)")
    out = []
    _map(out, 11 + (t.queue is not None) + (t.expires != 0))
    out.append(_PREFIX[:-1])  # "v" 1 "attempt", then the uint32
    out.append(b"\xce" + struct.pack(">I", t.attempt))
    _str(out, "id")
    _str(out, t.id)
    _str(out, "job")
    _str(out, t.job)
    _str(out, "op")
    _str(out, t.op)
    if key is not None:
        sealed = _seal.seal(key, aad(t), conn_bytes(t.conn), nonce)
        if len(sealed) > SEALED_MAX:
            raise field_err("sealed", None, "%d bytes, limit %d" % (len(sealed), SEALED_MAX))
        _str(out, "sealed")
        _bin(out, sealed)
    else:
        _str(out, "conn")
        out.append(conn_bytes(t.conn))
    _str(out, "bucket")
    _str(out, t.bucket)
    _str(out, "args")
    nargs = (5 + (t.src_dir is not None) + bool(t.srcs) + bool(t.meta) + bool(t.segment_size) + bool(t.flags)
             + 2 * bool(t.sizes) + 2 * bool(t.member_counts))
    _map(out, nargs)
    if t.src_dir is not None:
        _str(out, "src_dir")
        _str(out, t.src_dir)
    if t.srcs:
        _str(out, "srcs")
        _strv(out, t.srcs)
    if t.meta:
        _str(out, "meta")
        _strv(out, t.meta)
    if t.segment_size:
        _str(out, "segment_size")
        _uint(out, t.segment_size)
    if t.flags:
        _str(out, "flags")
        _uint(out, t.flags)
    if t.sizes:
        _str(out, "sizes")
        _array(out, len(t.sizes))
        for x in t.sizes:
            if x is None or x < 0:
                out.append(b"\xc0")
            else:
                _uint(out, x)
        _str(out, "md5s")
        _strv(out, t.md5s)
    if t.member_counts:
        _str(out, "member_counts")
        _array(out, len(t.member_counts))
        for x in t.member_counts:
            _uint(out, x)
        _str(out, "members")
        _strv(out, t.members)
    _str(out, "max_inline")
    _uint(out, t.max_inline)
    _str(out, "out_dir")
    _str(out, t.out_dir)
    _str(out, "suffixes")
    _strv(out, t.suffixes)
    _str(out, "sidecar_ext")
    _str(out, t.sidecar_ext)
    _str(out, "max_attempts")
    _uint(out, t.max_attempts)
    _str(out, "first")
    _uint(out, t.first)
    _str(out, "keys")
    _strv(out, t.keys)
    _str(out, "created")
    _uint(out, t.created)
    if t.queue is not None:
        _str(out, "queue")
        _str(out, t.queue)
    if t.expires:
        _str(out, "expires")
        _uint(out, t.expires)
    data = b"".join(out)
    if len(data) > MAX_BYTES:
        raise TaskError("task: %d bytes encoded, limit %d: put fewer or shorter keys in each task"
                        % (len(data), MAX_BYTES))
    return data


def bump_attempt(data):
    """The reaper's rule (docs/protocol.md, "The delivery count at byte 13"):
    the bytes with attempt + 1, or None for a task that does not follow the
    rule or whose count is at 2^32 - 1."""
    if len(data) < 17 or not 0x82 <= data[0] <= 0x8f or data[1:13] != _PREFIX:
        return None
    n = struct.unpack(">I", data[13:17])[0]
    if n == 0xffffffff:
        return None
    return data[:13] + struct.pack(">I", n + 1) + data[17:]


# ---- decoding -----------------------------------------------------------------------

_TYPES = {bytes: "str", bool: "bool", int: "int", float: "float", dict: "map", list: "array",
          type(None): "nil"}


def _tname(v):
    return _TYPES.get(type(v), "ext")


def _depth(v, d=1):
    if isinstance(v, dict):
        if d > MAX_DEPTH:
            raise TaskError("task: nesting deeper than %d levels" % MAX_DEPTH)
        for k, x in v.items():
            _depth(k, d + 1)
            _depth(x, d + 1)
    elif isinstance(v, list):
        if d > MAX_DEPTH:
            raise TaskError("task: nesting deeper than %d levels" % MAX_DEPTH)
        for x in v:
            _depth(x, d + 1)


def _rstr(name, v, limit, nil_ok=False, idx=None):
    if v is None and nil_ok:
        return None
    if not isinstance(v, bytes):
        raise field_err(name, idx, "expected a string, got %s" % _tname(v))
    if len(v) > limit:
        raise field_err(name, idx, "%d bytes, limit %d" % (len(v), limit))
    if b"\0" in v:
        raise field_err(name, idx, "contains a NUL byte (at offset %d of the string)" % v.index(b"\0"))
    return s(v)


def _ruint(name, v, limit):
    if isinstance(v, bool) or not isinstance(v, int):
        raise field_err(name, None, "expected an unsigned integer, got %s" % _tname(v))
    if v < 0:
        raise field_err(name, None, "negative (%d), expected an unsigned integer" % v)
    if v > limit:
        raise field_err(name, None, "%d out of range, limit %d" % (v, limit))
    return v


def _rbool(name, v):
    if not isinstance(v, bool):
        raise field_err(name, None, "expected a bool, got %s" % _tname(v))
    return v


def _rstrv(name, v, max_entries, limit):
    if not isinstance(v, list):
        raise field_err(name, None, "expected an array, got %s" % _tname(v))
    if len(v) > max_entries:
        raise field_err(name, None, "%d entries, limit %d" % (len(v), max_entries))
    return [_rstr(name, x, limit, idx=i) for i, x in enumerate(v)]


def _pairs(raw, name):
    """A map's entries with their keys as str, refusing non-string keys and repeats."""
    seen = {}
    for k, v in raw:
        if not isinstance(k, bytes):
            raise TaskError("task: a key of %s is not a string" % name)
        k = s(k)
        if k in seen:
            raise field_err(("%s.%s" % (name, k)) if name != "the task map" else k, None, "appears twice")
        seen[k] = v
    return seen


def _decode_conn(m):
    if not isinstance(m, list):
        raise field_err("conn", None, "expected a map, got %s" % _tname(m))
    c = _pairs(m, "conn")
    conn = {}
    if "kind" not in c:
        raise field_err("conn.kind", None, "missing")
    kind = _rstr("conn.kind", c["kind"], STR_MAX)
    if kind not in ("s3", "swift"):
        raise field_err("conn.kind", None, "unknown store kind '%s' (this worker knows 's3' and 'swift')" % kind)
    conn["kind"] = kind
    conn["tls_verify"] = _rbool("conn.tls_verify", c["tls_verify"]) if "tls_verify" in c else True
    if kind == "s3":
        conn["path_style"] = _rbool("conn.path_style", c["path_style"]) if "path_style" in c else True
    for n, k in CONN_STRS:
        if n in c:
            v = _rstr("conn." + n, c[n], STR_MAX, nil_ok=True)
            if k is None or k == kind:
                conn[n] = v
    e = conn_check(conn)
    if e:
        raise TaskError("task conn: " + e)
    return conn


def decode(data, key=None):
    """A Task from its bytes, as the C decoder reads them (docs/protocol.md, "How
    a worker decodes a task"). With `key`, a sealed task is opened; a task in
    the clear is refused, as a worker with a key refuses it."""
    data = bytes(data)
    if not data:
        raise TaskError("task: empty")
    if len(data) > MAX_BYTES:
        raise TaskError("task: %d bytes, limit %d" % (len(data), MAX_BYTES))
    if not (0x80 <= data[0] <= 0x8f or data[0] in (0xde, 0xdf)):
        raise TaskError("task: not a msgpack map (first byte 0x%02x)" % data[0])
    try:
        raw = msgpack.unpackb(data, raw=True, strict_map_key=False, use_list=True,
                              object_pairs_hook=list, max_bin_len=MAX_BYTES, max_str_len=MAX_BYTES)
    except msgpack.ExtraData as e:
        raise TaskError("task: trailing bytes after the task map (%d bytes from byte %d of %d)"
                        % (len(e.extra), len(data) - len(e.extra), len(data))) from None
    except (ValueError, msgpack.UnpackException) as e:
        raise TaskError("task: %s" % e) from None
    _depth(raw)
    f = _pairs(raw, "the task map")
    if "v" not in f:
        raise field_err("v", None, "missing")
    v = f["v"]
    if isinstance(v, int) and not isinstance(v, bool) and v != VERSION and v > 0:
        raise TaskError("task version %d not supported by this worker (version %d)%s"
                        % (v, VERSION, ": upgrade the worker" if v > VERSION else ""))
    _ruint("v", v, VERSION)
    if v != VERSION:
        raise TaskError("task version %d not supported by this worker (version %d)" % (v, VERSION))
    t = Task()
    t.attempt = _ruint("attempt", f.get("attempt", 0), 0xffffffff)
    for name in ("id", "job"):
        if name not in f:
            raise field_err(name, None, "missing")
        val = _rstr(name, f[name], STR_MAX)
        if not val:
            raise field_err(name, None, "empty")
        setattr(t, name, val)
    if "op" not in f:
        raise field_err("op", None, "missing")
    op = _rstr("op", f["op"], STR_MAX)
    if op not in OPS[1:]:
        raise field_err("op", None, "unknown operation '%s'" % op)
    t.op = op
    t.bucket = _rstr("bucket", f.get("bucket"), STR_MAX, nil_ok=True)
    if t.op != "list-buckets" and not t.bucket:
        raise field_err("bucket", None, "missing (op '%s' needs a bucket)" % t.op)
    a = f.get("args", [])
    if not isinstance(a, list):
        raise field_err("args", None, "expected a map, got %s" % _tname(a))
    a = _pairs(a, "args")
    t.max_inline = _ruint("args.max_inline", a.get("max_inline", 0), MAX_INLINE)
    t.out_dir = _rstr("args.out_dir", a.get("out_dir"), STR_MAX, nil_ok=True)
    t.suffixes = _rstrv("args.suffixes", a.get("suffixes", []), SUFFIX_MAX, STR_MAX)
    t.sidecar_ext = _rstr("args.sidecar_ext", a.get("sidecar_ext"), STR_MAX, nil_ok=True)
    t.max_attempts = _ruint("args.max_attempts", a.get("max_attempts", DEFAULT_ATTEMPTS), 0xffffffff)
    if t.max_attempts == 0:
        raise field_err("args.max_attempts", None, "0, must be at least 1 (1 means no retries)")
    if t.max_attempts > MAX_ATTEMPTS:
        raise field_err("args.max_attempts", None, "%d out of range, limit %d" % (t.max_attempts, MAX_ATTEMPTS))
    t.src_dir = _rstr("args.src_dir", a.get("src_dir"), STR_MAX, nil_ok=True)
    t.srcs = _rstrv("args.srcs", a.get("srcs", []), MAX_KEYS, STR_MAX)
    t.meta = _rstrv("args.meta", a.get("meta", []), 128, STR_MAX)
    t.segment_size = _ruint("args.segment_size", a.get("segment_size", 0), (1 << 64) - 1)
    t.flags = _ruint("args.flags", a.get("flags", 0), 0xffffffff)
    if t.flags & ~FLAGS:
        raise field_err("args.flags", None, "unknown bits 0x%x" % (t.flags & ~FLAGS))
    _check_no_checksum(t)
    sizes = a.get("sizes", [])
    if not isinstance(sizes, list):
        raise field_err("args.sizes", None, "expected an array, got %s" % _tname(sizes))
    t.sizes = [None if x is None else _ruint("args.sizes", x, (1 << 63) - 1) for x in sizes]
    t.md5s = _rstrv("args.md5s", a.get("md5s", []), MAX_KEYS, 32)
    mc = a.get("member_counts", [])
    if not isinstance(mc, list):
        raise field_err("args.member_counts", None, "expected an array, got %s" % _tname(mc))
    t.member_counts = [_ruint("args.member_counts", x, 10000) for x in mc]
    t.members = _rstrv("args.members", a.get("members", []), MAX_KEYS, STR_MAX)
    t.first = _ruint("first", f.get("first", 0), (1 << 64) - 1)
    if "keys" not in f:
        raise field_err("keys", None, "missing")
    t.keys = _rstrv("keys", f["keys"], MAX_KEYS, KEY_MAX)
    t.created = _ruint("created", f.get("created", 0), (1 << 64) - 1)
    t.queue = _rstr("queue", f.get("queue"), STR_MAX, nil_ok=True)
    t.expires = _ruint("expires", f.get("expires", 0), (1 << 64) - 1)
    has_conn, has_sealed = "conn" in f, "sealed" in f
    if has_conn and has_sealed:
        raise TaskError("task has both 'conn' and 'sealed': refusing it (a sealed task carries its "
                        "connection state only in 'sealed')")
    if key is None:
        if has_sealed:
            raise TaskError("task is sealed: this worker has no key; set HAUL_KEY_FILE to the scheduler's key file")
        if not has_conn:
            raise field_err("conn", None, "missing")
        t.conn = _decode_conn(f["conn"])
    else:
        if not has_sealed:
            raise TaskError("task is not sealed but this worker has a key (HAUL_KEY_FILE): refusing it; a "
                            "task in the clear may be forged")
        sealed = f["sealed"]
        if not isinstance(sealed, bytes):
            raise field_err("sealed", None, "expected bin, got %s" % _tname(sealed))
        if len(sealed) > SEALED_MAX:
            raise field_err("sealed", None, "%d bytes, limit %d" % (len(sealed), SEALED_MAX))
        if t.queue is None or not t.expires:
            raise TaskError("task is sealed but has no 'queue' and 'expires' (sealed by an older "
                            "haul-scheduler?): refusing it; upgrade the scheduler")
        try:
            pt = _seal.unseal(key, aad(t), sealed)
        except HaulError:
            raise TaskError("task's sealed connection state failed authentication: wrong key "
                            "(HAUL_KEY_FILE), or the task was altered") from None
        try:
            conn = msgpack.unpackb(pt, raw=True, strict_map_key=False, object_pairs_hook=list)
        except (ValueError, msgpack.UnpackException):
            raise TaskError("task field 'sealed': its plaintext is not one msgpack map") from None
        t.conn = _decode_conn(conn)
        t.sealed = True
    return t


def conn_describe(conn):
    """common/conn.c's haul_conn_describe: safe to print (no key, secret or token);
    the job hash's `endpoint`."""
    def or_unset(v):
        return v if v else "(unset)"
    if conn.get("kind") == "s3":
        d = "s3 %s region %s%s" % (or_unset(conn.get("endpoint")), or_unset(conn.get("region")),
                                   "" if conn.get("path_style", True) else " virtual-hosted")
    elif conn.get("kind") == "swift":
        if conn.get("token") and conn.get("storage_url"):
            d = "swift %s (pre-issued token)" % conn["storage_url"]
        else:
            d = "swift %s user %s" % (or_unset(conn.get("auth_url")), or_unset(conn.get("user")))
    else:
        d = "none"
    if not conn.get("tls_verify", True):
        d += " tls-verify off"
    if conn.get("ca_file"):
        d += " ca-file %s" % conn["ca_file"]
    return d
