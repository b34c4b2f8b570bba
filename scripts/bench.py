#!/usr/bin/env python3
"""Load runs for scripts/bench.sh: every contestant against one private
redis-server, driven by wrk; figures from wrk, INFO commandstats, INFO cpu and
/proc; results to benches/results/ and BENCHMARKS.md.

Every process started here is stopped by PID, and every wait is bounded."""

import argparse
import datetime
import http.client
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RELEASE = os.path.join(ROOT, "target", "release")
RESULTS = os.path.join(ROOT, "benches", "results")
SECRET = "benchmark-secret-benchmark-secret-0123456789"
ROUTES = ["/plain", "/read", "/incr"]
# Our `/incr` counts in place (`Session::incr`, one round trip, no load); a
# change the ordinary way (load, then save with the response) is measured
# beside it, on our contestants only.
CHANGE = "/set?key=seen&value=1"
# Ours served by actix-web (examples/conformance-actix), beside actix-session
# on the same framework.
ON_ACTIX = "redis-sessions (actix-web)"
ON_CACHE = "ours+cache"  # the conformance app with the process cache on
ON_ACTIX_CACHE = "ours+cache (actix-web)"  # the same on actix-web
CACHE_SIZE = 10000
TIMEOUT = 1200  # the idle timeout of every contestant, in seconds (benches/peers/src/common.rs)
CLK_TCK = os.sysconf("SC_CLK_TCK")


