#!/usr/bin/env python3
"""What a one-key read costs as a session holds more keys: the same `/read`
of `counter` on sessions that also hold 0, 9, 99 or 999 other keys of 100
bytes each, on the release conformance app (scripts/bench.sh builds it)
against a private redis-server. Prints req/s, app and Redis CPU per request
for each size, and the req/s of each size relative to the one-key session.

    python3 scripts/keys.py [--sizes 1,10,100,1000] [--duration 5] [--sessions 50]

Interleaved rounds (each size once per round), medians reported; each size
with the process cache off (every read goes to Redis) and on (`ours+cache`).
Writes benches/results/keys.json for BENCHMARKS.md."""

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def fill(port, cookie, keys):
    """Adds keys k0001.. with 100-byte values to the session of `cookie`."""
    for i in range(keys):
        status, _, _ = bench.get(port, f"/set?key=k{i:04}&value={'v' * 100}", cookie)
        if status != 200:
            raise SystemExit(f"/set answered {status}")


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--sizes", default="1,10,100,1000")
    p.add_argument("--duration", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--sessions", type=int, default=50)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    conformance = os.path.join(bench.RELEASE, "examples", "conformance")
    modes = [("off", 0), ("on", bench.CACHE_SIZE)]
    runs = {(mode, size): [] for mode, _ in modes for size in sizes}
    with tempfile.TemporaryDirectory(prefix="redis-sessions-keys-") as work:
        redis = bench.Redis(work)
        try:
            for round_no in range(args.rounds):
                for (mode, cache), size in [(m, s) for m in modes for s in sizes]:
                    redis.call("FLUSHALL")
                    env = {"SESSION_SECRET": bench.SECRET, "SESSION_TIMEOUT": str(bench.TIMEOUT),
                           "REDIS_URL": redis.url, "SETTINGS": bench.cache_settings(cache)}
                    app, port = bench.start_app("conformance", [conformance], env, work)
                    try:
                        cookies_file = os.path.join(work, "cookies.txt")
                        cookies = bench.prime(port, args.sessions, cookies_file)
                        for cookie in cookies:
                            fill(port, cookie, size - 1)
                        r = bench.measure(app, port, redis, "/read", args, cookies_file, True, cookies)
                    finally:
                        bench.stop(app, "conformance")
                    runs[(mode, size)].append(r)
                    print(f"round {round_no + 1}: cache {mode:3} {size:5} keys  {r['rps']:9.0f} req/s  "
                          f"app {r['app_cpu_us_per_req']:7.1f} us  redis {r['redis_cpu_us_per_req']:6.1f} us",
                          flush=True)
        finally:
            redis.stop()
    table = {}
    for mode, _ in modes:
        rows = table[mode] = {}
        for field in ("rps", "app_cpu_us_per_req", "redis_cpu_us_per_req"):
            rows[field] = [bench.median([r[field] for r in runs[(mode, s)]]) for s in sizes]
    with open(os.path.join(bench.RESULTS, "keys.json"), "w") as f:
        json.dump({"sizes": sizes, "modes": table}, f, indent=1)
    print("\n" + "\n".join(markdown({"sizes": sizes, "modes": table})))


def markdown(data):
    """The table of keys.json, for BENCHMARKS.md."""
    sizes, L = data["sizes"], []
    L.append("| keys stored (100 B values) | cache | " + " | ".join(f"{s:,}" for s in sizes) + " |")
    L.append("|---|---|" + "---:|" * len(sizes))
    base = data["modes"]["off"]["rps"][0]
    for mode, rows in data["modes"].items():
        L.append(f"| req/s | {mode} | " + " | ".join(f"{v / 1000:.1f}k" for v in rows["rps"]) + " |")
        L.append(f"| vs 1 key, cache off | {mode} | " + " | ".join(f"{v / base:.2f}×" for v in rows["rps"]) + " |")
        for label, field in (("app CPU µs/req", "app_cpu_us_per_req"), ("Redis CPU µs/req", "redis_cpu_us_per_req")):
            L.append(f"| {label} | {mode} | " + " | ".join(f"{v:,.1f}" for v in rows[field]) + " |")
    return L


if __name__ == "__main__":
    main()
