#!/usr/bin/python3
"""faultproxy.py -- a TEST TOOL: a fault-injecting HTTP/1.1 reverse proxy for haul's tests.

    THIS IS A TEST TOOL.  It deliberately breaks requests.  Never put it in front of a
    store anything but a test depends on.

It sits in front of the test harness' Swift proxy (tests/lib/servers.sh), which serves both
the Swift API and S3 (s3api) on one port, and forwards every request to it -- method, path,
headers (Host unchanged, so SigV4 signatures made for the proxy's address stay valid and
tempauth builds storage URLs that point back at the proxy), body -- except that a seeded
random draw picks some requests for a fault:

    --p503 P       answer 503 with a small body, without asking upstream
    --p429 P       answer 429 with a small body, without asking upstream
    --pcode C=P    answer status C (e.g. 500, 502, 504), without asking upstream (repeatable)
    --preset P     reset the client's connection before answering (SO_LINGER 0, close: RST)
    --ptruncate P  forward, answer the status line, the headers (with the full
                   Content-Length) and half of the body, then reset the connection
    --pstall P     sleep --stall-seconds (default 2.5), then forward and answer normally
    --pflip P      forward, and answer with one byte in the middle of the body flipped,
                   every header intact (a body corrupted on the way: its ETag no longer
                   matches; a GET whose status has no body is passed unchanged)

    --canned REGEX=CODE:FILE
                   a request whose target (path and query, as sent) matches REGEX is
                   answered CODE with FILE's bytes as its body, without asking upstream
                   (a hostile or broken answer; repeatable, the first match wins; any
                   method, whatever --fault-all says; counted as "canned")

At most one fault per request; the probabilities add up (at most 1).  By default only object
GET and HEAD requests can be faulted: Swift /v1/ACCOUNT/CONTAINER/OBJECT and S3 path-style
/BUCKET/KEY.  Never auth (/auth/...), /healthcheck, /info, account or container requests
(listings), nor any other method.  --fault-all makes every request a candidate; a request
whose target (path and query, as sent) matches a --never regex (re.search, repeatable) is
never faulted.

Client connections are HTTP/1.1 keep-alive (several requests per connection, until the
client sends Connection: close or closes); each client connection has its own persistent
upstream connection.  X-Storage-Url and X-Auth-Token-like headers are passed unchanged,
except that an X-Storage-Url naming the upstream's address (when tempauth was configured
with a fixed URL) is rewritten to the proxy's address (--no-rewrite-storage-url: never).

Output:
    --ready-file F   "PORT\\n" once listening (--listen 127.0.0.1:0 picks a free port)
    --log F          one line per fault (and start/stop lines), each starting
                     "faultproxy (TEST TOOL)"; with --log-all also one per forwarded
                     request ("pass=STATUS METHOD TARGET client=...")
    --counts F       JSON: requests, candidates, faults by kind, upstream statuses, ...;
                     written (atomically) every second, on SIGUSR1 (with "usr1" counting
                     them), and on SIGTERM/SIGINT/exit.

Python standard library only (threads + http.client).
"""
import argparse
import http.client
import json
import os
import random
import re
import signal
import socket
import struct
import sys
import threading
import time

TOOL = "faultproxy (TEST TOOL)"
HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
       "proxy-authorization", "te", "trailer", "trailers", "transfer-encoding", "upgrade"}
MAX_HEADER_BYTES = 64 << 10
MAX_HEADERS = 200


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.c = {"requests": 0, "candidates": 0, "faulted": 0, "never_matched": 0, "canned": 0,
                  "connections": 0, "upstream_errors": 0, "bad_requests": 0,
                  "faults": {}, "by_method": {}, "upstream_status": {},
                  "candidate_by_method": {}, "usr1": 0, "writes": 0}

    def inc(self, key, sub=None, n=1):
        with self.lock:
            if sub is None:
                self.c[key] += n
            else:
                d = self.c[key]
                d[sub] = d.get(sub, 0) + n

    def snapshot(self):
        with self.lock:
            return json.loads(json.dumps(self.c))


