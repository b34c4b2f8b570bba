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
CLK_TCK = os.sysconf("SC_CLK_TCK")


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


def wrk(port, path, seconds, args, cookies):
    env = dict(os.environ, COOKIES=cookies or "")
    cmd = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{seconds}s",
           "--latency", "-s", os.path.join(ROOT, "scripts", "wrk.lua"), f"http://127.0.0.1:{port}{path}"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    for line in out.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            return json.loads(line[len("WRK_JSON "):])
    raise SystemExit(f"wrk printed no figures:\n{out.stdout}\n{out.stderr}")


def contestants(redis):
    conformance = os.path.join(RELEASE, "examples", "conformance")
    base = {"SESSION_SECRET": SECRET, "SESSION_TIMEOUT": "1200"}
    return [
        ("redis-sessions", [conformance], dict(base, REDIS_URL=redis.url), True),
        ("redis-sessions (memory)", [conformance], dict(base, REDIS_URL="memory://"), False),
        ("tower-sessions", [os.path.join(RELEASE, "tower")], {"REDIS_URL": redis.url}, True),
        ("actix-session", [os.path.join(RELEASE, "actix")], {"REDIS_URL": redis.url}, True),
        ("floor", [os.path.join(RELEASE, "floor")], {"REDIS_URL": redis.url}, True),
    ]


def start_app(name, cmd, env_extra, workdir):
    port = free_port()
    env = dict(os.environ, PORT=str(port), **env_extra)
    env.pop("SETTINGS", None)
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
        for path in routes:
            r = measure(app, port, redis, path, args, cookies_file, uses_redis, cookies)
            result["routes"][path] = r
            print(f"    {path:7} {r['rps']:10.0f} req/s  p99 {r['p99_ms']:6.2f} ms  "
                  f"app {r['app_cpu_us_per_req']:5.1f} us  redis {r['redis_cpu_us_per_req']:5.1f} us  "
                  f"cmds {r['redis_cmds_per_req']:.2f}", flush=True)
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
    names = [r["name"] for r in results]
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


