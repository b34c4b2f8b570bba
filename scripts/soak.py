"""The fault soak: 64 connections of mixed routes against the conformance app
while Redis is paused, restarted, or (behind Sentinels) its master killed.

Usage: python3 scripts/soak.py SECONDS APP_BINARY OUT_DIR

Each connection owns one session and counts the increments the app
acknowledged (200); at the end every session is read back and compared.
Writes OUT_DIR/RELIABILITY.md and OUT_DIR/reliability-timeline.png (and
the measurements as JSON to $SOAK_JSON when set); exits 1 when a guarantee
did not hold.
"""

import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from soak_png import Canvas  # noqa: E402

CONNECTIONS = 64
SOCKET_TIMEOUT = 1  # redis.sessions.socket_timeout of the app, seconds
RECOVERY_LIMIT = 15.0
# Routes that always reach Redis: a read may be answered without it (a
# request without a session, a session the process cache holds), a write
# never is.
WRITE_ROUTES = ("/incr", "/set")
SECRET = "soak-secret-soak-secret-soak-secret-0123456789"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- a minimal RESP client, for set-up and checks only ------------------------

def _read_reply(f):
    line = f.readline()
    if not line:
        raise ConnectionError("closed")
    kind, rest = line[:1], line[1:-2]
    if kind == b"+":
        return rest.decode()
    if kind == b"-":
        raise RuntimeError(rest.decode())
    if kind == b":":
        return int(rest)
    if kind == b"$":
        n = int(rest)
        if n < 0:
            return None
        data = f.read(n + 2)[:-2]
        return data.decode(errors="replace")
    if kind == b"*":
        n = int(rest)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise RuntimeError(f"unexpected reply {line!r}")


def redis_cmd(port, *args, timeout=2.0):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        out = f"*{len(args)}\r\n".encode()
        for a in args:
            a = str(a).encode()
            out += f"${len(a)}\r\n".encode() + a + b"\r\n"
        s.sendall(out)
        return _read_reply(s.makefile("rb"))


def wait_for(what, check, within=30.0):
    deadline = time.monotonic() + within
    while True:
        try:
            value = check()
            if value:
                return value
        except (OSError, RuntimeError, ConnectionError):
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"soak: gave up waiting: {what}")
        time.sleep(0.05)


class Redis:
    """One redis-server process with its own directory."""

    def __init__(self, root, name, extra=()):
        self.dir = os.path.join(root, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.extra = list(extra)
        self.proc = None
        self.start()

    def start(self):
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--dir", self.dir, "--logfile", os.path.join(self.dir, "redis.log"),
             "--save", "", "--repl-diskless-sync-delay", "0"] + self.extra,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(f"redis-server on {self.port} answers PING",
                 lambda: redis_cmd(self.port, "PING") == "PONG")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def info(self, section):
        text = redis_cmd(self.port, "INFO", section)
        return dict(l.split(":", 1) for l in text.splitlines() if ":" in l)


