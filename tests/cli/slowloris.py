#!/usr/bin/env python3
"""slowloris.py PORT N SECONDS SRC - a slow HTTP client for cli_serve_hard.sh.

Keeps up to N connections open to 127.0.0.1:PORT from the source address SRC
(e.g. 127.0.0.2, so that the server sees another client than the test's
curl); each sends a request line and then one header line per second, never
the blank line that ends the headers. A connection the server closes is
replaced by a new one. Runs SECONDS seconds and prints one JSON object:
  max_open   most connections open at once, sampled once a second after the
             first two seconds (the server's per-client cap)
  max_life   longest time one connection stayed open, seconds (the server's
             bound on a request's time to arrive)
  opened     connections opened in all
"""
import json
import socket
import sys
import time

port, n, secs, src = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
socks = {}  # socket -> time opened
opened = 0
max_open = 0
max_life = 0.0
t0 = time.monotonic()


def open_more():
    global opened
    while len(socks) < n:
        s = socket.socket()
        try:
            s.bind((src, 0))
            s.settimeout(2)
            s.connect(("127.0.0.1", port))
            s.sendall(b"GET /v1/recommend/1 HTTP/1.1\r\nHost: x\r\n")
            s.setblocking(False)
        except OSError:
            s.close()
            return
        socks[s] = time.monotonic()
        opened += 1


def is_closed(s):
    try:
        if s.recv(4096) == b"":
            return True
    except BlockingIOError:
        pass
    except OSError:
        return True
    try:
        s.send(b"X-Slow: 1\r\n")
    except BlockingIOError:
        pass
    except OSError:
        return True
    return False


open_more()
while time.monotonic() - t0 < secs:
    time.sleep(1)
    now = time.monotonic()
    for s in list(socks):
        if is_closed(s):
            max_life = max(max_life, now - socks.pop(s))
            s.close()
    if now - t0 > 2:
        max_open = max(max_open, len(socks))
    open_more()
now = time.monotonic()
for s, t in socks.items():
    max_life = max(max_life, now - t)
    s.close()
print(json.dumps({"max_open": max_open, "max_life": round(max_life, 1), "opened": opened}))
