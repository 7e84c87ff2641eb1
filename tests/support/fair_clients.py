#!/usr/bin/env python3
"""Download load for the fair-share tests: members' SOCKS5 tunnels through the node.

Usage: fair_clients.py NODE ORIGIN WARMUP WINDOW USER:PASSWORD:STREAMS...

NODE and ORIGIN are HOST:PORT (IPv4 loopback). Each member opens STREAMS tunnels to
ORIGIN (RFC 1928 CONNECT with RFC 1929 user/password), asks each for `GET /`, and reads
as fast as it can. Bytes are counted per member over WINDOW seconds that start WARMUP
seconds after the last tunnel is open; printed as one JSON object:
{"window_secs": 4.0, "bytes": {"m0": 123, ...}}. Standard library only. Exits 1 with a
message on stderr if a handshake fails or a stream ends early.
"""

import json
import selectors
import socket
import struct
import sys
import time

TIMEOUT = 10.0


def addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def fail(message):
    print(f"fair_clients: {message}", file=sys.stderr)
    sys.exit(1)


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            fail("the node closed the connection during the handshake")
        data += chunk
    return data


def tunnel(node, origin, user, password):
    """A SOCKS5 tunnel to origin, authenticated as user; the GET sent."""
    s = socket.create_connection(node, timeout=TIMEOUT)
    s.sendall(b"\x05\x01\x02")  # version 5, one method: user/password
    if recv_exact(s, 2) != b"\x05\x02":
        fail("the node did not choose user/password authentication")
    u, p = user.encode(), password.encode()
    s.sendall(bytes([1, len(u)]) + u + bytes([len(p)]) + p)
    if recv_exact(s, 2) != b"\x01\x00":
        fail(f"authentication as {user} refused")
    host, port = origin
    s.sendall(b"\x05\x01\x00\x01" + socket.inet_aton(host) + struct.pack(">H", port))
    reply = recv_exact(s, 4)
    if reply[1] != 0:
        fail(f"CONNECT as {user} refused with reply {reply[1]}")
    bound = {1: 4, 4: 16}.get(reply[3])
    if bound is None:
        fail(f"unexpected address type {reply[3]} in the reply")
    recv_exact(s, bound + 2)
    s.sendall(b"GET / HTTP/1.1\r\nHost: origin\r\n\r\n")
    s.setblocking(False)
    return s


def main(argv):
    if len(argv) < 5:
        fail(__doc__.strip().splitlines()[2])
    node, origin = addr(argv[0]), addr(argv[1])
    warmup, window = float(argv[2]), float(argv[3])
    members = []
    for spec in argv[4:]:
        user, password, streams = spec.rsplit(":", 2)
        members.append((user, password, int(streams)))

    counts = {user: 0 for user, _, _ in members}
    sel = selectors.DefaultSelector()
    for user, password, streams in members:
        for _ in range(streams):
            sel.register(tunnel(node, origin, user, password), selectors.EVENT_READ, user)

    buf = bytearray(256 * 1024)
    view = memoryview(buf)
    start = time.monotonic() + warmup
    end = start + window
    before = None
    while True:
        now = time.monotonic()
        if before is None and now >= start:
            before, started = dict(counts), now
        if now >= end:
            secs = now - started
            break
        wake = start if before is None else end
        for key, _ in sel.select(timeout=max(0.0, wake - now)):
            try:
                n = key.fileobj.recv_into(view)
            except BlockingIOError:
                continue
            except OSError as e:
                fail(f"a stream of {key.data} failed: {e}")
            if n == 0:
                fail(f"a stream of {key.data} ended early")
            counts[key.data] += n
    got = {user: counts[user] - before[user] for user in counts}
    for key in list(sel.get_map().values()):
        key.fileobj.close()
    print(json.dumps({"window_secs": secs, "bytes": got}))


if __name__ == "__main__":
    main(sys.argv[1:])