class Sentinels:
    def __init__(self, root, master_port, name="sessions"):
        self.name = name
        self.procs = []
        self.ports = []
        for i in range(3):
            d = os.path.join(root, f"sentinel-{i}")
            os.makedirs(d, exist_ok=True)
            port = free_port()
            conf = os.path.join(d, "sentinel.conf")
            with open(conf, "w") as f:
                f.write(f"port {port}\nbind 127.0.0.1\ndir {d}\nlogfile {d}/sentinel.log\n"
                        f"sentinel monitor {name} 127.0.0.1 {master_port} 2\n"
                        f"sentinel down-after-milliseconds {name} 1000\n"
                        f"sentinel failover-timeout {name} 5000\n")
            self.procs.append(subprocess.Popen(
                ["redis-server", conf, "--sentinel"], stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
            self.ports.append(port)

        def ready():
            for port in self.ports:
                flat = redis_cmd(port, "SENTINEL", "MASTER", name)
                fields = dict(zip(flat[::2], flat[1::2]))
                if fields.get("num-slaves") != "1" or fields.get("num-other-sentinels") != "2":
                    return False
            return True
        wait_for("the Sentinels know the replica and each other", ready)

    def url(self):
        hosts = ",".join(f"127.0.0.1:{p}" for p in self.ports)
        return f"redis+sentinel://{hosts}/{self.name}/0"

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()


class App:
    def __init__(self, binary, root, redis_url):
        self.port = free_port()
        ini = os.path.join(root, "soak.ini")
        with open(ini, "w") as f:
            f.write("[app:main]\n"
                    f"redis.sessions.secret = {SECRET}\n"
                    f"redis.sessions.url = {redis_url}\n"
                    f"redis.sessions.socket_timeout = {SOCKET_TIMEOUT}\n")
        env = dict(os.environ, PORT=str(self.port), SETTINGS=ini)
        env.pop("REDIS_URL", None)
        self.log = open(os.path.join(root, "app.log"), "w")
        self.proc = subprocess.Popen([binary], env=env, stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)

        def up():
            if self.proc.poll() is not None:
                raise SystemExit(f"soak: the conformance app exited; see {root}/app.log")
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            c.request("GET", "/plain")
            return c.getresponse().status == 200
        wait_for("the conformance app answers /plain", up)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# --- the load -----------------------------------------------------------------

class Worker(threading.Thread):
    """One keep-alive connection that owns one session."""

    def __init__(self, index, port, stop, t0, log):
        super().__init__(daemon=True)
        self.index, self.port, self.stop, self.t0, self.log = index, port, stop, t0, log
        self.cookie = None
        self.acked = 0            # increments answered 200
        self.sessions_started = 0
        self.cookies_on_503 = 0   # must stay 0
        self.rng = random.Random(index)
        self.conn = None

    def request(self, path):
        headers = {"Cookie": f"session={self.cookie}"} if self.cookie else {}
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
                self.conn.request("GET", path, headers=headers)
                r = self.conn.getresponse()
                body = r.read().decode(errors="replace")
                set_cookies = r.headers.get_all("Set-Cookie") or []
                if r.status == 503 and set_cookies:
                    self.cookies_on_503 += 1
                for value in set_cookies:
                    pair = value.split(";", 1)[0]
                    name, _, v = pair.partition("=")
                    if name == "session":
                        self.cookie = v or None
                return r.status, body
            except (OSError, http.client.HTTPException):
                self.conn = None
        return 0, ""

    def pick(self):
        x = self.rng.random()
        k = self.rng.randrange(8)
        if x < 0.40:
            return "/incr"
        if x < 0.60:
            return "/read"
        if x < 0.75:
            return f"/set?key=k{k}&value=v{self.rng.randrange(1000)}"
        if x < 0.85:
            return f"/get?key=k{k}"
        if x < 0.90:
            return "/keys"
        return "/plain"

    def run(self):
        while not self.stop.is_set():
            path = self.pick()
            start = time.monotonic() - self.t0
            status, body = self.request(path)
            end = time.monotonic() - self.t0
            route = path.split("?")[0]
            if route == "/incr" and status == 200:
                if int(body) == 1:
                    self.sessions_started += 1
                    self.acked = 0
                self.acked += 1
            self.log.append((start, end, route, status))

    def final_count(self):
        deadline = time.monotonic() + RECOVERY_LIMIT
        while time.monotonic() < deadline:
            status, body = self.request("/read")
            if status == 200:
                return int(body)
            time.sleep(0.1)
        return None


def run_phase(name, seconds, app, faults):
    """Runs the load for `seconds` while `faults` (callables at given times)
    happen; returns the measurements."""
    t0 = time.monotonic()
    stop = threading.Event()
    logs = [[] for _ in range(CONNECTIONS)]
    workers = [Worker(i, app.port, stop, t0, logs[i]) for i in range(CONNECTIONS)]
    for w in workers:
        w.start()
    time.sleep(min(1.0, seconds * 0.1))
    rss_before = app.rss_kib()
    windows = []
    for at, fault in faults:
        delay = t0 + at - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        label, start, end = fault(t0)
        windows.append({"fault": label, "start": start, "end": end})
    delay = t0 + seconds - time.monotonic()
    if delay > 0:
        time.sleep(delay)
    stop.set()
    for w in workers:
        w.join(60)
    rss_after = app.rss_kib()
    log = sorted(r for l in logs for r in l)
    # Recovery: the first 200 on a write (which always reaches Redis) whose
    # request started after the fault ended; the window of the fault runs
    # until then. A read answered without Redis says nothing of it.
    for win in windows:
        served = [e for (s, e, route, st) in log
                  if st == 200 and route in WRITE_ROUTES and s >= win["end"]]
        win["recovered"] = min(served) if served else None
        win["recovery_s"] = (win["recovered"] - win["end"]) if served else None
        until = win["recovered"] if served else seconds
        win["statuses"] = {}
        for (s, e, route, st) in log:
            if e >= win["start"] and s <= until:
                win["statuses"][str(st)] = win["statuses"].get(str(st), 0) + 1

    def during_any(s, e):
        return any(e >= w["start"] and s <= (w["recovered"] or seconds) for w in windows)

    outside = {}
    for (s, e, route, st) in log:
        if not during_any(s, e):
            outside[str(st)] = outside.get(str(st), 0) + 1
    lost = 0
    applied_unacked = 0
    unread = 0
    for w in workers:
        if w.acked == 0:
            continue
        final = w.final_count()
        if final is None:
            unread += 1
        elif final < w.acked:
            lost += w.acked - final
        else:
            applied_unacked += final - w.acked
    acked = sum(w.acked for w in workers)
    cookies_on_503 = sum(w.cookies_on_503 for w in workers)
    restarts = sum(max(0, w.sessions_started - 1) for w in workers)
    return {
        "name": name, "seconds": seconds, "requests": len(log),
        "windows": windows, "outside": outside, "acked_increments": acked,
        "lost_acked_writes": lost, "applied_but_answered_503": applied_unacked,
        "sessions_restarted": restarts, "cookies_on_503": cookies_on_503, "sessions_unreadable": unread,
        "rss_kib_before": rss_before, "rss_kib_after": rss_after,
        "log": log,
    }


# --- the two runs -------------------------------------------------------------

def standalone(binary, root, seconds):
    redis = Redis(root, "standalone", ["--appendonly", "yes", "--appendfsync", "always"])
    app = App(binary, root, f"redis://127.0.0.1:{redis.port}/0")

    def pause(t0):
        start = time.monotonic() - t0
        os.kill(redis.proc.pid, signal.SIGSTOP)
        time.sleep(3)
        os.kill(redis.proc.pid, signal.SIGCONT)
        return "pause (SIGSTOP 3 s)", start, time.monotonic() - t0

    def restart(t0):
        start = time.monotonic() - t0
        redis.kill()
        redis.start()
        return "restart (SIGKILL, AOF replay)", start, time.monotonic() - t0

    try:
        return run_phase("standalone, AOF appendfsync always", seconds, app,
                         [(seconds * 0.3, pause), (seconds * 0.65, restart)])
    finally:
        app.stop()
        redis.kill()


def sentinel(binary, root, seconds):
    master = Redis(root, "master", ["--appendonly", "yes", "--appendfsync", "always"])
    replica = Redis(root, "replica", ["--appendonly", "yes", "--appendfsync", "always",
                                      "--replicaof", "127.0.0.1", str(master.port)])
    wait_for("the replica is in sync",
             lambda: replica.info("replication").get("master_link_status") == "up")
    sentinels = Sentinels(root, master.port)
    app = App(binary, root, sentinels.url())

    def kill_master(t0):
        start = time.monotonic() - t0
        master.kill()
        return "master killed (SIGKILL), replica promoted", start, start

    try:
        return run_phase("Sentinel: master + replica + 3 Sentinels", seconds, app,
                         [(seconds * 0.4, kill_master)])
    finally:
        app.stop()
        sentinels.stop()
        replica.kill()
        master.kill()


# --- the adversarial run: what an attacker and a full Redis try ---------------

FLOOD_THREADS = 16
INDEX_CAP = 100  # redis.sessions.max_sessions_per_user, default


def user_index_zset(user):
    """The key of a user's index sorted set (prefix empty)."""
    import base64
    import hashlib
    digest = base64.urlsafe_b64encode(hashlib.sha256(user.encode()).digest()).rstrip(b"=").decode()
    return "{u:" + digest + "}:z"


def redis_cpu_us(redis):
    cpu = redis.info("cpu")
    return (float(cpu["used_cpu_user"]) + float(cpu["used_cpu_sys"])) * 1e6


def flood(app, seconds, path_of, on_reply=None):
    """FLOOD_THREADS keep-alive connections sending path_of(thread, n) for
    `seconds`; returns {status: count}."""
    stop = threading.Event()
    counts = [dict() for _ in range(FLOOD_THREADS)]

    def run(i):
        conn = None
        n = 0
        while not stop.is_set():
            path, headers = path_of(i, n)
            n += 1
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", app.port, timeout=30)
                conn.request("GET", path, headers=headers)
                r = conn.getresponse()
                body = r.read()
                st = r.status
                if on_reply:
                    on_reply(i, path, st, body, r.headers.get_all("Set-Cookie") or [])
            except (OSError, http.client.HTTPException):
                conn, st = None, 0
            counts[i][st] = counts[i].get(st, 0) + 1
    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(FLOOD_THREADS)]
    for t in threads:
        t.start()
    time.sleep(seconds)
    stop.set()
    for t in threads:
        t.join(60)
    total = {}
    for c in counts:
        for st, n in c.items():
            total[str(st)] = total.get(str(st), 0) + n
    return total


def adversarial(binary, root, seconds):
    """Three floods against one app and one Redis, one after the other: logins
    of one user, forged cookies, then writes into a Redis at its maxmemory."""
    redis = Redis(root, "adversarial", ["--maxmemory-policy", "noeviction"])
    app = App(binary, root, f"redis://127.0.0.1:{redis.port}/0")
    part = max(seconds / 3.0, 2.0)
    rows = []
    peak_rss = [app.rss_kib()]

    def sample_rss():
        peak_rss[0] = max(peak_rss[0], app.rss_kib())

    def phase(name, fn):
        cpu = redis_cpu_us(redis)
        log_before = os.path.getsize(os.path.join(root, "app.log"))
        row = fn()
        requests = sum(row["statuses"].values())
        row.update(name=name, requests=requests,
                   redis_us_per_request=(redis_cpu_us(redis) - cpu) / max(requests, 1))
        with open(os.path.join(root, "app.log"), errors="replace") as f:
            f.seek(log_before)
            row["log_lines"] = sum(1 for _ in f)
        sample_rss()
        row["rss_kib"] = peak_rss[0]
        rows.append(row)

    def logins():
        statuses = flood(app, part, lambda i, n: ("/login?user=mallory", {}))
        zset = user_index_zset("mallory")
        live = redis_cmd(redis.port, "ZCOUNT", zset, "(0", "+inf")
        return {"statuses": statuses, "lost": 0,
                "note": f"mallory's index: {live} live sessions (cap {INDEX_CAP}), "
                        f"{redis_cmd(redis.port, 'ZCARD', zset)} entries with tombstones",
                "index_live": live}

    def forged():
        statuses = flood(app, part, lambda i, n: ("/read", {"Cookie": f"session=forged-{i}-{n}.AAAA"}))
        return {"statuses": statuses, "lost": 0, "note": "every cookie forged"}

    def full():
        used = int(redis.info("memory")["used_memory"])
        limit = used + 4 * 1024 * 1024
        redis_cmd(redis.port, "CONFIG", "SET", "maxmemory", str(limit))
        big = "v" * 60000
        cookies = [None] * FLOOD_THREADS
        acked = [0] * FLOOD_THREADS
        peak = [0]
        lock = threading.Lock()

        def path_of(i, n):
            headers = {"Cookie": f"session={cookies[i]}"} if cookies[i] else {}
            if n % 2 == 0:
                return "/incr", headers
            return f"/set?key=k{n % 10}&value={big}", headers

        def on_reply(i, path, st, body, set_cookies):
            for value in set_cookies:
                name, _, v = value.split(";", 1)[0].partition("=")
                if name == "session" and v:
                    cookies[i] = v
            if path == "/incr" and st == 200:
                if body == b"1":
                    acked[i] = 0
                acked[i] += 1
            if i == 0:
                # While commands of 60 KB are in flight, Redis's buffers
                # (query buffers, the script's arguments) come and go in
                # used_memory: the dataset is what writes leave behind.
                data = int(redis.info("memory")["used_memory_dataset"])
                with lock:
                    peak[0] = max(peak[0], data)
        statuses = flood(app, part, path_of, on_reply)
        # Once the floods' buffers are gone: what the writes left.
        settled = int(redis.info("memory")["used_memory"])
        redis_cmd(redis.port, "CONFIG", "SET", "maxmemory", "0")
        lost = 0
        for i in range(FLOOD_THREADS):
            if not cookies[i] or not acked[i]:
                continue
            c = http.client.HTTPConnection("127.0.0.1", app.port, timeout=30)
            c.request("GET", "/read", headers={"Cookie": f"session={cookies[i]}"})
            r = c.getresponse()
            final = int(r.read() or 0)
            lost += max(0, acked[i] - final)
        return {"statuses": statuses, "lost": lost,
                "note": f"maxmemory {limit} B; used_memory after the flood {settled} B "
                        f"({(settled - limit) / 1024:+.0f} KiB past it); peak dataset {peak[0]} B",
                "over_kib": (settled - limit) / 1024}

    try:
        phase("login flood (one user)", logins)
        phase("forged-cookie flood", forged)
        phase("writes into a full Redis (maxmemory, noeviction)", full)
    finally:
        app.stop()
        redis.kill()
    return {"name": "adversarial: floods and a full Redis", "seconds": part * 3, "rows": rows}


# --- the report ---------------------------------------------------------------

def chart(phases, path):
    width, panel_h, margin_l, margin_r = 1000, 190, 60, 20
    height = 40 + panel_h * len(phases) + 30
    c = Canvas(width, height)
    c.text(margin_l, 12, "ANSWERS PER 250 MS: GREEN 200, RED 503, BLACK OTHER. GREY: FAULT UNTIL RECOVERY",
           scale=1)
    for i, ph in enumerate(phases):
        top = 40 + i * panel_h
        plot_top, plot_bottom = top + 22, top + panel_h - 30
        c.text(margin_l, top + 6, ph["name"], scale=1)
        span = ph["seconds"]
        x_of = lambda t: margin_l + (width - margin_l - margin_r) * t / span  # noqa: E731
        for w in ph["windows"]:
            end = w["recovered"] if w["recovered"] is not None else span
            c.rect(x_of(w["start"]), plot_top, max(x_of(end), x_of(w["start"]) + 2),
                   plot_bottom, (215, 215, 215))
        buckets = {}
        for (s, e, route, st) in ph["log"]:
            b = int(e / 0.25)
            ok, bad, other = buckets.get(b, (0, 0, 0))
            if st == 200:
                ok += 1
            elif st == 503:
                bad += 1
            else:
                other += 1
            buckets[b] = (ok, bad, other)
        peak = max([sum(v) for v in buckets.values()] + [1])
        scale = (plot_bottom - plot_top) / peak
        bw = max(1, (width - margin_l - margin_r) * 0.25 / span - 1)
        for b, (ok, bad, other) in buckets.items():
            x = x_of(b * 0.25)
            y = plot_bottom
            for n, color in ((ok, (40, 160, 60)), (bad, (210, 40, 40)), (other, (0, 0, 0))):
                h = n * scale
                c.rect(x, y - h, x + bw, y, color)
                y -= h
        c.rect(margin_l, plot_bottom, width - margin_r, plot_bottom + 1, (0, 0, 0))
        c.rect(margin_l - 1, plot_top, margin_l, plot_bottom, (0, 0, 0))
        c.text(4, plot_top, str(int(peak * 4)), scale=1)
        c.text(4, plot_top + 9, "/S", scale=1)
        step = max(1, int(span / 10))
        for t in range(0, int(span) + 1, step):
            c.rect(x_of(t), plot_bottom, x_of(t) + 1, plot_bottom + 4, (0, 0, 0))
            c.text(x_of(t) - 3, plot_bottom + 7, f"{t}S", scale=1)
    c.save(path)


def report(phases, seconds, out_dir, problems, adversarial_run=None):
    lines = [
        "# Reliability",
        "",
        "What the fault soak (`scripts/soak.sh`) measured: "
        f"{CONNECTIONS} keep-alive connections of mixed routes (40 % `/incr`, 20 % `/read`, "
        "15 % `/set`, 10 % `/get`, 5 % `/keys`, 10 % `/plain`) against the conformance app "
        f"({os.environ.get('SOAK_PROFILE', 'release')} build, `socket_timeout = {SOCKET_TIMEOUT}`), {seconds:g} s per run. "
        "Each connection owns one session and counts the increments answered 200; at the end "
        "every session is read back. Redis runs with AOF `appendfsync always`. A fault's "
        "window runs until the first write (`/incr`, `/set`) started after it ended is "
        "answered 200: a read may be answered without Redis (a request without a session, "
        "a session the process cache holds), so it says nothing of recovery.",
        "",
        "![timeline of answers per 250 ms](reliability-timeline.png)",
        "",
    ]
    for ph in phases:
        lines += [f"## {ph['name']}", "",
                  f"{ph['requests']} requests; app memory (RSS) {ph['rss_kib_before'] / 1024:.1f} MiB "
                  f"after warm-up, {ph['rss_kib_after'] / 1024:.1f} MiB at the end.", "",
                  "| window | answers by status | recovery after the fault ended |",
                  "|---|---|---|"]
        for w in ph["windows"]:
            rec = "not recovered" if w["recovery_s"] is None else f"{w['recovery_s']:.2f} s"
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(w["statuses"].items()))
            lines.append(f"| {w['fault']} ({w['start']:.1f} s to {w['end']:.1f} s) | {statuses} | {rec} |")
        outside = ", ".join(f"{k}: {v}" for k, v in sorted(ph["outside"].items()))
        lines.append(f"| outside every fault | {outside} | |")
        lines += ["",
                  f"- acknowledged increments: {ph['acked_increments']}; "
                  f"**lost: {ph['lost_acked_writes']}**",
                  f"- increments applied although answered 503 (the reply, not the write, "
                  f"was lost): {ph['applied_but_answered_503']}",
                  f"- sessions that had to start over: {ph['sessions_restarted']}",
                  f"- 503 answers that carried a `Set-Cookie`: {ph['cookies_on_503']}",
                  ""]
    if adversarial_run:
        lines += [f"## {adversarial_run['name']}", "",
                  f"One app and one standalone Redis, {FLOOD_THREADS} keep-alive connections, "
                  f"{adversarial_run['seconds'] / 3:.0f} s per flood, one after the other.", "",
                  "| flood | requests | answers by status | lost acknowledged writes | "
                  "app RSS peak | Redis CPU per request | app log lines | what else |",
                  "|---|---|---|---|---|---|---|---|"]
        for row in adversarial_run["rows"]:
            statuses = ", ".join(f"{k}: {v}" for k, v in sorted(row["statuses"].items()))
            lines.append(f"| {row['name']} | {row['requests']} | {statuses} | {row['lost']} | "
                         f"{row['rss_kib'] / 1024:.1f} MiB | {row['redis_us_per_request']:.1f} µs | "
                         f"{row['log_lines']} | {row['note']} |")
        lines.append("")
    lines += ["## Reading it", "",
              "- During a fault, requests that need Redis answer 503 without `Set-Cookie`; "
              "`/plain` never touches the session and keeps answering 200. Outside faults "
              "every answer is 200.",
              "- A pause longer than `socket_timeout` turns into 503s; when Redis resumes, "
              "the commands it had queued run, which is why a write can be applied although "
              "its request answered 503. A client must treat a 503 as \"unknown\", not \"not done\".",
              "- With `appendfsync always`, a restarted Redis replays every acknowledged write "
              "from its AOF: nothing acknowledged is lost.",
              "- Sentinel failover: Redis replicates asynchronously, so writes the old master "
              "acknowledged but had not yet sent to its replica are lost when the replica is "
              "promoted; the count above is how many. `min-replicas-to-write 1` with "
              "`min-replicas-max-lag 10` bounds that window (the master refuses writes, and the "
              "app answers 503, when no replica is in reach).",
              "- Adversarial: a login flood of one user keeps at most `max_sessions_per_user` "
              "sessions in its index, at a Redis cost per login that does not grow with the "
              "index; forged cookies cost a counter, not a log line each; a Redis at its "
              "`maxmemory` refuses writes before they run (503), so it never grows past its "
              "limit by more than one write.",
              ""]
    if problems:
        lines += ["## Problems found", ""] + [f"- {p}" for p in problems] + [""]
    with open(os.path.join(out_dir, "RELIABILITY.md"), "w") as f:
        f.write("\n".join(lines))


