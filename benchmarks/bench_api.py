"""API figures against the real local Apache Livy (prints them; not a timed test):

1. submit-to-result of ``1+1``: ``POST /api/v1/statements?wait=10`` (one request, the answer
   carries the result) beside a direct REST client on the same Livy (POST, then GET every
   10 ms), each in its own idle session, alternating, ``--samples`` each. Goal (issue 15):
   <= 1.15x and <= +30 ms of direct.
2. requests/s of ``GET /api/v1/statements/{id}`` for a finished statement, personal token,
   under gunicorn (scripts/serve.sh's flags: 2 workers x 4 threads) with
   ``benchmarks/loadgen.py`` in a second process on the same 2 cores. Goal: >= 800.

    .venv/bin/python benchmarks/bench_api.py --samples 20
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.bench_livy import TRIVIAL, App, DirectLivy, machine  # noqa: E402

#: Tries at starting each Livy session.
START_ATTEMPTS = 3
MAKE_USER = (
    "from django.contrib.auth.models import Group, User; from api import tokens; "
    "u = User.objects.create_user('bench-api'); u.groups.add(Group.objects.get(name='Editors')); "
    "print(tokens.issue(u, 'bench')[1])"
)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--livy", default="http://127.0.0.1:8998")
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--load-seconds", type=float, default=10.0)
    parser.add_argument("--load-threads", type=int, default=8)
    parser.add_argument("--start-timeout", type=float, default=900.0, help="seconds a new Livy session may take")
    args = parser.parse_args()
    prefix = f"bench-api-{int(time.time())}-"
    with tempfile.TemporaryDirectory(prefix="bench-api-") as tmp:
        app = App(Path(tmp), ROOT, args.livy, prefix)
        app.env["API_THROTTLE_RATE"] = "100000000/min"  # measure the app, not the throttle
        app.env["API_WAIT_MAX"] = "60"
        app.prepare()
        app.run("manage.py", "setup_roles")
        token = app.run("manage.py", "shell", "-c", MAKE_USER).strip().splitlines()[-1]
        app.start()
        http = requests.Session()
        http.headers["Authorization"] = f"Bearer {token}"
        base = f"http://127.0.0.1:{app.port}/api/v1"
        direct = DirectLivy(args.livy, prefix + "direct")
        session_id = None
        try:
            print("starting the two sessions (Livy's start dominates) ...", file=sys.stderr)
            # A loaded machine may fail a Spark driver's start (Livy's own timeouts): try again.
            for attempt in range(START_ATTEMPTS):
                try:
                    direct.start_session(timeout=args.start_timeout)
                    break
                except RuntimeError as exc:
                    print(f"direct session start {attempt + 1} failed: {exc}", file=sys.stderr)
                    direct.delete()
                    direct = DirectLivy(args.livy, f"{prefix}direct-{attempt + 1}")
            else:
                raise RuntimeError("the direct client's session never started")
            for attempt in range(START_ATTEMPTS):
                first = http.post(f"{base}/statements?wait=60", json={"code": TRIVIAL}, timeout=90).json()
                deadline = time.monotonic() + args.start_timeout
                while not first["terminal"] and time.monotonic() < deadline:
                    first = http.get(f"{base}/statements/{first['id']}?wait=30", timeout=60).json()
                session_id = first["session_id"]
                if first["state"] == "available":
                    break
                print(f"API session start {attempt + 1} failed: {first['state']} {first.get('error')}", file=sys.stderr)
            else:
                raise RuntimeError("the API's session never started")
            api_ms, direct_ms, texts = [], [], set()
            for _ in range(args.samples):
                t0 = time.perf_counter()
                stmt = http.post(f"{base}/statements?wait=10", json={"code": TRIVIAL}, timeout=30).json()
                api_ms.append((time.perf_counter() - t0) * 1000)
                assert stmt["terminal"] and stmt["state"] == "available", stmt
                texts.add(stmt["output"]["text"])
                direct_ms.append(direct.statement(TRIVIAL)["ms"])
            finished = stmt["id"]
            app.stop()
            app.start()  # fresh workers for the load
            cmd = [sys.executable, str(ROOT / "benchmarks" / "loadgen.py"), "--url", f"{base}/statements/{finished}",
                   "--header", f"Authorization: Bearer {token}", "--threads", str(args.load_threads),
                   "--seconds", str(args.load_seconds), "--warmup", "2"]
            done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=args.load_seconds + 90)
            if done.returncode != 0:
                raise RuntimeError(done.stderr[-3000:])
            load = json.loads(done.stdout.strip().splitlines()[-1])
        finally:
            direct.delete()
            if session_id is not None:
                http.delete(f"{base}/sessions/{session_id}", timeout=60)
            app.stop()
    a, d = statistics.median(api_ms), statistics.median(direct_ms)
    m = machine()
    print(f"API benchmark, {time.strftime('%Y-%m-%dT%H:%M:%S%z')}; {m}")
    rows = [
        ("1. submit->result 1+1, API (POST ?wait=10), median", f"{a:.0f} ms", "<= 1.15x and <= +30 ms of direct"),
        ("1. submit->available 1+1, direct REST (10 ms GETs), median", f"{d:.0f} ms", "reference"),
        ("1. ratio / difference (median)", f"{a / d:.2f}x / {a - d:+.0f} ms",
         "PASS" if a <= 1.15 * d and a - d <= 30 else "FAIL"),
        ("1. p95 API / direct", f"{sorted(api_ms)[int(0.95 * len(api_ms)) - 1]:.0f} / "
         f"{sorted(direct_ms)[int(0.95 * len(direct_ms)) - 1]:.0f} ms", "info"),
        ("1. samples, results", f"{len(api_ms)}/{len(direct_ms)}, {sorted(texts)}", "info"),
        ("2. GET finished statement: req/s, 2 workers x 4 threads", f"{load['rps']:.0f}",
         "PASS (>= 800)" if load["rps"] >= 800 else "FAIL (>= 800)"),
        ("2. p50 / p99, errors", f"{load['p50_ms']:.2f} / {load['p99_ms']:.2f} ms, {load['errors']}", "info"),
    ]
    width = max(len(r[0]) for r in rows)
    for name, value, goal in rows:
        print(f"{name:<{width}}  {value:<28}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
