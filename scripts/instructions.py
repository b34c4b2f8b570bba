#!/usr/bin/env python3
"""Instructions per request of one contestant on one route, counted by
valgrind's callgrind over the app process under wrk: unlike time on a shared
machine, the count repeats to within about 1% from run to run, so it shows
what a code change saves. Uses the release builds of scripts/bench.sh and its
helpers (a private redis-server, 200 primed sessions).

    python3 scripts/instructions.py redis-sessions /read [seconds] [connections]
    python3 scripts/instructions.py floor /incr
    INSTRUCTIONS_KEEP=/tmp/cg.out python3 scripts/instructions.py redis-sessions /read
                    # keeps the callgrind dump: `callgrind_annotate /tmp/cg.out`

Contestants: redis-sessions, ours+cache (with the process cache on), memory
(redis-sessions on the embedded store),
redis-sessions-actix (on actix-web), floor, actix-session, tower-sessions. Counts include everything the process
runs (hyper, tokio, the redis client); valgrind does not use the CPU's SHA
extensions, so SHA-256 counts about 10k instructions more per request than
it costs natively."""

import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    name, route = sys.argv[1], sys.argv[2]
    seconds = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    connections = int(sys.argv[4]) if len(sys.argv) > 4 else 8
    binaries = {
        "redis-sessions": os.path.join(bench.RELEASE, "examples", "conformance"),
        "memory": os.path.join(bench.RELEASE, "examples", "conformance"),
        "ours+cache": os.path.join(bench.RELEASE, "examples", "conformance"),
        "redis-sessions-actix": os.path.join(bench.RELEASE, "examples", "conformance-actix"),
        "floor": os.path.join(bench.RELEASE, "floor"),
        "actix-session": os.path.join(bench.RELEASE, "actix"),
        "tower-sessions": os.path.join(bench.RELEASE, "tower"),
    }
    if name not in binaries:
        sys.exit(f"unknown contestant {name!r}: expected one of {', '.join(binaries)}")
    with tempfile.TemporaryDirectory(prefix="redis-sessions-instructions-") as work:
        redis = bench.Redis(work)
        env = {"SESSION_SECRET": bench.SECRET, "SESSION_TIMEOUT": str(bench.TIMEOUT),
               "REDIS_URL": "memory://" if name == "memory" else redis.url}
        if name != "memory" and name.startswith(("redis-sessions", "ours")):
            # The process cache is on by default: off but for ours+cache.
            env["SETTINGS"] = bench.cache_settings(None if name == "ours+cache" else 0)
        out = os.path.join(work, "callgrind.out")
        port = bench.free_port()
        app = subprocess.Popen(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", binaries[name]],
            env=dict(os.environ, PORT=str(port), **env),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 60
            while True:
                try:
                    if bench.get(port, "/plain")[0] == 200:
                        break
                except OSError:
                    time.sleep(0.2)
                if time.time() > deadline or app.poll() is not None:
                    sys.exit(f"{name} did not start under valgrind within 60 s")

            class Args:
                threads = 1

            Args.connections = connections
            cookies_file = os.path.join(work, "cookies.txt")
            bench.prime(port, 200, cookies_file)
            bench.wrk(port, route, 3, Args, cookies_file)  # warm-up
            subprocess.run(["callgrind_control", "-z", str(app.pid)], capture_output=True, check=True)
            run = bench.wrk(port, route, seconds, Args, cookies_file)
            subprocess.run(["callgrind_control", "-d", str(app.pid)], capture_output=True, check=True)
            time.sleep(1)
            dumps = [f for f in glob.glob(out + "*") if re.search(r"\.\d+$", f)]
            total = None
            with open(max(dumps, key=os.path.getmtime)) as f:
                for line in f:
                    if line.startswith(("summary:", "totals:")):
                        total = int(line.split()[1])
            requests = max(run["requests"], 1)
            keep = os.environ.get("INSTRUCTIONS_KEEP")
            if keep:
                # For `callgrind_annotate KEEP`: where the instructions go.
                shutil.copy(max(dumps, key=os.path.getmtime), keep)
            print(f"{name} {route}: {requests} requests, {total / requests / 1000:.1f}k instructions per request")
        finally:
            bench.stop(app, name)
            redis.stop()


if __name__ == "__main__":
    main()
