#!/usr/bin/env python3
"""A realistic population: real sessions made through the conformance app,
then read (`/read`) with Zipf-like popularity (a few sessions very often,
most rarely; scripts/zipf.lua), by the app with its process cache of 10,000
sessions (`ours+cache`) and without it (`redis-sessions`). Reports the
cache's hit rate, req/s, the app's resident memory and Redis CPU per
request. Uses the release builds of scripts/bench.sh and its helpers.

    python3 scripts/population.py                      # 100,000 and 1,000,000 sessions
    python3 scripts/population.py --sessions 100000    # one population

Writes benches/results/population.json; scripts/bench.py --rewrite puts its
table in BENCHMARKS.md."""

import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

OUT = os.path.join(bench.RESULTS, "population.json")


def make_sessions(port, count, workdir):
    """`count` real sessions (counter = 1), made with wrk; their cookies' file."""
    prefix = os.path.join(workdir, "made")
    made = 0
    while made < count:
        env = dict(os.environ, OUT=prefix)
        subprocess.run(["wrk", "-t", "1", "-c", "32", "-d", "5s", "-s",
                        os.path.join(bench.ROOT, "scripts", "sessions.lua"),
                        f"http://127.0.0.1:{port}/incr"],
                       env=env, capture_output=True, text=True, timeout=120, check=True)
        made = sum(sum(1 for _ in open(p)) for p in glob.glob(prefix + ".*"))
        print(f"    {made:,} sessions made", flush=True)
    path = os.path.join(workdir, "cookies.txt")
    with open(path, "w") as out:
        written = 0
        for p in sorted(glob.glob(prefix + ".*")):
            for line in open(p):
                if written < count and line.strip():
                    out.write(line)
                    written += 1
    return path


def zipf(port, seconds, cookies, connections):
    env = dict(os.environ, COOKIES=cookies)
    out = subprocess.run(["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency",
                          "-s", os.path.join(bench.ROOT, "scripts", "zipf.lua"),
                          f"http://127.0.0.1:{port}/read"],
                         env=env, capture_output=True, text=True, timeout=seconds + 120)
    for line in out.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            return json.loads(line[len("WRK_JSON "):])
    raise SystemExit(f"wrk printed no figures:\n{out.stdout}\n{out.stderr}")


def counter(port, name):
    _, body, _ = bench.get(port, "/metrics")
    for line in body.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def run(name, env_extra, redis, cookies, args, workdir):
    app, port = bench.start_app(name, [os.path.join(bench.RELEASE, "examples", "conformance")],
                                env_extra, workdir)
    try:
        zipf(port, args.warmup, cookies, args.connections)
        hits0 = counter(port, "redis_sessions_cache_hits_total")
        misses0 = counter(port, "redis_sessions_cache_misses_total")
        redis0, app0 = redis.cpu_seconds(), bench.proc_cpu_seconds(app.pid)
        run = zipf(port, args.seconds, cookies, args.connections)
        redis1, app1 = redis.cpu_seconds(), bench.proc_cpu_seconds(app.pid)
        hits = counter(port, "redis_sessions_cache_hits_total") - hits0
        misses = counter(port, "redis_sessions_cache_misses_total") - misses0
        n = max(run["requests"], 1)
        return {
            "name": name,
            "rps": n / (run["duration_us"] / 1e6),
            "non2xx": run["non2xx"],
            "p99_ms": run["p99_us"] / 1000,
            "hit_rate": hits / (hits + misses) if hits + misses else None,
            "app_rss_mib": rss_mib(app.pid),
            "app_cpu_us_per_req": (app1 - app0) * 1e6 / n,
            "redis_cpu_us_per_req": (redis1 - redis0) * 1e6 / n,
        }
    finally:
        bench.stop(app, name)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sessions", type=int, action="append", default=[])
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("--connections", type=int, default=64)
    args = p.parse_args()
    populations = args.sessions or [100_000, 1_000_000]
    results = []
    base = {"SESSION_SECRET": bench.SECRET, "SESSION_TIMEOUT": str(bench.TIMEOUT)}
    for count in populations:
        with tempfile.TemporaryDirectory(prefix="redis-sessions-population-") as workdir:
            redis = bench.Redis(workdir)
            try:
                print(f"== {count:,} sessions", flush=True)
                maker, port = bench.start_app("maker", [os.path.join(bench.RELEASE, "examples", "conformance")],
                                              dict(base, REDIS_URL=redis.url), workdir)
                try:
                    cookies = make_sessions(port, count, workdir)
                finally:
                    bench.stop(maker, "maker")
                for name, extra in [(bench.ON_CACHE, {"SETTINGS": bench.cache_settings()}),
                                    ("redis-sessions", {"SETTINGS": bench.cache_settings(0)})]:
                    r = run(name, dict(base, REDIS_URL=redis.url, **extra), redis, cookies, args, workdir)
                    r["sessions"] = count
                    results.append(r)
                    hit = "-" if r["hit_rate"] is None else f"{r['hit_rate'] * 100:.1f}%"
                    print(f"--> {name:16} {r['rps']:9.0f} req/s  hits {hit:>6}  RSS {r['app_rss_mib']:6.1f} MiB  "
                          f"app {r['app_cpu_us_per_req']:5.1f} us  redis {r['redis_cpu_us_per_req']:5.1f} us  "
                          f"non-2xx {r['non2xx']}", flush=True)
            finally:
                redis.stop()
    os.makedirs(bench.RESULTS, exist_ok=True)
    with open(OUT, "w") as f:
        json.dump({"date": time.strftime("%Y-%m-%d"), "cache_size": bench.CACHE_SIZE,
                   "seconds": args.seconds, "connections": args.connections, "results": results}, f, indent=1)
    print(f"==> wrote {os.path.relpath(OUT, bench.ROOT)}")


if __name__ == "__main__":
    main()
