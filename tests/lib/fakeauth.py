#!/usr/bin/python3
"""fakeauth.py -- a FAKE Swift auth v1.0 server, for haul's tests only.

    THIS IS A FAKE SERVER.  It is not Swift and does not check anyone's credentials.  It
    exists only to give a worker auth answers that a real Swift (tempauth, as started by
    tests/lib/servers.sh) cannot be made to give: a storage URL of any scheme (gopher://,
    dict://, file://, ftp://, ... -- tempauth only builds http(s) URLs pointing at itself), an
    answer that comes only after N seconds, or never, or a bare status without a token.
    Everything else in the tests goes to the real Swift; use this only to inject what it
    cannot produce.

It listens on 127.0.0.1 only (--port N, default 0: a free port) and prints "port=N" as the
first line on stdout, flushed, once it accepts connections.  Each connection is served by its
own thread, with HTTP/1.1 keep-alive (until the client sends Connection: close or closes;
HTTP/1.0 only with Connection: keep-alive).

Auth requests: GET /auth/v1.0, /auth/1.0 or /auth (any query string ignored), carrying
X-Auth-User and X-Auth-Key (or tempauth's older X-Storage-User and X-Storage-Pass).  Any
user and key are accepted; without them the answer is 401.  With them, the answer depends on
--mode:

    ok                    (the default) answer at once: 200 with X-Auth-Token: TOKEN,
                          X-Storage-Token: TOKEN, X-Storage-Url: --storage-url,
                          X-Auth-Token-Expires: 3600
    storage-url=URL       the same, but X-Storage-Url: URL -- any string but CR/LF, e.g.
                          gopher://127.0.0.1:6379/_SET%20pwned%201, file:///etc/passwd,
                          dict://127.0.0.1:6379/SET:pwned:1, ftp://127.0.0.1:21/x
    slow=SECONDS[,then=URL]
                          wait SECONDS (only that connection's thread waits: other
                          connections are served meanwhile), then answer as ok, with
                          X-Storage-Url: URL when given, else --storage-url.  With
                          --token set to a real Swift token and --storage-url (or then=) set
                          to the real Swift's http://127.0.0.1:PORT/v1/AUTH_test, the client's
                          requests then go to the real store
    stall                 read the request and never answer; the connection is closed
                          when the client closes it (or when the server stops).  Other
                          connections, and other paths, are still served
    status=N              answer status N (200..599) with a short text body and no token
                          (status=200: a 200 without X-Auth-Token / X-Storage-Url)

Other auth-path methods get 405; any other path gets 404 (neither is counted).

Options:
    --port N              port on 127.0.0.1 (0: a free one; "port=N" is printed either way)
    --mode MODE           as above (default ok)
    --token T             the token answered (default AUTH_tkfake0123456789)
    --storage-url URL     the storage URL of ok and slow without then=
                          (default http://127.0.0.1:1/v1/AUTH_fake: nothing listens there)
    --count-file FILE     holds the number of auth requests (GETs of an auth path, those
                          answered 401 included) received so far ("N\\n", written
                          atomically: 0 at start, then after each one is read and before it
                          is answered -- so a stalled or slow one counts at once)
    --log FILE            append the log there instead of to stderr
    --quiet               no log at all without --log

The log has a line for the start, each connection, each request (the request line, then
each header on its own indented line; X-Auth-Key, X-Storage-Pass and Authorization values
are shown as ***; bytes outside printable ASCII are shown as \\xNN), each answer and the
stop.  Every line starts "fakeauth (FAKE)".

SIGTERM or SIGINT: closes the listener and exits 0 at once, even with connections open
(slow or stalled ones included).  Exit status 2 on bad arguments, 1 if it cannot listen.

Python standard library only.
"""
import argparse
import http.client
import os
import signal
import socket
import sys
import threading
import time