def check_adversarial(run):
    problems = []
    for row in run["rows"]:
        for st, n in row["statuses"].items():
            if st not in ("200", "503"):
                problems.append(f"adversarial, {row['name']}: {n} answers {st}")
        if row["lost"]:
            problems.append(f"adversarial, {row['name']}: {row['lost']} acknowledged writes lost")
    logins, forged, full = run["rows"]
    if logins["index_live"] > INDEX_CAP:
        problems.append(f"adversarial: the user's index holds {logins['index_live']} live sessions")
    if forged["log_lines"] > 100:
        problems.append(f"adversarial: {forged['log_lines']} log lines for forged cookies")
    if full["over_kib"] > 256:
        problems.append(f"adversarial: Redis grew {full['over_kib']:.0f} KiB past maxmemory")
    return problems


def check(phases):
    problems = []
    for ph in phases:
        for st, n in ph["outside"].items():
            if st != "200":
                problems.append(f"{ph['name']}: {n} answers {st} outside every fault")
        for w in ph["windows"]:
            for st, n in w["statuses"].items():
                if st not in ("200", "503"):
                    problems.append(f"{ph['name']}: {n} answers {st} during '{w['fault']}'")
            if w["recovery_s"] is None or w["recovery_s"] > RECOVERY_LIMIT:
                problems.append(f"{ph['name']}: no recovery within {RECOVERY_LIMIT:g} s "
                                f"after '{w['fault']}'")
        if ph["cookies_on_503"]:
            problems.append(f"{ph['name']}: {ph['cookies_on_503']} answers 503 carried a Set-Cookie")
        if ph["sessions_unreadable"]:
            problems.append(f"{ph['name']}: {ph['sessions_unreadable']} sessions unreadable at the end")
    standalone_phase = phases[0]
    if standalone_phase["lost_acked_writes"] or standalone_phase["sessions_restarted"]:
        problems.append(f"standalone: {standalone_phase['lost_acked_writes']} acknowledged writes "
                        f"lost, {standalone_phase['sessions_restarted']} sessions restarted")
    return problems