def peer_versions():
    """Versions of the peers' crates, from benches/peers/Cargo.lock."""
    versions, name = {}, None
    with open(os.path.join(ROOT, "benches", "peers", "Cargo.lock")) as f:
        for line in f:
            if line.startswith("name = "):
                name = line.split('"')[1]
            elif line.startswith("version = ") and name:
                versions.setdefault(name, line.split('"')[1])
    return versions


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop(proc, name):
    """SIGTERM, then SIGKILL after 5 s; always reaped."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            print(f"   {name} ignored SIGTERM; killing", flush=True)
            proc.kill()
            proc.wait(timeout=5)


class Redis:
    """A private redis-server without persistence, and a tiny RESP client."""

    def __init__(self, workdir):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", workdir, "--logfile", os.path.join(workdir, "redis.log")],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 10
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", self.port), timeout=60)
                self.reader = self.sock.makefile("rb")
                if self.call("PING") == "PONG":
                    break
            except OSError:
                if time.time() > deadline:
                    raise SystemExit("redis-server did not start within 10 s")
                time.sleep(0.05)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def call(self, *args):
        out = [f"*{len(args)}\r\n".encode()]
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self._read()

    def _read(self):
        line = self.reader.readline().rstrip(b"\r\n")
        kind, rest = line[:1], line[1:]
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
            data = self.reader.read(n + 2)[:-2]
            return data.decode(errors="replace")
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._read() for _ in range(n)]
        raise RuntimeError(f"unexpected reply {line!r}")

    def info(self, section):
        return self.call("INFO", section)

    def commandstats(self):
        stats = {}
        for line in self.info("commandstats").splitlines():
            m = re.match(r"cmdstat_([^:]+):calls=(\d+),usec=(\d+)", line)
            if m:
                stats[m.group(1)] = (int(m.group(2)), int(m.group(3)))
        return stats

    def cpu_seconds(self):
        info = dict(l.split(":", 1) for l in self.info("cpu").splitlines() if ":" in l)
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])

    def stop(self):
        stop(self.proc, "redis-server")


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def get(port, path, cookie=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        resp = conn.getresponse()
        body = resp.read().decode()
        return resp.status, body, resp.getheader("Set-Cookie")
    finally:
        conn.close()


def wrk(port, path, seconds, args, cookies, connections=None):
    env = dict(os.environ, COOKIES=cookies or "")
    cmd = ["wrk", "-t", str(args.threads), "-c", str(connections or args.connections), "-d", f"{seconds}s",
           "--latency", "-s", os.path.join(ROOT, "scripts", "wrk.lua"), f"http://127.0.0.1:{port}{path}"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    for line in out.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            return json.loads(line[len("WRK_JSON "):])
    raise SystemExit(f"wrk printed no figures:\n{out.stdout}\n{out.stderr}")


def cache_settings(size=None):
    """An INI file that sets the process cache's size: CACHE_SIZE (the
    ours+cache contestant) unless given; 0 turns it off."""
    size = CACHE_SIZE if size is None else size
    path = os.path.join(tempfile.gettempdir(), f"bench-cache-{size}-{os.getpid()}.ini")
    with open(path, "w") as f:
        f.write(f"[app:main]\nredis.sessions.client_cache_size = {size}\n")
    return path


def contestants(redis):
    conformance = os.path.join(RELEASE, "examples", "conformance")
    base = {"SESSION_SECRET": SECRET, "SESSION_TIMEOUT": str(TIMEOUT)}
    return [
        # Ours without the process cache (on by default): every read is
        # a Redis read, as with the peers.
        ("redis-sessions", [conformance], dict(base, REDIS_URL=redis.url, SETTINGS=cache_settings(0)), True),
        (ON_CACHE, [conformance], dict(base, REDIS_URL=redis.url, SETTINGS=cache_settings()), True),
        ("redis-sessions (memory)", [conformance], dict(base, REDIS_URL="memory://"), False),
        (ON_ACTIX, [os.path.join(RELEASE, "examples", "conformance-actix")],
         dict(base, REDIS_URL=redis.url, SETTINGS=cache_settings(0)), True),
        (ON_ACTIX_CACHE, [os.path.join(RELEASE, "examples", "conformance-actix")],
         dict(base, REDIS_URL=redis.url, SETTINGS=cache_settings()), True),
        ("tower-sessions", [os.path.join(RELEASE, "tower")], {"REDIS_URL": redis.url}, True),
        ("actix-session", [os.path.join(RELEASE, "actix")], {"REDIS_URL": redis.url}, True),
        ("floor", [os.path.join(RELEASE, "floor")], {"REDIS_URL": redis.url}, True),
    ]


def start_app(name, cmd, env_extra, workdir):
    port = free_port()
    env = dict(os.environ)
    env.pop("SETTINGS", None)
    env.update(PORT=str(port), **env_extra)
    log = open(os.path.join(workdir, re.sub(r"\W+", "_", name) + ".log"), "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 20
    while time.time() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} exited with {proc.returncode}; see {log.name}")
        try:
            if get(port, "/plain")[0] == 200:
                return proc, port
        except OSError:
            time.sleep(0.05)
    stop(proc, name)
    raise SystemExit(f"{name} did not answer /plain within 20 s")


def prime(port, n, path):
    """n sessions with counter = 1; returns the cookie file and one cookie."""
    cookies = []
    for _ in range(n):
        status, _, set_cookie = get(port, "/incr")
        if status != 200 or not set_cookie:
            raise SystemExit(f"priming /incr answered {status} without a cookie")
        cookies.append(set_cookie.split(";", 1)[0])
    with open(path, "w") as f:
        f.write("\n".join(cookies) + "\n")
    return cookies


def counters_total(port, cookies):
    total = 0
    for c in cookies:
        status, body, _ = get(port, "/read", c)
        if status != 200:
            raise SystemExit(f"/read answered {status}")
        total += int(body)
    return total


def measure(app, port, redis, path, args, cookies_file, uses_redis, cookies):
    wrk(port, path, args.warmup, args, cookies_file)
    # /incr: the apps' own counter totals around the measured run only.
    before_total = counters_total(port, cookies) if path == "/incr" else 0
    before_stats = redis.commandstats() if uses_redis else {}
    before_cpu = redis.cpu_seconds() if uses_redis else 0.0
    before_app = proc_cpu_seconds(app.pid)
    run = wrk(port, path, args.duration, args, cookies_file)
    after_app = proc_cpu_seconds(app.pid)
    after_cpu = redis.cpu_seconds() if uses_redis else 0.0
    after_stats = redis.commandstats() if uses_redis else {}
    n = max(run["requests"], 1)
    calls, usec, per_command = 0, 0, {}
    for cmd, (c, u) in after_stats.items():
        bc, bu = before_stats.get(cmd, (0, 0))
        if cmd in ("info",) or c - bc == 0:
            continue
        calls += c - bc
        usec += u - bu
        per_command[cmd] = round((c - bc) / n, 3)
    scripts = sum(v for k, v in per_command.items() if k in ("evalsha", "eval", "fcall"))
    incr = {}
    if path == "/incr":
        incr = {"incr_ok": run["requests"] - run["non2xx"],
                "incr_observed": counters_total(port, cookies) - before_total}
    return {
        **incr,
        "rps": run["requests"] / (run["duration_us"] / 1e6),
        "requests": run["requests"],
        "p50_ms": run["p50_us"] / 1000,
        "p99_ms": run["p99_us"] / 1000,
        "non2xx": run["non2xx"],
        "socket_errors": run["connect"] + run["read"] + run["write"] + run["timeout"],
        "redis_cmds_per_req": calls / n,
        "redis_scripts_per_req": scripts,
        "redis_cmd_us_per_req": usec / n,
        "redis_cpu_us_per_req": (after_cpu - before_cpu) * 1e6 / n,
        "app_cpu_us_per_req": (after_app - before_app) * 1e6 / n,
        "commands": per_command,
    }


def contention(port, cookie, args, workdir):
    """Increments of one session from many connections at once: how many of
    the successful ones the session kept."""
    path = os.path.join(workdir, "one-cookie.txt")
    with open(path, "w") as f:
        f.write(cookie + "\n")
    before = counters_total(port, [cookie])
    run = wrk(port, "/incr", args.contention_seconds, args, path, connections=args.contention_connections)
    after = counters_total(port, [cookie])
    return {"ok": run["requests"] - run["non2xx"], "observed": after - before}


def median(values):
    values = sorted(values)
    n = len(values)
    return values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2


def combine(rounds):
    """One result from several rounds: the median of every figure, and the
    sum of the /incr counts."""
    out = dict(rounds[0])
    out["rounds"] = len(rounds)
    out["routes"] = {}
    for route, first in rounds[0]["routes"].items():
        samples = [r["routes"][route] for r in rounds]
        merged = {}
        for key, value in first.items():
            if key == "commands":
                merged[key] = {c: median([s[key].get(c, 0) for s in samples]) for c in value}
            elif key in ("incr_ok", "incr_observed", "requests", "non2xx", "socket_errors"):
                merged[key] = sum(s[key] for s in samples)
            else:
                merged[key] = median([s[key] for s in samples])
        merged["rps_all"] = [round(s["rps"]) for s in samples]
        out["routes"][route] = merged
    if all("contention" in r for r in rounds):
        out["contention"] = {k: sum(r["contention"][k] for r in rounds) for k in ("ok", "observed")}
    return out


def preload(redis, count):
    """`count` filler sessions: hashes like real ones, with a TTL."""
    script = ("for i = tonumber(ARGV[1]), tonumber(ARGV[2]) do "
              "local k = 'filler:' .. i; redis.call('HSET', k, 'counter', '1', 'c', '1700000000'); "
              "redis.call('EXPIRE', k, 3600) end return 1")
    step = 10000
    for start in range(0, count, step):
        redis.call("EVAL", script, 0, start, min(start + step, count) - 1)
    return redis.call("DBSIZE")


def run_contestant(name, cmd, env_extra, uses_redis, redis, args, workdir, scale=False):
    print(f"--> {name}{' with ' + format(args.scale, ',') + ' sessions stored' if scale else ''}", flush=True)
    if not scale:
        redis.call("FLUSHALL")
    app, port = start_app(name, cmd, env_extra, workdir)
    try:
        cookies_file = os.path.join(workdir, "cookies.txt")
        cookies = prime(port, args.sessions, cookies_file)
        result = {"name": name, "routes": {}}
        if uses_redis and not scale:
            keys = redis.call("SCAN", 0, "COUNT", 1000)[1]
            if keys:
                result["memory_usage_bytes"] = redis.call("MEMORY", "USAGE", keys[0], "SAMPLES", 0)
        result["cookie_value_len"] = len(cookies[0].split("=", 1)[1])
        routes = ["/read", "/incr"] if scale else ROUTES
        if name.startswith("redis-sessions") and not scale:
            routes = routes + [CHANGE]
        for path in routes:
            r = measure(app, port, redis, path, args, cookies_file, uses_redis, cookies)
            result["routes"][path] = r
            print(f"    {path[:12]:12} {r['rps']:10.0f} req/s  p99 {r['p99_ms']:6.2f} ms  "
                  f"app {r['app_cpu_us_per_req']:5.1f} us  redis {r['redis_cpu_us_per_req']:5.1f} us  "
                  f"cmds {r['redis_cmds_per_req']:.2f}", flush=True)
        if not scale and args.contention_seconds > 0:
            c = result["contention"] = contention(port, cookies[0], args, workdir)
            print(f"    one session, {args.contention_connections} connections: {c['ok']} /incr answered, "
                  f"counter +{c['observed']}", flush=True)
        return result
    finally:
        stop(app, name)


def machine():
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    version = lambda cmd: subprocess.run(cmd, capture_output=True, text=True).stdout.strip().splitlines()[0]
    return {
        "cpu": model, "cores": os.cpu_count(), "kernel": platform.release(),
        "redis": version(["redis-server", "--version"]), "rustc": version(["rustc", "--version"]),
        "wrk": subprocess.run(["wrk", "-v"], capture_output=True, text=True).stdout.strip().splitlines()[0],
    }


def criterion_results():
    out = {}
    base = os.path.join(ROOT, "target", "criterion")
    for dirpath, _, files in os.walk(base):
        if "estimates.json" in files and os.path.basename(dirpath) == "new":
            with open(os.path.join(dirpath, "estimates.json")) as f:
                est = json.load(f)
            bench = os.path.relpath(os.path.dirname(dirpath), base)
            try:
                with open(os.path.join(dirpath, "benchmark.json")) as f:
                    bench = json.load(f).get("full_id", bench)
            except OSError:
                pass
            out[bench] = est["mean"]["point_estimate"]
    return dict(sorted(out.items()))


def chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    # Long names break before their parenthesis, so that none overlaps.
    names = [r["name"].replace(" (", "\n(") for r in results]
    fig, ax = plt.subplots(figsize=(10, 4.8), dpi=110)
    width = 0.8 / len(ROUTES)
    for i, route in enumerate(ROUTES):
        values = [r["routes"][route]["rps"] / 1000 for r in results]
        bars = ax.bar([x + i * width for x in range(len(names))], values, width, label=route)
        ax.bar_label(bars, fmt="%.0f", fontsize=7)
    ax.set_xticks([x + width for x in range(len(names))], names, fontsize=9)
    ax.set_ylabel("thousand requests / s")
    ax.set_title("Requests per second by contestant and route (higher is better)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)


def fmt(v, digits=1):
    return f"{v:,.{digits}f}"


TARGETS = {
    "/plain": "≥ 0.95× floor",
    "/read": "≥ 0.95× floor, ≥ 1.05× faster peer",
    "/incr": "≥ 0.75× floor, ≥ 1.05× faster peer",
}


def ttl_on_read(args, v):
    t = TIMEOUT
    return [
        f"- Idle timeout {t} s everywhere; every other setting is each library's default. Who refreshes the idle TTL on a read:",
        f"  - redis-sessions: at most once per `timeout/20` ({t // 20} s here): a read is one `HGETALL`, and a due refresh adds one "
        "`EVALSHA` of the update script when the response goes out. The sessions of a run are younger than that, so no read here is due;",
        "  - the floor: on every request (`EXPIRE` pipelined with the `HGET`);",
        f"  - tower-sessions {v.get('tower-sessions', '?')} (`Expiry::OnInactivity`, `always_save` off by default): no, only a changed session is saved, which extends it;",
        f"  - actix-session {v.get('actix-session', '?')} (`PersistentSession`, `TtlExtensionPolicy::OnStateChanges` by default): no, likewise. "
        "It also loads the session on every request, `/plain` included.",
    ]


def extra_tables():
    """The tables of scripts/keys.py and scripts/population.py, from their
    last runs (benches/results/keys.json, population.json), when present."""
    L = []
    keys = os.path.join(RESULTS, "keys.json")
    if os.path.exists(keys):
        import keys as keys_script  # noqa: E402 (scripts/keys.py, beside this file)
        with open(keys) as f:
            data = json.load(f)
        L.append("## A read costs what it reads: sessions of 1 to 1,000 keys\n")
        L.append("`python3 scripts/keys.py`: the same one-key `/read` on sessions that also hold other keys of 100 bytes, "
                 "with the process cache off (every read loads the whole session from Redis; a value is decoded only when read) and on "
                 "(a hit shares the session's entries: nothing is copied or sent). Medians of 3 interleaved rounds.\n")
        L.extend(keys_script.markdown(data))
        L.append("")
    population = os.path.join(RESULTS, "population.json")
    if os.path.exists(population):
        with open(population) as f:
            data = json.load(f)
        L.append("## A realistic population\n")
        L.append(f"`python3 scripts/population.py`: real sessions made through the app, then `/read` for {data['seconds']} s "
                 f"with Zipf-like popularity (the session of rank r is read about in proportion to 1/r; scripts/zipf.lua), "
                 f"{data['connections']} connections, after a warm-up. `{ON_CACHE}` keeps {data['cache_size']:,} sessions "
                 "in its process cache; `redis-sessions` has it off.\n")
        L.append("| sessions | contestant | req/s | cache hit rate | app RSS MiB | app CPU µs/req | Redis CPU µs/req | non-2xx |")
        L.append("|---:|---|---:|---:|---:|---:|---:|---:|")
        for r in data["results"]:
            hit = "–" if r["hit_rate"] is None else f"{r['hit_rate'] * 100:.1f}%"
            L.append(f"| {r['sessions']:,} | {r['name']} | {fmt(r['rps'], 0)} | {hit} | {fmt(r['app_rss_mib'])} | "
                     f"{fmt(r['app_cpu_us_per_req'])} | {fmt(r['redis_cpu_us_per_req'])} | {r['non2xx']} |")
        L.append("")
    return L


def write_markdown(data, path):
    results, m, args = data["results"], data["machine"], data["args"]
    v = data.get("peer_versions", {})
    by = {r["name"]: r for r in results}
    L = []
    L.append("# Benchmarks\n")
    L.append(f"One run of `scripts/bench.sh{' --quick' if args['quick'] else ''}` on {data['date']}"
             f"{' at commit `' + data['commit'] + '`' if data.get('commit') else ''}. "
             "Numbers move between runs and machines; the ratios within one run, and the CPU time per "
             "request, are the steadier figures.\n")
    L.append("## Machine and method\n")
    L.append(f"- {m['cpu']}, {m['cores']} cores, Linux {m['kernel']}; {m['redis']}; {m['rustc']}; {m['wrk']}.")
    L.append(f"- wrk, redis-server and the app share the machine. wrk: {args['threads']} thread, "
             f"{args['connections']} connections, {args['warmup']} s warm-up then {args['duration']} s measured per route, "
             f"rotating the cookies of {args['sessions']} sessions primed with one `/incr` each.")
    L.append(f"- {args['rounds']} rounds, each running every contestant in turn (a fresh app process each time); "
             "every figure below is the median over the rounds, and the req/s of each round is listed so the spread shows. "
             "On this shared 2-core machine one run can differ from the next by 15%.")
    L.append("- Redis: a private `redis-server` without persistence, flushed between contestants. "
             "Commands and command time come from `INFO commandstats` deltas (calls made inside scripts included), "
             "Redis CPU from `INFO cpu`, app CPU from `/proc/<pid>/stat`.")
    L.append("- Contestants serve the same routes with the same meaning as the conformance app: "
             "`/plain` never touches the session, `/read` reads `counter`, `/incr` increments it. "
             "Ours increments with `Session::incr`: in the store, atomically, one round trip and no load (the peers have no such "
             "operation: they load, add and save); our row `" + CHANGE + "` is a change made the ordinary way (load, then save "
             "with the response), which is what `/incr` cost before. "
             f"tower-sessions {v.get('tower-sessions', '?')} with a Redis store that sends the commands of "
             "tower-sessions-redis-store 0.16 (`SET … EXAT … NX|XX`, `GET`, `DEL`; MessagePack records) through the same client, "
             f"fred {v.get('fred', '?')}: the newest tower-sessions-redis-store is built against tower-sessions-core 0.14 and does not "
             f"plug into tower-sessions 0.15. actix-web {v.get('actix-web', '?')} with actix-session {v.get('actix-session', '?')} "
             "(`RedisSessionStore`). The floor is axum plus one pipelined `HGET`/`HINCRBY` + `EXPIRE` per request with an "
             "unsigned cookie: no signing, no codec, no session layer.")
    L.append(f"- Ours runs twice on Redis: `redis-sessions` with the process cache off (`client_cache_size = 0`), so that "
             f"every read is a Redis read as with the peers, and `{ON_CACHE}` with it on ({CACHE_SIZE:,} sessions, "
             "the default): a read of a session the process holds sends no command. On actix-web likewise: "
             f"`redis-sessions (actix-web)` with it off, `{ON_ACTIX_CACHE}` with it on.")
    L.extend(ttl_on_read(args, v))
    L.append("- Commands: `scripts/bench.sh` builds in release mode, runs the criterion benches, the load runs "
             "(`python3 scripts/bench.py`), then the profiles (`scripts/profile.sh`); raw figures are in "
             "`benches/results/latest.json`.\n")
    L.append("![requests per second](benches/results/rps.png)\n")

    ours = by["redis-sessions"]
    peers = [n for n in ("tower-sessions", "actix-session") if n in by]
    rps = lambda n, route: by[n]["routes"][route]["rps"]
    cpu = lambda n, route: by[n]["routes"][route]["app_cpu_us_per_req"] + by[n]["routes"][route]["redis_cpu_us_per_req"]
    floor_ratio = lambda route: rps("redis-sessions", route) / rps("floor", route)
    faster_peer = lambda route: max(peers, key=lambda p: rps(p, route))
    peer_ratio = lambda route: rps("redis-sessions", route) / rps(faster_peer(route), route)
    L.append("## Targets\n")
    L.append("Ratios of req/s within this run (medians of the rounds); the CPU target compares app + Redis CPU per request.\n")
    L.append("| target | this run | met |")
    L.append("|---|---:|---|")
    checks = [
        ("`/plain` ≥ 0.95× floor", f"{floor_ratio('/plain'):.3f}×", floor_ratio("/plain") >= 0.95),
        ("`/read` ≥ 0.95× floor", f"{floor_ratio('/read'):.3f}×", floor_ratio("/read") >= 0.95),
        (f"`/read` ≥ 1.05× the faster peer ({faster_peer('/read')})", f"{peer_ratio('/read'):.3f}×", peer_ratio("/read") >= 1.05),
        ("`/incr` ≥ 0.75× floor", f"{floor_ratio('/incr'):.3f}×", floor_ratio("/incr") >= 0.75),
        (f"`/incr` ≥ 1.05× the faster peer ({faster_peer('/incr')})", f"{peer_ratio('/incr'):.3f}×", peer_ratio("/incr") >= 1.05),
    ]
    if ON_ACTIX in by and "actix-session" in by:
        same = lambda route: rps(ON_ACTIX, route) / rps("actix-session", route)
        checks.append(("`/read` on actix-web ≥ 1.05× actix-session", f"{same('/read'):.3f}×", same("/read") >= 1.05))
        checks.append(("`/incr` on actix-web ≥ 1.1× actix-session", f"{same('/incr'):.3f}×", same("/incr") >= 1.1))
    if ON_ACTIX_CACHE in by and "actix-session" in by:
        cached = rps(ON_ACTIX_CACHE, "/read") / rps("actix-session", "/read")
        checks.append((f"`/read` on actix-web with the cache ({ON_ACTIX_CACHE}) ≥ 1.3× actix-session",
                       f"{cached:.3f}×", cached >= 1.3))
    if ON_CACHE in by:
        for other in ["actix-session", "tower-sessions", "floor"]:
            if other in by:
                r = rps(ON_CACHE, "/read") / rps(other, "/read")
                checks.append((f"`/read` with the cache ({ON_CACHE}) ≥ 1.3× {other}", f"{r:.3f}×", r >= 1.3))
        redis_cpu = by[ON_CACHE]["routes"]["/read"]["redis_cpu_us_per_req"]
        checks.append((f"`/read` with the cache: Redis CPU per read near 0 (≤ 0.5 µs)", f"{redis_cpu:.2f} µs", redis_cpu <= 0.5))
    gap = cpu("redis-sessions", "/read") - cpu("floor", "/read")
    checks.append(("`/read` app + Redis CPU within 2 µs of the floor", f"{gap:+.1f} µs "
                   f"({fmt(cpu('redis-sessions', '/read'))} vs {fmt(cpu('floor', '/read'))})", gap <= 2.0))
    for name, value, met in checks:
        L.append(f"| {name} | {value} | {'yes' if met else '**no**'} |")
    L.append("")

    L.append("## Throughput and cost per request\n")
    L.append("| contestant | route | req/s (median) | req/s by round | p50 ms | p99 ms | non-2xx | Redis cmds/req | scripts/req | Redis cmd µs/req | Redis CPU µs/req | app CPU µs/req | app + Redis CPU µs/req |")
    L.append("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        for route in [k for k in ROUTES + [CHANGE] if k in r["routes"]]:
            x = r["routes"][route]
            spread = " / ".join(f"{n / 1000:.1f}k" for n in x["rps_all"])
            L.append(f"| {r['name']} | `{route}` | {fmt(x['rps'], 0)} | {spread} | {fmt(x['p50_ms'], 2)} | {fmt(x['p99_ms'], 2)} | "
                     f"{x['non2xx'] + x['socket_errors']} | {fmt(x['redis_cmds_per_req'], 2)} | {fmt(x['redis_scripts_per_req'], 2)} | "
                     f"{fmt(x['redis_cmd_us_per_req'])} | {fmt(x['redis_cpu_us_per_req'])} | {fmt(x['app_cpu_us_per_req'])} | "
                     f"{fmt(x['app_cpu_us_per_req'] + x['redis_cpu_us_per_req'])} |")
    L.append("")
    L.append("## Ratios (req/s, same run)\n")
    L.append("| route | vs floor | " + " | ".join(f"vs {p}" for p in peers) + " | vs the faster peer | target |")
    L.append("|---|---:|" + "---:|" * len(peers) + "---:|---|")
    for route in ROUTES:
        cells = [f"{floor_ratio(route):.2f}×"] + [f"{rps('redis-sessions', route) / rps(p, route):.2f}×" for p in peers]
        cells.append(f"{peer_ratio(route):.2f}×")
        L.append(f"| `{route}` | " + " | ".join(cells) + f" | {TARGETS[route]} |")
    L.append("")
    L.append("App + Redis CPU per request (lower is better; the steadier figure on a shared machine), ours against each:\n")
    names = [n for n in ("redis-sessions", ON_CACHE, "floor", "tower-sessions", ON_ACTIX, ON_ACTIX_CACHE, "actix-session")
             if n in by]
    L.append("| route | " + " | ".join({"redis-sessions": "ours", ON_ACTIX: "ours on actix-web"}.get(n, n) + " µs" for n in names) + " |")
    L.append("|---|" + "---:|" * len(names))
    for route in ROUTES:
        L.append(f"| `{route}` | " + " | ".join(fmt(cpu(n, route)) for n in names) + " |")
    L.append("")

    L.extend(extra_tables())

    L.append("## Storage, cookies and lost updates\n")
    L.append("Two checks of lost increments. *Rotating*: during the measured `/incr` run (connections over "
             f"{args['sessions']} sessions in turn, so two requests rarely hold the same session), every successful `/incr` should add "
             "one to a counter; the apps' own `/read` totals before and after show how many did. *One session*: "
             f"{args['contention_connections']} connections increment a single session for {args['contention_seconds']} s per round. "
             "A read-modify-write of one key loses concurrent increments in every session library that has only that (the last "
             "writer wins), while the floor's `HINCRBY` and our `Session::incr`, which both add in Redis, cannot lose any "
             "(redis-sessions also keeps concurrent changes of *different* keys made the ordinary way). Requests still in flight when wrk stops are counted by the apps but not by wrk, so a small "
             "negative number is possible.\n")
    L.append("| contestant | Redis bytes per session (`MEMORY USAGE`) | cookie value length | rotating: successful `/incr` | rotating: lost | one session: successful `/incr` | one session: lost |")
    L.append("|---|---:|---:|---:|---:|---:|---:|")
    for r in results:
        x = r["routes"]["/incr"]
        ok = x["incr_ok"]
        c = r.get("contention")
        one = f"{c['ok']:,} | {c['ok'] - c['observed']:,} ({(c['ok'] - c['observed']) / max(c['ok'], 1):.0%})" if c else "– | –"
        L.append(f"| {r['name']} | {r.get('memory_usage_bytes', '–')} | {r['cookie_value_len']} | {ok:,} | {ok - x['incr_observed']:,} | {one} |")
    L.append("")
    if data.get("scale"):
        s = data["scale"]
        L.append(f"## Scale: {s['stored']:,} sessions stored\n")
        L.append("The same redis-sessions runs with the keyspace preloaded with filler sessions (hashes with a TTL, like real ones).\n")
        L.append("| route | req/s (small keyspace) | req/s (preloaded) | Redis CPU µs/req (small) | Redis CPU µs/req (preloaded) | Redis cmds/req (small / preloaded) |")
        L.append("|---|---:|---:|---:|---:|---|")
        for route in ("/read", "/incr"):
            a, b = ours["routes"][route], s["result"]["routes"][route]
            L.append(f"| `{route}` | {fmt(a['rps'], 0)} | {fmt(b['rps'], 0)} | {fmt(a['redis_cpu_us_per_req'])} | {fmt(b['redis_cpu_us_per_req'])} | "
                     f"{fmt(a['redis_cmds_per_req'], 2)} / {fmt(b['redis_cmds_per_req'], 2)} |")
        L.append("")
    L.append("## Redis commands per request, by command\n")
    L.append("| contestant | route | commands per request |")
    L.append("|---|---|---|")
    for r in results:
        for route in [k for k in ROUTES + [CHANGE] if k in r["routes"]]:
            cmds = r["routes"][route]["commands"]
            L.append(f"| {r['name']} | `{route}` | {', '.join(f'{k} {n:g}' for k, n in sorted(cmds.items())) or 'none'} |")
    L.append("")
    profile = os.path.join(RESULTS, "profile.md")
    if os.path.exists(profile):
        with open(profile) as f:
            L.append(f.read().rstrip() + "\n")
    if data.get("criterion"):
        L.append("## Micro-benchmarks (criterion, mean time)\n")
        L.append("| benchmark | time |")
        L.append("|---|---:|")
        for name, ns in data["criterion"].items():
            t = f"{ns / 1000:,.2f} µs" if ns >= 1000 else f"{ns:,.0f} ns"
            L.append(f"| `{name}` | {t} |")
        L.append("")
    analysis = os.path.join(ROOT, "benches", "analysis.md")
    if os.path.exists(analysis):
        with open(analysis) as f:
            L.append(f.read())
    with open(path, "w") as f:
        f.write("\n".join(L))


# ---------------------------------------------------------------------------
# Profiles (scripts/profile.sh): perf's cpu-clock samples of the app process
# under the same wrk load, for redis-sessions and the floor.

PROFILED = ["redis-sessions", "floor"]
PROFILE_ROUTES = ["/read", "/incr"]
CATEGORIES = [
    ("kernel", "kernel (syscalls, TCP, scheduling)"),
    ("alloc", "malloc / free"),
    ("mem", "memcpy / memmove / memset"),
    ("ours", "redis-sessions"),
    ("redis", "redis client (redis crate)"),
    ("http", "HTTP (hyper, http, axum, tower)"),
    ("tokio", "tokio runtime"),
    ("crypto", "SHA-256 / HMAC"),
    ("codec", "serde, JSON, MessagePack"),
    ("std", "Rust std, core, alloc"),
    ("libc", "libc, other"),
    ("other", "other crates"),
]
ALLOC_SYMBOLS = re.compile(r"^(__libc_)?(malloc|free|realloc|calloc|cfree)$|^_int_(malloc|free|realloc)|"
                           r"malloc_consolidate|unlink_chunk|tcache|^__rust_(alloc|dealloc|realloc)|"
                           r"alloc_perturb|sysmalloc|^_?mi_|^je_")
MEM_SYMBOLS = re.compile(r"^__(memcpy|memmove|memset|memcmp|memchr|mempcpy|strlen)|^(memcpy|memmove|memset|memcmp|bcmp)")
CRATE = re.compile(r"(?:^|[<\s,(&*\[])([A-Za-z_][A-Za-z0-9_]*)::")


def crate_of(symbol):
    """The first crate named in a demangled symbol, looking through core,
    alloc and std wrappers such as drop_in_place<T>."""
    names = CRATE.findall(symbol)
    for name in names:
        if name not in ("core", "alloc", "std", "impl"):
            return name
    return names[0] if names else ""


def category(symbol, dso):
    if "kernel" in dso or dso.startswith("[") and dso != "[unknown]":
        return "kernel"
    if ALLOC_SYMBOLS.search(symbol):
        return "alloc"
    if MEM_SYMBOLS.search(symbol):
        return "mem"
    crate = crate_of(symbol)
    if crate == "redis_sessions" or crate == "conformance":
        return "ours"
    if crate in ("redis", "combine"):
        return "redis"
    if crate in ("hyper", "http", "httparse", "axum", "axum_core", "tower", "tower_service", "hyper_util",
                 "http_body", "http_body_util", "matchit"):
        return "http"
    if crate in ("tokio", "mio", "futures_util", "futures_core", "futures_channel", "parking_lot", "parking_lot_core"):
        return "tokio"
    if crate in ("sha2", "hmac", "digest", "subtle", "block_buffer"):
        return "crypto"
    if crate in ("serde", "serde_json", "rmp", "rmp_serde", "erased_serde", "itoa", "ryu"):
        return "codec"
    if crate in ("core", "alloc", "std"):
        return "std"
    if "libc" in dso or "ld-linux" in dso or not crate:
        return "libc"
    return "other"


HASH_SUFFIX = re.compile(r"::h[0-9a-f]{16}$|@[A-Z_.0-9]+$")


def perf_symbols(data_file):
    """Samples per (symbol, dso) from `perf script`."""
    out = subprocess.run(["perf", "script", "-i", data_file, "-F", "ip,sym,dso"], capture_output=True,
                         text=True, errors="replace", timeout=600).stdout
    counts = {}
    for line in out.splitlines():
        line = re.sub(r"^[0-9a-f]+\s", "", line.strip())
        if not line:
            continue
        m = re.match(r"^(.*?)\s*\(([^()]*)\)$", line)
        sym, dso = (m.group(1), m.group(2)) if m else (line, "")
        sym = HASH_SUFFIX.sub("", re.sub(r"\+0x[0-9a-f]+$", "", sym.strip())) or "[unknown]"
        dso = os.path.basename(dso)
        counts[(sym, dso)] = counts.get((sym, dso), 0) + 1
    return counts


def profile_route(app, port, path, args, cookies_file, workdir, tag):
    wrk(port, path, 1, args, cookies_file)
    data_file = os.path.join(workdir, f"{tag}.perf.data")
    perf = subprocess.Popen(["perf", "record", "-q", "-e", "cpu-clock", "-F", str(args.frequency), "-p", str(app.pid),
                             "-o", data_file], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        before = proc_cpu_seconds(app.pid)
        run = wrk(port, path, args.duration, args, cookies_file)
        after = proc_cpu_seconds(app.pid)
    finally:
        perf.send_signal(signal.SIGINT)
        try:
            perf.wait(timeout=60)
        except subprocess.TimeoutExpired:
            perf.kill()
            perf.wait(timeout=5)
    counts = perf_symbols(data_file)
    requests = max(run["requests"], 1)
    per_sample_us = 1e6 / args.frequency / requests
    return {
        "requests": run["requests"],
        "rps": run["requests"] / (run["duration_us"] / 1e6),
        "app_cpu_us_per_req": (after - before) * 1e6 / requests,
        "samples": sum(counts.values()),
        "us_per_sample_per_req": per_sample_us,
        "symbols": sorted(([s, d, n] for (s, d), n in counts.items()), key=lambda x: -x[2]),
    }


def by_category(prof):
    totals = {key: 0.0 for key, _ in CATEGORIES}
    for sym, dso, n in prof["symbols"]:
        totals[category(sym, dso)] += n * prof["us_per_sample_per_req"]
    return totals


def short(symbol, width=90):
    symbol = symbol.replace("|", "\\|")
    return symbol if len(symbol) <= width else symbol[:width - 1] + "…"


def profile_markdown(profiles, args):
    L = ["## Profile: where the app's CPU goes on `/read` and `/incr`\n"]
    L.append(f"`scripts/profile.sh` runs the conformance app (Redis store) and the floor under the same wrk load "
             f"({args.connections} connections, {args.duration} s per route, {args.sessions} sessions) while "
             f"`perf record -e cpu-clock -F {args.frequency}` samples the app process (every thread). A sample stands for "
             f"1/{args.frequency} s of CPU; µs per request = samples ÷ {args.frequency} ÷ requests served in the window. "
             "Symbols are the functions perf resolves (inlined code counts toward its caller); perf itself slows the app "
             "a little, so totals run above the load runs' figures.\n")
    L.append("By area, µs of app CPU per request:\n")
    header = "| area | " + " | ".join(f"ours `{r}` | floor `{r}` | difference" for r in PROFILE_ROUTES) + " |"
    L.append(header)
    L.append("|---|" + "---:|---:|---:|" * len(PROFILE_ROUTES))
    cats = {(n, r): by_category(profiles[n][r]) for n in PROFILED for r in PROFILE_ROUTES}
    for key, label in CATEGORIES + [("total", "total (samples)")]:
        cells = []
        for r in PROFILE_ROUTES:
            a = sum(cats[("redis-sessions", r)].values()) if key == "total" else cats[("redis-sessions", r)][key]
            b = sum(cats[("floor", r)].values()) if key == "total" else cats[("floor", r)][key]
            cells.append(f"{a:.2f} | {b:.2f} | {a - b:+.2f}")
        L.append(f"| {label} | " + " | ".join(cells) + " |")
    cells = []
    for r in PROFILE_ROUTES:
        a, b = profiles["redis-sessions"][r]["app_cpu_us_per_req"], profiles["floor"][r]["app_cpu_us_per_req"]
        cells.append(f"{a:.2f} | {b:.2f} | {a - b:+.2f}")
    L.append("| total (`/proc`) | " + " | ".join(cells) + " |")
    L.append("")
    for r in PROFILE_ROUTES:
        for name in PROFILED:
            p = profiles[name][r]
            L.append(f"Top {args.top} functions of {name} on `{r}` ({p['samples']:,} samples, {p['requests']:,} requests, "
                     f"{p['rps']:,.0f} req/s under perf):\n")
            L.append("| # | µs/req | share | area | function |")
            L.append("|---:|---:|---:|---|---|")
            total = max(p["samples"], 1)
            for i, (sym, dso, n) in enumerate(p["symbols"][:args.top], 1):
                L.append(f"| {i} | {n * p['us_per_sample_per_req']:.2f} | {n / total:.1%} | {category(sym, dso)} | `{short(sym)}` |")
            L.append("")
    return "\n".join(L)


def run_profiles(args):
    if subprocess.run(["perf", "--version"], capture_output=True).returncode != 0:
        raise SystemExit("perf is missing: apt-get install linux-perf")
    profiles = {}
    with tempfile.TemporaryDirectory(prefix="redis-sessions-profile-") as workdir:
        redis = Redis(workdir)
        try:
            for name, cmd, env_extra, _ in contestants(redis):
                if name not in PROFILED:
                    continue
                print(f"--> profiling {name}", flush=True)
                redis.call("FLUSHALL")
                app, port = start_app(name, cmd, env_extra, workdir)
                try:
                    cookies_file = os.path.join(workdir, "cookies.txt")
                    prime(port, args.sessions, cookies_file)
                    for path in PROFILE_ROUTES:
                        tag = re.sub(r"\W+", "_", name + path)
                        p = profiles.setdefault(name, {})[path] = profile_route(app, port, path, args, cookies_file, workdir, tag)
                        print(f"    {path:7} {p['rps']:10.0f} req/s  app {p['app_cpu_us_per_req']:5.1f} us  "
                              f"{p['samples']} samples", flush=True)
                finally:
                    stop(app, name)
        finally:
            redis.stop()
    with open(os.path.join(RESULTS, "profile.json"), "w") as f:
        json.dump({name: {r: dict(p, symbols=p["symbols"][:200]) for r, p in routes.items()}
                   for name, routes in profiles.items()}, f, indent=1)
    text = profile_markdown(profiles, args)
    with open(os.path.join(RESULTS, "profile.md"), "w") as f:
        f.write(text + "\n")
    print(text)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--quick", action="store_true", help="3 s runs and 100k preloaded sessions: a smoke run")
    p.add_argument("--duration", type=int, default=6)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--sessions", type=int, default=200)
    p.add_argument("--rounds", type=int, default=3,
                   help="rounds over all contestants; figures are per-metric medians")
    p.add_argument("--scale", type=int, default=1_000_000)
    p.add_argument("--contention-seconds", type=int, default=2,
                   help="length of the one-session concurrent-increment check (0: skip)")
    p.add_argument("--contention-connections", type=int, default=16)
    p.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    p.add_argument("--only", action="append", default=[],
                   help="run only this contestant (repeatable); prints figures, writes nothing")
    p.add_argument("--profile", action="store_true",
                   help="instead of the load runs: perf profiles of /read and /incr (scripts/profile.sh)")
    p.add_argument("--frequency", type=int, default=1999, help="perf samples per second (--profile)")
    p.add_argument("--top", type=int, default=20, help="functions listed per profile (--profile)")
    p.add_argument("--rewrite", action="store_true",
                   help="only rewrite BENCHMARKS.md from benches/results/latest.json (after editing benches/analysis.md)")
    args = p.parse_args()
    if args.rewrite:
        with open(os.path.join(RESULTS, "latest.json")) as f:
            data = json.load(f)
        write_markdown(data, args.out)
        print(f"==> rewrote {os.path.relpath(args.out, ROOT)} from benches/results/latest.json")
        return
    if args.quick:
        args.duration, args.warmup, args.scale, args.rounds = 3, 1, 100_000, 1
    os.makedirs(RESULTS, exist_ok=True)
    if args.profile:
        run_profiles(args)
        return
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="redis-sessions-bench-") as workdir:
        redis = Redis(workdir)
        try:
            runs = {}
            for round_no in range(args.rounds):
                print(f"== round {round_no + 1} of {args.rounds}", flush=True)
                # Each round starts with another contestant, so that none is
                # always first (or last) after a disturbance.
                everyone = contestants(redis)
                shift = round_no % len(everyone)
                for name, cmd, env_extra, uses_redis in everyone[shift:] + everyone[:shift]:
                    if args.only and name not in args.only:
                        continue
                    r = run_contestant(name, cmd, env_extra, uses_redis, redis, args, workdir)
                    runs.setdefault(name, []).append(r)
            order = [c[0] for c in contestants(redis)]
            results = [combine(runs[name]) for name in order if name in runs]
            if args.only:
                return
            scale = None
            if args.scale > 0:
                redis.call("FLUSHALL")
                stored = preload(redis, args.scale)
                name, cmd, env_extra, uses_redis = contestants(redis)[0]
                scale = {"stored": stored,
                         "result": combine([run_contestant(name, cmd, env_extra, uses_redis, redis, args, workdir, scale=True)])}
        finally:
            redis.stop()
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    data = {"date": datetime.date.today().isoformat(), "commit": commit, "machine": machine(), "args": vars(args),
            "peer_versions": peer_versions(),
            "results": results, "scale": scale, "criterion": criterion_results(),
            "seconds": round(time.time() - started)}
    with open(os.path.join(RESULTS, "latest.json"), "w") as f:
        json.dump(data, f, indent=1)
    chart(results, os.path.join(RESULTS, "rps.png"))
    write_markdown(data, args.out)
    print(f"==> wrote {os.path.relpath(args.out, ROOT)}, benches/results/latest.json and rps.png "
          f"({data['seconds']} s of load runs)")


if __name__ == "__main__":
    main()