TOOL = "fakeauth (FAKE)"
AUTH_PATHS = ("/auth/v1.0", "/auth/1.0", "/auth")
SECRET_HEADERS = ("x-auth-key", "x-storage-pass", "authorization")
MAX_HEADER_BYTES = 64 << 10
MAX_HEADERS = 200
MAX_BODY = 1 << 20


def parse_mode(spec, storage_url):
    """--mode SPEC -> (kind, seconds, url, status); raises ValueError with a message."""
    if spec == "ok":
        return ("ok", 0.0, storage_url, None)
    if spec == "stall":
        return ("stall", None, None, None)
    if spec.startswith("storage-url="):
        return ("ok", 0.0, spec[len("storage-url="):], None)
    if spec.startswith("slow="):
        secs, sep, rest = spec[len("slow="):].partition(",")
        url = storage_url
        if sep:
            if not rest.startswith("then="):
                raise ValueError("--mode %r: after SECONDS only ,then=URL" % spec)
            url = rest[len("then="):]
        try:
            s = float(secs)
        except ValueError:
            s = -1.0
        if not s >= 0 or s == float("inf"):
            raise ValueError("--mode %r: SECONDS must be a number >= 0" % spec)
        return ("ok", s, url, None)
    if spec.startswith("status="):
        n = spec[len("status="):]
        if not n.isdigit() or not 200 <= int(n) <= 599:
            raise ValueError("--mode %r: N must be an HTTP status 200..599" % spec)
        return ("status", None, None, int(n))
    raise ValueError("--mode %r: want ok, storage-url=URL, slow=SECONDS[,then=URL], stall "
                     "or status=N" % spec)


def printable(b):
    """Bytes as one log-safe line: printable ASCII as is, anything else \\xNN."""
    return "".join(chr(c) if 0x20 <= c < 0x7f and c != 0x5c else "\\x%02x" % c for c in b)


