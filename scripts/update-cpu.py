#!/usr/bin/env python3
"""Redis CPU per session write: the cached update script vs MULTI/EXEC, and
the in-place increment script vs a plain HINCRBY and an empty script.

Starts a private redis-server on a free loopback port, writes N updates of
200 rotating sessions with each candidate (64 in flight), and prints the
Redis CPU per update (INFO cpu, main thread) and the commands per update
(INFO commandstats). Standard library only. (The commandstats time is not
used: the time of EVALSHA includes that of the commands it runs.) The
HINCRBY and empty-script rows are yardsticks, not candidates: HINCRBY
cannot check that the session exists or read a MessagePack integer, and
the empty script is the cost of entering Lua at all.

    python3 scripts/update-cpu.py [updates]   # default 200000
"""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
UPDATE_LUA = os.path.join(HERE, "..", "src", "store", "redis", "lua", "update.lua")
# The increment script is its shared checks followed by its own part.
INCR_LUA = [os.path.join(HERE, "..", "src", "store", "redis", "lua", name)
            for name in ("in_place.lua", "incr.lua")]
SESSIONS = 200
IN_FLIGHT = 64


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            self.buf += self.sock.recv(1 << 16)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self.buf += self.sock.recv(1 << 16)
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind in (b"+", b":"):
            return rest
        if kind == b"-":
            raise RuntimeError(rest.decode())
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self.reply() for _ in range(n)]
        raise RuntimeError("unexpected reply %r" % line)

    def call(self, *args):
        self.sock.sendall(resp(*args))
        return self.reply()


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def info(conn, section):
    text = conn.call("INFO", section).decode()
    return dict(l.split(":", 1) for l in text.splitlines() if ":" in l)


def measure(conn, label, requests, replies_per_request, n):
    conn.call("CONFIG", "RESETSTAT")
    cpu = info(conn, "cpu")
    before = float(cpu["used_cpu_user_main_thread"]) + float(cpu["used_cpu_sys_main_thread"])
    sent = 0
    while sent < n:
        batch = min(IN_FLIGHT, n - sent)
        conn.sock.sendall(b"".join(requests(sent + i) for i in range(batch)))
        for _ in range(batch * replies_per_request):
            conn.reply()
        sent += batch
    cpu = info(conn, "cpu")
    after = float(cpu["used_cpu_user_main_thread"]) + float(cpu["used_cpu_sys_main_thread"])
    stats = info(conn, "commandstats")
    calls = {k[8:]: int(v.split("calls=")[1].split(",")[0]) for k, v in stats.items()
             if k.startswith("cmdstat_") and k not in ("cmdstat_info", "cmdstat_config|resetstat")}
    print("| %s | %.1f | %.2f |" % (label, sum(calls.values()) / n, (after - before) * 1e6 / n))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200000
    if not shutil.which("redis-server"):
        sys.exit("redis-server not found (scripts/test.sh installs it)")
    port = free_port()
    tmp = tempfile.mkdtemp()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", tmp],
        stdout=subprocess.DEVNULL)
    try:
        deadline = time.time() + 10
        while True:
            try:
                conn = Conn(port)
                conn.call("PING")
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.01)
        sha = conn.call("SCRIPT", "LOAD", open(UPDATE_LUA, "rb").read()).decode()
        incr_source = b"".join(open(path, "rb").read() for path in INCR_LUA)
        incr_sha = conn.call("SCRIPT", "LOAD", incr_source).decode()
        empty_sha = conn.call("SCRIPT", "LOAD", b"return 0").decode()
        for i in range(SESSIONS):
            conn.call("HSET", "s%d" % i, b"\0c", b"1700000000 1700000050", "counter", 0,
                      "name", "x" * 20, "hits", 0, "n", b"\x00")
            conn.call("EXPIRE", "s%d" % i, 1200)
        now = b"1700000100"

        def script(i):
            # timeout, 2 pairs, no emptiness check, max_session_bytes.
            return resp("EVALSHA", sha, 1, "s%d" % (i % SESSIONS), 1200, 2, 0, 1048576,
                        "counter", i, b"\0r", now)

        def multi(i):
            key = "s%d" % (i % SESSIONS)
            return b"".join([
                resp("MULTI"),
                resp("HSET", key, "counter", i, b"\0r", now),
                resp("EXPIRE", key, 1200),
                resp("HEXISTS", key, b"\0c"),
                resp("EXEC"),
            ])

        def incr(i):
            return resp("EVALSHA", incr_sha, 1, "s%d" % (i % SESSIONS), "n", 1, "m", now,
                        1200, 20, 0, 315360000)

        def hincrby(i):
            return resp("HINCRBY", "s%d" % (i % SESSIONS), "hits", 1)

        def empty(i):
            return resp("EVALSHA", empty_sha, 1, "s%d" % (i % SESSIONS))

        print("redis-server %s, %d updates, %d in flight" % (
            info(conn, "server")["redis_version"], n, IN_FLIGHT))
        print("| candidate | commands per update | Redis CPU µs/update |")
        print("|---|---:|---:|")
        for _ in range(3):  # three times, interleaved, to see the noise
            measure(conn, "EVALSHA update.lua", script, 1, n)
            measure(conn, "MULTI/HSET/EXPIRE/HEXISTS/EXEC", multi, 5, n)
            measure(conn, "EVALSHA incr.lua", incr, 1, n)
            measure(conn, "HINCRBY (yardstick)", hincrby, 1, n)
            measure(conn, "EVALSHA of an empty script (yardstick)", empty, 1, n)
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