def write_markdown(data, path):
    results, m, args = data["results"], data["machine"], data["args"]
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
             "tower-sessions 0.14 with tower-sessions-redis-store 0.16 (fred); actix-web 4.18 with actix-session 0.11 "
             "(`RedisSessionStore`); the floor is axum plus one pipelined `HGET`/`HINCRBY` + `EXPIRE` per request with an unsigned cookie. "
             "Only redis-sessions refreshes the idle TTL on a read.")
    L.append("- Commands: `scripts/bench.sh` builds in release mode, runs the criterion benches, then "
             "`python3 scripts/bench.py`; raw figures are in `benches/results/latest.json`.\n")
    L.append("![requests per second](benches/results/rps.png)\n")
    L.append("## Throughput and cost per request\n")
    L.append("| contestant | route | req/s (median) | req/s by round | p50 ms | p99 ms | non-2xx | Redis cmds/req | scripts/req | Redis cmd µs/req | Redis CPU µs/req | app CPU µs/req | app + Redis CPU µs/req |")
    L.append("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for r in results:
        for route in ROUTES:
            x = r["routes"][route]
            spread = " / ".join(f"{v / 1000:.1f}k" for v in x["rps_all"])
            L.append(f"| {r['name']} | `{route}` | {fmt(x['rps'], 0)} | {spread} | {fmt(x['p50_ms'], 2)} | {fmt(x['p99_ms'], 2)} | "
                     f"{x['non2xx'] + x['socket_errors']} | {fmt(x['redis_cmds_per_req'], 2)} | {fmt(x['redis_scripts_per_req'], 2)} | "
                     f"{fmt(x['redis_cmd_us_per_req'])} | {fmt(x['redis_cpu_us_per_req'])} | {fmt(x['app_cpu_us_per_req'])} | "
                     f"{fmt(x['app_cpu_us_per_req'] + x['redis_cpu_us_per_req'])} |")
    L.append("")
    L.append("## Ratios (req/s, same run)\n")
    ours = by["redis-sessions"]
    peers = [n for n in ("tower-sessions", "actix-session") if n in by]
    L.append("| route | vs floor | vs tower-sessions | vs actix-session | vs the faster peer | target |")
    L.append("|---|---:|---:|---:|---:|---|")
    targets = {"/plain": "≥ 0.95× floor", "/read": "≥ 0.90× floor, ≥ 1.05× faster peer", "/incr": "≥ 0.70× floor, ≥ 1.15× faster peer"}
    for route in ROUTES:
        o = ours["routes"][route]["rps"]
        cells = [f"{o / by['floor']['routes'][route]['rps']:.2f}×"]
        cells += [f"{o / by[p]['routes'][route]['rps']:.2f}×" for p in peers]
        best = max(by[p]["routes"][route]["rps"] for p in peers)
        cells.append(f"{o / best:.2f}×")
        L.append(f"| `{route}` | " + " | ".join(cells) + f" | {targets[route]} |")
    L.append("")
    floor_ratio = lambda route: ours["routes"][route]["rps"] / by["floor"]["routes"][route]["rps"]
    peer_ratio = lambda route: ours["routes"][route]["rps"] / max(by[p]["routes"][route]["rps"] for p in peers)
    checks = [
        ("`/plain` ≥ 0.95× floor", floor_ratio("/plain"), 0.95),
        ("`/read` ≥ 0.90× floor", floor_ratio("/read"), 0.90),
        ("`/read` ≥ 1.05× the faster peer", peer_ratio("/read"), 1.05),
        ("`/incr` ≥ 0.70× floor", floor_ratio("/incr"), 0.70),
        ("`/incr` ≥ 1.15× the faster peer", peer_ratio("/incr"), 1.15),
    ]
    L.append("| target | this run | met |")
    L.append("|---|---:|---|")
    for name, value, goal in checks:
        L.append(f"| {name} | {value:.2f}× | {'yes' if value >= goal else '**no**'} |")
    L.append("")
    L.append("App + Redis CPU per request (lower is better; the steadier figure on a shared machine), ours against each:\n")
    L.append("| route | ours µs | floor µs | tower-sessions µs | actix-session µs |")
    L.append("|---|---:|---:|---:|---:|")
    cpu = lambda n, route: by[n]["routes"][route]["app_cpu_us_per_req"] + by[n]["routes"][route]["redis_cpu_us_per_req"]
    for route in ROUTES:
        cells = [fmt(cpu(n, route)) for n in ("redis-sessions", "floor", "tower-sessions", "actix-session") if n in by]
        L.append(f"| `{route}` | " + " | ".join(cells) + " |")
    L.append("")
    L.append("## Storage, cookies and lost updates\n")
    L.append("Lost increments: every successful `/incr` of the measured run should add one to a counter; the apps' own "
             "`/read` totals before and after that run show how many did. With 64 connections over 200 sessions, two requests often "
             "increment the same session at once; a read-modify-write of one key loses one of them in every session library "
             "(the last writer wins), while the floor's `HINCRBY` cannot. Requests still in flight when wrk stops are counted by the "
             "apps but not by wrk, so a small negative number is possible.\n")
    L.append("| contestant | Redis bytes per session (`MEMORY USAGE`) | cookie value length | successful `/incr` | counted by the app | lost |")
    L.append("|---|---:|---:|---:|---:|---:|")
    for r in results:
        x = r["routes"]["/incr"]
        ok = x["incr_ok"]
        L.append(f"| {r['name']} | {r.get('memory_usage_bytes', '–')} | {r['cookie_value_len']} | {ok:,} | {x['incr_observed']:,} | {ok - x['incr_observed']:,} |")
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
        for route in ROUTES:
            cmds = r["routes"][route]["commands"]
            L.append(f"| {r['name']} | `{route}` | {', '.join(f'{k} {v:g}' for k, v in sorted(cmds.items())) or 'none'} |")
    L.append("")
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
    p.add_argument("--out", default=os.path.join(ROOT, "BENCHMARKS.md"))
    p.add_argument("--only", action="append", default=[],
                   help="run only this contestant (repeatable); prints figures, writes nothing")
    args = p.parse_args()
    if args.quick:
        args.duration, args.warmup, args.scale, args.rounds = 3, 1, 100_000, 1
    os.makedirs(RESULTS, exist_ok=True)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="redis-sessions-bench-") as workdir:
        redis = Redis(workdir)
        try:
            runs = {}
            for round_no in range(args.rounds):
                print(f"== round {round_no + 1} of {args.rounds}", flush=True)
                for name, cmd, env_extra, uses_redis in contestants(redis):
                    if args.only and name not in args.only:
                        continue
                    r = run_contestant(name, cmd, env_extra, uses_redis, redis, args, workdir)
                    runs.setdefault(name, []).append(r)
            results = [combine(rs) for rs in runs.values()]
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