def main():
    seconds = float(sys.argv[1])
    binary, out_dir = sys.argv[2], sys.argv[3]
    os.makedirs(out_dir, exist_ok=True)
    root = tempfile.mkdtemp(prefix="redis-sessions-soak-")
    try:
        phases = [standalone(binary, os.path.join(root, "a"), seconds),
                  sentinel(binary, os.path.join(root, "b"), seconds)]
        adversarial_run = adversarial(binary, os.path.join(root, "c"), seconds)
    finally:
        keep = os.environ.get("SOAK_KEEP_TMP")
        if not keep:
            shutil.rmtree(root, ignore_errors=True)
    problems = check(phases) + check_adversarial(adversarial_run)
    chart(phases, os.path.join(out_dir, "reliability-timeline.png"))
    report(phases, seconds, out_dir, problems, adversarial_run)
    if os.environ.get("SOAK_JSON"):
        with open(os.environ["SOAK_JSON"], "w") as f:
            json.dump([{k: v for k, v in ph.items() if k != "log"} for ph in phases], f, indent=1)
    for ph in phases:
        print(f"{ph['name']}: {ph['requests']} requests, outside faults {ph['outside']}, "
              f"lost {ph['lost_acked_writes']} of {ph['acked_increments']} acknowledged increments, "
              f"RSS {ph['rss_kib_before']} -> {ph['rss_kib_after']} KiB")
        for w in ph["windows"]:
            rec = "never" if w["recovery_s"] is None else f"{w['recovery_s']:.2f} s"
            print(f"  {w['fault']}: {w['statuses']}, recovered after {rec}")
    for row in adversarial_run["rows"]:
        print(f"adversarial, {row['name']}: {row['requests']} requests {row['statuses']}, "
              f"lost {row['lost']}, {row['redis_us_per_request']:.1f} us Redis CPU per request, "
              f"{row['log_lines']} log lines; {row['note']}")
    for p in problems:
        print(f"PROBLEM: {p}")
    print(f"report: {os.path.join(out_dir, 'RELIABILITY.md')}")
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