class FakeAuth:
    def __init__(self, a, mode):
        self.a = a
        self.kind, self.delay, self.url, self.status = mode
        self.stop = threading.Event()
        self.log_lock = threading.Lock()
        self.count_lock = threading.Lock()
        self.count = 0
        self.conns = 0
        self.logf = open(a.log, "a", buffering=1, encoding="utf-8") if a.log else None
        self.lsock = None

    # ---- log and count ------------------------------------------------------------------
    def log(self, *lines):
        if not self.logf and self.a.quiet:
            return
        t = time.time()
        stamp = "%s %s.%03d " % (TOOL, time.strftime("%H:%M:%S", time.localtime(t)),
                                 int(t * 1000) % 1000)
        text = "".join(stamp + ln + "\n" for ln in lines)
        with self.log_lock:
            try:
                (self.logf or sys.stderr).write(text)
                (self.logf or sys.stderr).flush()
            except (OSError, ValueError):
                pass

    def write_count(self, n):
        if not self.a.count_file:
            return
        tmp = "%s.%d.%d.tmp" % (self.a.count_file, os.getpid(), threading.get_ident())
        with open(tmp, "w", encoding="ascii") as f:
            f.write("%d\n" % n)
        os.replace(tmp, self.a.count_file)

    def counted(self):
        with self.count_lock:
            self.count += 1
            n = self.count
            self.write_count(n)      # under the lock: the file never goes backwards
        return n

    # ---- serving ------------------------------------------------------------------------
    def listen(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", self.a.port))
        self.lsock.listen(128)
        port = self.lsock.getsockname()[1]
        with self.count_lock:
            self.write_count(0)
        self.log("listening on 127.0.0.1:%d, mode %s, token %s, storage url %s"
                 % (port, self.a.mode, self.a.token, self.url if self.url is not None else "-"))
        threading.Thread(target=self.accept_loop, daemon=True).start()
        return port

    def accept_loop(self):
        while not self.stop.is_set():
            try:
                c, addr = self.lsock.accept()
            except OSError:
                if self.stop.is_set():
                    return
                time.sleep(0.01)
                continue
            self.conns += 1
            threading.Thread(target=self.handle_conn, args=(c, addr, self.conns),
                             daemon=True).start()

    def handle_conn(self, c, addr, cid):
        who = "conn=%d client=%s:%d" % (cid, addr[0], addr[1])
        self.log("%s: connected" % who)
        rf = c.makefile("rb", buffering=65536)
        why = None
        try:
            while not self.stop.is_set():
                req = read_request(rf)
                if req is None:
                    why = "client closed"
                    break
                if isinstance(req, str):
                    self.log("%s: bad request (%s): 400" % (who, req))
                    c.sendall(response(400, "fakeauth: bad request: %s\n" % req, close=True))
                    why = "bad request"
                    break
                why = self.one(c, who, req)
                if why:
                    break
            else:
                why = "server stopping"
        except OSError as e:
            why = "%s: %s" % (type(e).__name__, e)
        finally:
            try:
                rf.close()
                c.close()
            except OSError:
                pass
            self.log("%s: closed (%s)" % (who, why))

    def one(self, c, who, req):
        """Answer one request: None to read the next one on this connection, else why it is
        to be closed."""
        method, target, version, headers = req
        lines = ["%s: %s" % (who, printable(b" ".join((method, target, version))))]
        for k, v in headers:
            shown = b"***" if k.lower().decode("latin-1") in SECRET_HEADERS else v
            lines.append("    %s: %s" % (printable(k), printable(shown)))
        self.log(*lines)
        keep = wants_keepalive(version, headers)
        path = target.split(b"?", 1)[0].decode("latin-1")
        if path not in AUTH_PATHS:
            return self.answer(c, who, keep, 404, "fakeauth: not found: only GET %s\n"
                               % ", ".join(AUTH_PATHS))
        if method != b"GET":
            return self.answer(c, who, keep, 405, "fakeauth: only GET here\n",
                               [("Allow", "GET")])
        n = self.counted()
        hd = {k.lower(): v for k, v in headers}
        user = hd.get(b"x-auth-user", hd.get(b"x-storage-user"))
        key = hd.get(b"x-auth-key", hd.get(b"x-storage-pass"))
        if not user or not key:
            return self.answer(c, who, keep, 401, "fakeauth: X-Auth-User and X-Auth-Key "
                               "required\n", note="auth request #%d" % n)
        if self.kind == "stall":
            self.log("%s: auth request #%d: stalling (no answer, ever)" % (who, n))
            return self.stall(c)
        if self.kind == "status":
            return self.answer(c, who, keep, self.status, "fakeauth: injected status %d\n"
                               % self.status, note="auth request #%d, no token" % n)
        if self.delay:
            self.log("%s: auth request #%d: waiting %g s" % (who, n, self.delay))
            if self.stop.wait(self.delay):
                return "server stopping"
        return self.answer(c, who, keep, 200, "", [
            ("X-Auth-Token", self.a.token), ("X-Storage-Token", self.a.token),
            ("X-Storage-Url", self.url), ("X-Auth-Token-Expires", "3600")],
            note="auth request #%d, X-Storage-Url: %s" % (n, self.url))

    def answer(self, c, who, keep, code, text, extra=(), note=None):
        self.log("%s: answered %d%s" % (who, code, " (%s)" % note if note else ""))
        c.sendall(response(code, text, close=not keep, extra=extra))
        return None if keep else "closed after the answer (Connection: close)"

    def stall(self, c):
        """Never answer: wait until the client closes (anything more it sends is ignored);
        returns why the connection ends."""
        c.settimeout(0.5)
        while not self.stop.is_set():
            try:
                if not c.recv(65536):
                    return "client closed, stalled"
            except socket.timeout:
                continue
            except OSError as e:
                return "stalled, %s: %s" % (type(e).__name__, e)
        return "server stopping, stalled"


# ---- HTTP/1.1 plumbing -------------------------------------------------------------------
def read_request(rf):
    """(method, target, version, [(name, value)]) with any body read and dropped; None at
    the end of the connection; a str saying what is wrong with a malformed request."""
    line = rf.readline(MAX_HEADER_BYTES)
    while line in (b"\r\n", b"\n"):
        line = rf.readline(MAX_HEADER_BYTES)
    if not line:
        return None
    parts = line.rstrip(b"\r\n").split(b" ")
    if len(parts) != 3 or not parts[2].startswith(b"HTTP/1."):
        return "request line %s" % printable(line[:200])
    headers, size = [], len(line)
    while True:
        h = rf.readline(MAX_HEADER_BYTES)
        size += len(h)
        if not h:
            return None
        if h in (b"\r\n", b"\n"):
            break
        if size > MAX_HEADER_BYTES or len(headers) >= MAX_HEADERS or b":" not in h:
            return "headers too long or malformed"
        k, _, v = h.partition(b":")
        headers.append((k.strip(), v.strip()))
    hd = {k.lower(): v for k, v in headers}
    if b"transfer-encoding" in hd:
        return "Transfer-Encoding is not supported"
    if b"content-length" in hd:
        try:
            n = int(hd[b"content-length"])
        except ValueError:
            return "Content-Length"
        if not 0 <= n <= MAX_BODY:
            return "Content-Length out of range"
        if len(rf.read(n)) != n:
            return None
    return parts[0], parts[1], parts[2], headers


def wants_keepalive(version, headers):
    conn = b",".join(v for k, v in headers if k.lower() == b"connection").lower()
    if version == b"HTTP/1.0":
        return b"keep-alive" in conn
    return b"close" not in conn


def response(code, text, close=False, extra=()):
    body = text.encode("utf-8")
    h = ["HTTP/1.1 %d %s" % (code, http.client.responses.get(code, "Fake")),
         "Content-Type: text/plain; charset=utf-8", "Content-Length: %d" % len(body),
         "X-Fake-Server: %s" % TOOL, "Connection: %s" % ("close" if close else "keep-alive")]
    h += ["%s: %s" % kv for kv in extra]
    return ("\r\n".join(h) + "\r\n\r\n").encode("latin-1", "backslashreplace") + body


def main():
    ap = argparse.ArgumentParser(
        prog="fakeauth.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter, add_help=True,
        usage="%(prog)s [--port N] [--mode MODE] [--token T] [--storage-url URL] "
              "[--count-file FILE] [--log FILE] [--quiet]")
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--mode", default="ok", help=argparse.SUPPRESS)
    ap.add_argument("--token", default="AUTH_tkfake0123456789", help=argparse.SUPPRESS)
    ap.add_argument("--storage-url", default="http://127.0.0.1:1/v1/AUTH_fake",
                    help=argparse.SUPPRESS)
    ap.add_argument("--count-file", help=argparse.SUPPRESS)
    ap.add_argument("--log", help=argparse.SUPPRESS)
    ap.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if not 0 <= a.port <= 65535:
        ap.error("--port %d: want 0..65535" % a.port)
    try:
        mode = parse_mode(a.mode, a.storage_url)
    except ValueError as e:
        ap.error(str(e))
    for name, v in (("--token", a.token), ("--storage-url", a.storage_url),
                    ("--mode", mode[2] or "")):
        if "\r" in v or "\n" in v:
            ap.error("%s: no CR or LF" % name)

    srv = FakeAuth(a, mode)

    def on_term(sig, frame):
        srv.stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        port = srv.listen()
    except OSError as e:
        sys.stderr.write("%s: cannot listen on 127.0.0.1:%d: %s\n" % (TOOL, a.port, e))
        sys.exit(1)
    sys.stdout.write("port=%d\n" % port)
    sys.stdout.flush()
    while not srv.stop.wait(0.5):
        pass
    try:
        srv.lsock.close()
    except OSError:
        pass
    srv.log("stopping: %d auth requests, %d connections" % (srv.count, srv.conns))
    sys.exit(0)


if __name__ == "__main__":
    main()
