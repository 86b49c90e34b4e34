#!/usr/bin/python3
"""delayproxy.py LISTEN_PORT TARGET_HOST TARGET_PORT [RTT_MS] -- a TCP proxy that adds RTT_MS
(default 20) of round-trip time: every chunk is forwarded RTT_MS/2 after it arrived, in each
direction, in order.  A new connection also pays one round trip for its handshake: nothing
the client sends reaches the target before accept + RTT_MS (a real TCP connect to a store
RTT_MS away takes that long; here the local connect() returns at once).

Bytes pass through untouched, Host header included, so Swift's tempauth builds the storage
URL from the proxy's address (clients keep going through the proxy), and SigV4 signatures
stay valid.  Prints "ready PORT" on stdout once listening.  Stops on SIGTERM/SIGINT.
"""
import asyncio
import signal
import socket
import sys


async def pump(reader, writer, half, start_at):
    """Copy reader -> writer, each chunk RTT/2 late, never before start_at."""
    loop = asyncio.get_running_loop()
    q = asyncio.Queue()

    async def sender():
        while True:
            due, data = await q.get()
            if data is None:
                break
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()

    task = asyncio.ensure_future(sender())
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            q.put_nowait((max(loop.time(), start_at) + half, data))
    except (ConnectionError, OSError):
        pass
    q.put_nowait((0, None))
    try:
        await task
    except (ConnectionError, OSError):
        pass


async def handle(creader, cwriter, host, port, rtt):
    loop = asyncio.get_running_loop()
    accepted = loop.time()
    try:
        sreader, swriter = await asyncio.open_connection(host, port)
    except OSError:
        cwriter.close()
        return
    for w in (cwriter, swriter):
        sock = w.get_extra_info('socket')
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    half = rtt / 2
    try:
        await asyncio.gather(pump(creader, swriter, half, accepted + rtt),
                             pump(sreader, cwriter, half, 0))
    finally:
        for w in (cwriter, swriter):
            w.close()


async def main():
    listen, host, port = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    rtt = (float(sys.argv[4]) if len(sys.argv) > 4 else 20.0) / 1000.0
    server = await asyncio.start_server(
        lambda r, w: handle(r, w, host, port, rtt), '127.0.0.1', listen, backlog=1024,
        reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    print('ready', server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await stop.wait()


asyncio.run(main())
