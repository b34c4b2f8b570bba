#!/usr/bin/env python3
"""The invalidation window, measured: how long after a write's reply reaches
its writer the invalidation reaches a tracking connection (what the process
cache of another app process hears). A private redis-server; one connection
writes session-like keys, another holds `CLIENT TRACKING ON BCAST`; both are
read with select(), and each arrival is stamped as it is seen. A negative
figure: the invalidation was readable before the reply.

    python3 scripts/window.py [trials]     (default 20000)

Writes benches/results/window.json; BENCHMARKS.md quotes it."""

import json
import os
import select
import socket
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def command(*args):
    out = [f"*{len(args)}\r\n".encode()]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def main():
    trials = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    with tempfile.TemporaryDirectory(prefix="redis-sessions-window-") as work:
        redis = bench.Redis(work)
        try:
            writer = socket.create_connection(("127.0.0.1", redis.port))
            tracker = socket.create_connection(("127.0.0.1", redis.port))
            for s in (writer, tracker):
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            tracker.sendall(command("HELLO", 3) + command("CLIENT", "TRACKING", "ON", "BCAST", "PREFIX", "s:"))
            buf = b""
            while b"+OK\r\n" not in buf:
                buf += tracker.recv(65536)
            gaps = []
            for i in range(trials):
                writer.sendall(command("HSET", f"s:{i % 200}", "counter", i))
                reply_at = push_at = None
                while reply_at is None or push_at is None:
                    ready, _, _ = select.select([writer, tracker], [], [], 5)
                    now = time.perf_counter()
                    if not ready:
                        raise SystemExit("no reply or no invalidation within 5 s")
                    for s in ready:
                        data = s.recv(65536)
                        if s is writer and reply_at is None:
                            reply_at = now
                        elif s is tracker and push_at is None and b"invalidate" in data:
                            push_at = now
                gaps.append((push_at - reply_at) * 1e6)
        finally:
            redis.stop()
    gaps.sort()
    pct = lambda p: gaps[min(len(gaps) - 1, int(p / 100 * len(gaps)))]
    result = {"trials": trials, "p50_us": pct(50), "p99_us": pct(99), "p999_us": pct(99.9), "max_us": gaps[-1],
              "push_first": sum(1 for g in gaps if g <= 0) / len(gaps)}
    os.makedirs(bench.RESULTS, exist_ok=True)
    with open(os.path.join(bench.RESULTS, "window.json"), "w") as f:
        json.dump(result, f, indent=1)
    print(f"{trials} writes: invalidation after the reply by p50 {result['p50_us']:.1f} µs, "
          f"p99 {result['p99_us']:.1f} µs, p99.9 {result['p999_us']:.1f} µs, max {result['max_us']:.1f} µs; "
          f"readable first in {result['push_first'] * 100:.1f}% of writes")


if __name__ == "__main__":
    main()
