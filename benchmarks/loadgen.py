"""A small closed-loop HTTP load generator: ``--threads`` threads, each with its own kept-alive
connection (http.client), GET one URL as fast as the answers come, for at most ``--seconds``
(after ``--warmup`` seconds that are not counted) and at most ``--max-requests`` requests.

Prints one JSON object: requests counted, errors (by status or exception), requests per second,
latency percentiles (ms), reconnections, and this process's CPU seconds (it shares the machine
with the server it measures).

    python benchmarks/loadgen.py --url 'http://127.0.0.1:8000/live/?open=&after=5' \\
        --header 'Cookie: sessionid=...' --header 'HX-Request: true'
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import statistics
import threading
import time
from collections import Counter
from urllib.parse import urlsplit


def percentile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0..1) of ``values``, nearest-rank on the sorted list."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))
    return ordered[rank]


def run(url: str, headers: dict[str, str], threads: int, seconds: float, warmup: float, max_requests: int,
        timeout: float) -> dict[str, object]:
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    lock = threading.Lock()
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    statuses: Counter[int] = Counter()
    counted = [0]
    answered = [0]  # every answer, warm-up included (the server's work over the whole run)
    reconnects = [0]
    begin = time.perf_counter()
    measure_from = begin + warmup
    stop_at = measure_from + seconds
    stop = threading.Event()

    def worker() -> None:
        conn: http.client.HTTPConnection | None = None
        while not stop.is_set():
            now = time.perf_counter()
            if now >= stop_at:
                return
            if conn is None:
                conn = http.client.HTTPConnection(host, port, timeout=timeout)
                with lock:
                    reconnects[0] += 1
            start = time.perf_counter()
            try:
                conn.request("GET", target, headers=headers)
                answer = conn.getresponse()
                answer.read()
                status = answer.status
                if answer.will_close:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as exc:
                if conn is not None:
                    conn.close()
                conn = None
                if start >= measure_from:
                    with lock:
                        errors[type(exc).__name__] += 1
                continue
            end = time.perf_counter()
            with lock:
                answered[0] += 1
            if start < measure_from or end > stop_at:
                continue
            with lock:
                if counted[0] >= max_requests:
                    stop.set()
                    return
                counted[0] += 1
                statuses[status] += 1
                if status not in (200, 204):
                    errors[f"HTTP {status}"] += 1
                latencies.append(end - start)
        if conn is not None:
            conn.close()

    pool = [threading.Thread(target=worker, daemon=True) for _ in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join(timeout=warmup + seconds + timeout + 5)
    stop.set()
    measured = min(time.perf_counter(), stop_at) - measure_from
    cpu = os.times()
    ms = [x * 1000 for x in latencies]
    return {
        "url": url,
        "threads": threads,
        "seconds": round(measured, 3),
        "requests": counted[0],
        "all_requests": answered[0],
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": dict(errors),
        "rps": round(counted[0] / measured, 1) if measured > 0 else 0.0,
        "p50_ms": round(statistics.median(ms), 2) if ms else None,
        "p90_ms": round(percentile(ms, 0.90), 2) if ms else None,
        "p99_ms": round(percentile(ms, 0.99), 2) if ms else None,
        "max_ms": round(max(ms), 2) if ms else None,
        "connections_opened": reconnects[0],
        "loadgen_cpu_seconds": round(cpu.user + cpu.system, 2),
        "stopped_by": "max-requests" if counted[0] >= max_requests else "time",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--header", action="append", default=[], help="'Name: value' (repeatable)")
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--max-requests", type=int, default=50_000)
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    args = parser.parse_args()
    headers = {}
    for line in args.header:
        name, _, value = line.partition(":")
        headers[name.strip()] = value.strip()
    print(json.dumps(run(args.url, headers, args.threads, args.seconds, args.warmup, args.max_requests,
                         args.timeout)))


if __name__ == "__main__":
    main()
