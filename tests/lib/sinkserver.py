#!/usr/bin/python3
"""sinkserver.py -- a FAKE TCP server that records what clients send, for haul's tests only.

    THIS IS A FAKE SERVER.  It speaks no protocol: it accepts TCP connections, writes every
    byte it receives to a file and never answers.  It exists because a real server cannot
    prove a negative: to show that a hostile storage URL (gopher://127.0.0.1:PORT/_...,
    dict://127.0.0.1:PORT/..., ftp://..., given to a worker by tests/lib/fakeauth.py) made
    the worker send nothing, a test points that URL at this sink and checks that the file
    stayed empty and no connection came -- in addition to checking a real Redis for the
    key the URL tried to set.

It listens on 127.0.0.1 only (--port N, default 0: a free port) and prints "port=N" as the
first line on stdout, flushed, once it accepts connections.  Each connection has its own
thread.

Options:
    --port N            port on 127.0.0.1 (0: a free one; "port=N" is printed either way)
    --out FILE          (required) every byte received from any client is appended there,
                        flushed as it arrives (connections' bytes may interleave); the file
                        is created (empty) at start if missing, never truncated
    --conn-file FILE    holds the number of connections accepted so far ("N\\n", written
                        atomically: 0 at start, then at each accept)
    --idle-close S      close a connection after S seconds without receiving anything
                        (default 0: keep it open until the client closes it)
    --log FILE          append the log there instead of to stderr: one line per
                        connection, per chunk received (its size and its first 200 bytes,
                        bytes outside printable ASCII as \\xNN) and per close; every line
                        starts "sinkserver (FAKE)"
    --quiet             no log at all without --log

Nothing is ever sent to a client.  SIGTERM or SIGINT: closes the listener and exits 0 at
once, even with connections open.  Exit status 2 on bad arguments, 1 if it cannot listen or
open --out.

Python standard library only.
"""
import argparse
import os
import signal
import socket
import sys
import threading
import time

TOOL = "sinkserver (FAKE)"


def printable(b):
    return "".join(chr(c) if 0x20 <= c < 0x7f and c != 0x5c else "\\x%02x" % c for c in b)


class Sink:
    def __init__(self, a):
        self.a = a
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.conns = 0
        self.total = 0
        self.out = open(a.out, "ab", buffering=0)
        self.logf = open(a.log, "a", buffering=1, encoding="utf-8") if a.log else None
        self.lsock = None

    def log(self, msg):
        if not self.logf and self.a.quiet:
            return
        t = time.time()
        line = "%s %s.%03d %s\n" % (TOOL, time.strftime("%H:%M:%S", time.localtime(t)),
                                    int(t * 1000) % 1000, msg)
        with self.lock:
            try:
                (self.logf or sys.stderr).write(line)
                (self.logf or sys.stderr).flush()
            except (OSError, ValueError):
                pass

    def write_conns(self, n):
        if not self.a.conn_file:
            return
        tmp = "%s.%d.tmp" % (self.a.conn_file, os.getpid())
        with open(tmp, "w", encoding="ascii") as f:
            f.write("%d\n" % n)
        os.replace(tmp, self.a.conn_file)

    def listen(self):
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", self.a.port))
        self.lsock.listen(128)
        port = self.lsock.getsockname()[1]
        self.write_conns(0)
        self.log("listening on 127.0.0.1:%d, recording to %s" % (port, self.a.out))
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
            # Counted (and the file written) in this one thread, before the connection's
            # thread starts: the count is in the file before any of its bytes are.
            self.conns += 1
            self.write_conns(self.conns)
            threading.Thread(target=self.handle, args=(c, addr, self.conns),
                             daemon=True).start()

    def handle(self, c, addr, cid):
        who = "conn=%d client=%s:%d" % (cid, addr[0], addr[1])
        self.log("%s: connected" % who)
        n, idle, why = 0, 0.0, "client closed"
        c.settimeout(0.25)
        try:
            while not self.stop.is_set():
                try:
                    b = c.recv(65536)
                except socket.timeout:
                    idle += 0.25
                    if self.a.idle_close and idle >= self.a.idle_close:
                        why = "idle %g s: closed by the sink" % self.a.idle_close
                        break
                    continue
                if not b:
                    break
                idle = 0.0
                n += len(b)
                with self.lock:
                    self.out.write(b)
                    self.total += len(b)
                self.log("%s: %d bytes: %s" % (who, len(b), printable(b[:200])))
        except OSError as e:
            why = "%s: %s" % (type(e).__name__, e)
        finally:
            try:
                c.close()
            except OSError:
                pass
            self.log("%s: closed (%s), %d bytes received" % (who, why, n))


def main():
    ap = argparse.ArgumentParser(
        prog="sinkserver.py", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="%(prog)s --out FILE [--port N] [--conn-file FILE] [--idle-close S] "
              "[--log FILE] [--quiet]")
    ap.add_argument("--port", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--out", required=True, help=argparse.SUPPRESS)
    ap.add_argument("--conn-file", help=argparse.SUPPRESS)
    ap.add_argument("--idle-close", type=float, default=0.0, help=argparse.SUPPRESS)
    ap.add_argument("--log", help=argparse.SUPPRESS)
    ap.add_argument("--quiet", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if not 0 <= a.port <= 65535:
        ap.error("--port %d: want 0..65535" % a.port)
    if not a.idle_close >= 0:
        ap.error("--idle-close: want a number of seconds >= 0")
    try:
        sink = Sink(a)
    except OSError as e:
        sys.stderr.write("%s: %s\n" % (TOOL, e))
        sys.exit(1)

    def on_term(sig, frame):
        sink.stop.set()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    try:
        port = sink.listen()
    except OSError as e:
        sys.stderr.write("%s: cannot listen on 127.0.0.1:%d: %s\n" % (TOOL, a.port, e))
        sys.exit(1)
    sys.stdout.write("port=%d\n" % port)
    sys.stdout.flush()
    while not sink.stop.wait(0.5):
        pass
    try:
        sink.lsock.close()
    except OSError:
        pass
    sink.log("stopping: %d connections, %d bytes received" % (sink.conns, sink.total))
    sys.exit(0)


if __name__ == "__main__":
    main()