class Proxy:
    def __init__(self, a):
        self.a = a
        self.stats = Stats()
        self.rng = random.Random(a.seed)
        self.rng_lock = threading.Lock()
        self.log_lock = threading.Lock()
        self.never = [re.compile(r.encode("latin-1")) for r in a.never]
        uh, _, up = a.upstream.rpartition(":")
        self.up_host, self.up_port = uh, int(up)
        # Kinds in draw order, with their probabilities.
        self.kinds = [("503", a.p503), ("429", a.p429)]
        for spec in a.pcode:
            code, _, p = spec.partition("=")
            try:
                prob = float(p)
            except ValueError:
                prob = -1.0
            if not code.isdigit() or not 100 <= int(code) <= 599 or prob < 0:
                sys.exit("%s: --pcode %r: want CODE=P, e.g. 502=0.05" % (TOOL, spec))
            self.kinds.append((code, prob))
        self.kinds += [("reset", a.preset), ("truncate", a.ptruncate), ("stall", a.pstall), ("flip", a.pflip)]
        total = sum(p for _, p in self.kinds)
        if any(p < 0 for _, p in self.kinds) or total > 1.0 + 1e-9:
            sys.exit("%s: fault probabilities must be >= 0 and add up to at most 1 (got %g)"
                     % (TOOL, total))
        self.canned = []
        for spec in a.canned:
            rx, _, rest = spec.rpartition("=")
            code, _, path = rest.partition(":")
            if not rx or not code.isdigit() or not path:
                sys.exit("%s: --canned %r: want REGEX=CODE:FILE" % (TOOL, spec))
            with open(path, "rb") as f:
                self.canned.append((re.compile(rx.encode("latin-1")), int(code), f.read()))
        self.logf = open(a.log, "a", buffering=1, encoding="utf-8") if a.log else None
        self.lsock = None
        self.port = None
        self.stopping = False

    # ---- logging and counts -------------------------------------------------------------
    def log(self, msg):
        t = time.time()
        line = "%s %s.%03d %s\n" % (TOOL, time.strftime("%H:%M:%S", time.localtime(t)),
                                    int(t * 1000) % 1000, msg)
        with self.log_lock:
            if self.logf:
                self.logf.write(line)
            elif not self.a.quiet:
                sys.stderr.write(line)

    def write_counts(self):
        if not self.a.counts:
            return
        s = self.stats.snapshot()
        s["tool"] = "haul faultproxy.py: a TEST TOOL"
        s["seed"] = self.a.seed
        s["listen_port"] = self.port
        s["upstream"] = self.a.upstream
        s["probabilities"] = {k: p for k, p in self.kinds if p}
        s["faults_total"] = sum(s["faults"].values())
        s["time"] = time.time()
        with self.stats.lock:
            self.stats.c["writes"] += 1
        tmp = "%s.%d.tmp" % (self.a.counts, os.getpid())
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(s, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, self.a.counts)

    # ---- classification -----------------------------------------------------------------
    def candidate(self, method, target):
        """Whether the request may be faulted (before the --never check)."""
        if self.a.fault_all:
            return True
        if method not in ("GET", "HEAD"):
            return False
        path = target.split(b"?", 1)[0]
        if path.startswith(b"http://") or path.startswith(b"https://"):
            path = b"/" + path.split(b"/", 3)[3] if path.count(b"/") >= 3 else b"/"
        parts = path.split(b"/")
        if path.startswith(b"/auth/") or path in (b"/auth", b"/healthcheck", b"/info"):
            return False
        if path.startswith(b"/v1/"):            # Swift: '', v1, ACCOUNT, CONTAINER, OBJECT...
            return len(parts) >= 5 and parts[3] != b"" and b"/".join(parts[4:]) != b""
        return len(parts) >= 3 and parts[1] != b"" and b"/".join(parts[2:]) != b""   # S3

    def draw(self):
        with self.rng_lock:
            u = self.rng.random()
        acc = 0.0
        for kind, p in self.kinds:
            acc += p
            if u < acc:
                return kind
        return None

    # ---- serving ------------------------------------------------------------------------
    def serve(self):
        host, _, port = self.a.listen.rpartition(":")
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind((host or "127.0.0.1", int(port)))
        self.lsock.listen(256)
        self.port = self.lsock.getsockname()[1]
        self.log("listening on %s:%d, forwarding to %s, seed %d, faults %s" % (
            host, self.port, self.a.upstream, self.a.seed,
            ", ".join("%s=%g" % (k, p) for k, p in self.kinds if p) or "none"))
        self.write_counts()
        if self.a.ready_file:
            tmp = self.a.ready_file + ".tmp"
            with open(tmp, "w") as f:
                f.write("%d\n" % self.port)
            os.replace(tmp, self.a.ready_file)
        threading.Thread(target=self.accept_loop, daemon=True).start()

    def accept_loop(self):
        while True:
            try:
                c, addr = self.lsock.accept()
            except OSError:
                if self.stopping:
                    return
                time.sleep(0.01)
                continue
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.stats.inc("connections")
            threading.Thread(target=self.handle_conn, args=(c, addr), daemon=True).start()

    def handle_conn(self, c, addr):
        client = "%s:%d" % addr
        rf = c.makefile("rb", buffering=65536)
        up = None
        try:
            while True:
                try:
                    req = read_request(rf)
                except ValueError:          # a malformed length or chunk size
                    req = "bad"
                if req is None:
                    return
                if req == "bad":
                    self.stats.inc("bad_requests")
                    send(c, simple_response(400, "bad request\n", close=True))
                    return
                method, target, version, headers, body = req
                keep = wants_keepalive(version, headers)
                up, keep_going = self.one(c, client, method, target, headers, body, keep, up)
                if not keep_going:
                    return
        except (OSError, http.client.HTTPException):
            return
        finally:
            if up is not None:
                up.close()
            try:
                rf.close()
                c.close()
            except OSError:
                pass

    def one(self, c, client, method, target, headers, body, keep, up):
        """Serve one request. Returns (upstream connection, whether to read another)."""
        m = method.decode("latin-1")
        self.stats.inc("requests")
        self.stats.inc("by_method", m)
        fault = None
        for rx, code, cbody in self.canned:
            if rx.search(target):
                self.stats.inc("canned")
                self.log("canned=%d %s %s client=%s" % (code, m, target.decode("latin-1"), client))
                reason = http.client.responses.get(code, "Canned")
                h = ["HTTP/1.1 %d %s" % (code, reason), "Content-Length: %d" % len(cbody),
                     "X-Fault-Proxy: %s" % TOOL, "Connection: %s" % ("keep-alive" if keep else "close")]
                send(c, ("\r\n".join(h) + "\r\n\r\n").encode("latin-1") + (b"" if m == "HEAD" else cbody))
                return up, keep
        if self.candidate(m, target):
            if any(r.search(target) for r in self.never):
                self.stats.inc("never_matched")
            else:
                self.stats.inc("candidates")
                self.stats.inc("candidate_by_method", m)
                fault = self.draw()
        what = "%s %s client=%s" % (m, target.decode("latin-1"), client)
        if fault:
            self.stats.inc("faulted")
            self.stats.inc("faults", fault)
            self.log("fault=%s %s" % (fault, what))
        if fault == "reset":
            reset(c)
            return up, False
        if fault and fault.isdigit():
            code = int(fault)
            send(c, simple_response(code, "%s: injected %d for %s\n" % (TOOL, code, m),
                                    close=not keep, head=(m == "HEAD"),
                                    extra=[("Retry-After", str(self.a.retry_after))]
                                    if self.a.retry_after is not None and code in (429, 503) else []))
            return up, keep
        if fault == "stall":
            time.sleep(self.a.stall_seconds)
        # Forward.
        status = reason = rheaders = rbody = None
        for attempt in (1, 2):
            try:
                if up is None:
                    up = Upstream(self.up_host, self.up_port, timeout=self.a.upstream_timeout)
                up.putrequest(m, target.decode("latin-1"), skip_host=True,
                              skip_accept_encoding=True)
                for k, v in headers:
                    if k.lower() in HOP or k.lower() == b"content-length":
                        continue
                    up.putheader(k.decode("latin-1"), v)
                if body or m not in ("GET", "HEAD", "DELETE", "OPTIONS"):
                    up.putheader("Content-Length", str(len(body)))
                up.endheaders(body if body else None)
                r = up.getresponse()
                rbody = r.read()
                status, reason, rheaders = r.status, r.reason, r.msg.items()
                if r.will_close:
                    up.close()
                    up = None
                break
            except (OSError, http.client.HTTPException) as e:
                if up is not None:
                    up.close()
                    up = None
                # A kept-alive upstream connection may have been closed by the server:
                # idempotent requests are tried once more on a new connection.
                if attempt == 2 or method not in (b"GET", b"HEAD"):
                    self.stats.inc("upstream_errors")
                    self.log("upstream error (%s: %s) for %s; answering 502" % (
                        type(e).__name__, e, what))
                    send(c, simple_response(502, "%s: upstream error\n" % TOOL, close=True))
                    return None, False
        self.stats.inc("upstream_status", str(status))
        if self.a.log_all:
            self.log("pass=%d %s" % (status, what))
        out = ["HTTP/1.1 %d %s\r\n" % (status, reason)]
        for k, v in rheaders:
            lk = k.lower()
            if lk in HOP or lk == "content-length":
                continue
            if lk == "x-storage-url" and self.a.rewrite_storage_url:
                v = self.rewrite_url(v)
            out.append("%s: %s\r\n" % (k, v))
        if m == "HEAD" or status in (204, 304) or 100 <= status < 200:
            cl = dict((k.lower(), v) for k, v in rheaders).get("content-length")
            if cl is not None and m == "HEAD":
                out.append("Content-Length: %s\r\n" % cl)
            payload = b""
        else:
            out.append("Content-Length: %d\r\n" % len(rbody))
            payload = rbody
        out.append("Connection: %s\r\n\r\n" % ("keep-alive" if keep else "close"))
        head = "".join(out).encode("latin-1")
        if fault == "flip" and payload:
            b = bytearray(payload)
            b[len(b) // 2] ^= 0xff
            payload = bytes(b)
        if fault == "truncate" and payload:
            send(c, head + payload[:len(payload) // 2])
            reset(c)
            return up, False
        send(c, head + payload)
        return up, keep

    def rewrite_url(self, v):
        for h in (self.up_host, "localhost" if self.up_host == "127.0.0.1" else self.up_host):
            old = "://%s:%d" % (h, self.up_port)
            if old in v:
                self.log("rewrote X-Storage-Url %s" % v)
                return v.replace(old, "://%s:%d" % (self.lsock.getsockname()[0], self.port), 1)
        return v


# ---- HTTP/1.1 plumbing -------------------------------------------------------------------
class Upstream(http.client.HTTPConnection):
    """http.client, but the request line goes out byte for byte (latin-1), not ASCII only."""
    def _encode_request(self, request):
        return request.encode("latin-1")

    def _validate_path(self, url):
        pass


def read_request(rf):
    """One request from the client: (method, target, version, [(name, value)], body), None at
    a clean end of the connection, or "bad"."""
    line = rf.readline(MAX_HEADER_BYTES)
    while line in (b"\r\n", b"\n"):          # tolerate stray CRLF between requests
        line = rf.readline(MAX_HEADER_BYTES)
    if not line:
        return None
    parts = line.rstrip(b"\r\n").split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return "bad"
    method, target, version = parts
    headers = []
    size = len(line)
    while True:
        h = rf.readline(MAX_HEADER_BYTES)
        size += len(h)
        if not h:
            return None
        if h in (b"\r\n", b"\n"):
            break
        if size > MAX_HEADER_BYTES or len(headers) >= MAX_HEADERS or b":" not in h:
            return "bad"
        k, _, v = h.partition(b":")
        headers.append((k.strip(), v.strip()))
    hd = {k.lower(): v for k, v in headers}
    body = b""
    if b"chunked" in hd.get(b"transfer-encoding", b"").lower():
        chunks = []
        while True:
            szline = rf.readline(1024)
            if not szline:
                return None
            n = int(szline.split(b";")[0].strip() or b"0", 16)
            if n == 0:
                while rf.readline(MAX_HEADER_BYTES) not in (b"\r\n", b"\n", b""):
                    pass
                break
            chunks.append(rf.read(n))
            rf.readline(8)
        body = b"".join(chunks)
    elif b"content-length" in hd:
        n = int(hd[b"content-length"])
        if hd.get(b"expect", b"").lower() == b"100-continue":
            return "bad" if n < 0 else (method, target, version, headers, _read_after_continue(rf, n))
        body = rf.read(n)
        if len(body) != n:
            return None
    return method, target, version, headers, body


def _read_after_continue(rf, n):
    # The client waits (briefly) for "100 Continue"; curl sends the body anyway after 1 s.
    sock = rf.raw._sock if hasattr(rf.raw, "_sock") else None
    if sock is not None:
        send(sock, b"HTTP/1.1 100 Continue\r\n\r\n")
    return rf.read(n)


def wants_keepalive(version, headers):
    conn = b",".join(v for k, v in headers if k.lower() == b"connection").lower()
    if version == b"HTTP/1.0":
        return b"keep-alive" in conn
    return b"close" not in conn


def simple_response(code, text, close=False, head=False, extra=()):
    body = text.encode("utf-8")
    reason = http.client.responses.get(code, "Fault")
    h = ["HTTP/1.1 %d %s" % (code, reason), "Content-Type: text/plain; charset=utf-8",
         "Content-Length: %d" % len(body), "X-Fault-Proxy: %s" % TOOL,
         "Connection: %s" % ("close" if close else "keep-alive")]
    h += ["%s: %s" % kv for kv in extra]
    return ("\r\n".join(h) + "\r\n\r\n").encode("latin-1") + (b"" if head else body)


def send(sock, data):
    sock.sendall(data)


def reset(sock):
    """Close with an RST instead of a FIN: SO_LINGER on, timeout 0."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


def main():
    ap = argparse.ArgumentParser(
        description="faultproxy.py -- a TEST TOOL: fault-injecting HTTP/1.1 reverse proxy "
                    "for haul's integration tests.")
    ap.add_argument("--upstream", required=True, help="HOST:PORT of the real server")
    ap.add_argument("--listen", default="127.0.0.1:0", help="HOST:PORT (port 0: a free one)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--p503", type=float, default=0.0)
    ap.add_argument("--p429", type=float, default=0.0)
    ap.add_argument("--pcode", action="append", default=[], metavar="CODE=P")
    ap.add_argument("--preset", type=float, default=0.0)
    ap.add_argument("--ptruncate", type=float, default=0.0)
    ap.add_argument("--pstall", type=float, default=0.0)
    ap.add_argument("--pflip", type=float, default=0.0)
    ap.add_argument("--stall-seconds", type=float, default=2.5)
    ap.add_argument("--retry-after", type=int, default=None,
                    help="add Retry-After: N to injected 429 and 503 answers")
    ap.add_argument("--never", action="append", default=[], metavar="REGEX")
    ap.add_argument("--canned", action="append", default=[], metavar="REGEX=CODE:FILE")
    ap.add_argument("--fault-all", action="store_true",
                    help="any request may be faulted, not only object GET/HEAD")
    ap.add_argument("--no-rewrite-storage-url", dest="rewrite_storage_url",
                    action="store_false")
    ap.add_argument("--upstream-timeout", type=float, default=60.0)
    ap.add_argument("--ready-file")
    ap.add_argument("--log")
    ap.add_argument("--counts")
    ap.add_argument("--log-all", action="store_true",
                    help="also log every forwarded request (pass=STATUS ...)")
    ap.add_argument("--quiet", action="store_true", help="no log lines on stderr without --log")
    a = ap.parse_args()

    p = Proxy(a)
    done = threading.Event()

    def on_term(sig, frame):
        done.set()

    def on_usr1(sig, frame):
        with p.stats.lock:
            p.stats.c["usr1"] += 1
        p.write_counts()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    signal.signal(signal.SIGUSR1, on_usr1)
    try:
        p.serve()
    except OSError as e:
        sys.exit("%s: cannot listen on %s: %s" % (TOOL, a.listen, e))
    try:
        while not done.wait(1.0):
            p.write_counts()
    finally:
        p.stopping = True
        try:
            p.lsock.close()
        except OSError:
            pass
        p.write_counts()
        s = p.stats.snapshot()
        p.log("stopping: %d requests, %d candidates, faults %s" % (
            s["requests"], s["candidates"], json.dumps(s["faults"], sort_keys=True)))


if __name__ == "__main__":
    main()
