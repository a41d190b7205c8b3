"""Opt-in diagnostic middleware for benchmarks (``bench_livy.py --server-timing``): for every
request, its wall time, the CPU time of the thread that served it, the time and number of its
SQL queries and of its HTTP calls to Livy (``requests``' adapter, timed while this module is
loaded), appended as one line to the file ``BENCH_SERVER_TIMING`` names and sent as a
``Server-Timing`` header. SQL runs in the thread, so its CPU is inside ``cpu``; wall minus
CPU minus Livy is time spent waiting for something else; ``runq`` is the part of it the thread
spent runnable but waiting for a CPU (Linux ``/proc/thread-self/schedstat``: the machine gave
the CPU to another process or thread), the rest is disk (SQLite's syncs), locks or the GIL.

Added first in MIDDLEWARE by ``benchmarks/bench_settings.py`` only when ``BENCH_SERVER_TIMING``
is set; the app never loads it otherwise.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable

from django.db import connection
from django.db.backends.base.base import BaseDatabaseWrapper
from django.http import HttpRequest, HttpResponse
from requests.adapters import HTTPAdapter

_calls = threading.local()
_send = HTTPAdapter.send


def _timed_send(self, request, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003 - requests' signature
    start = time.perf_counter()
    try:
        return _send(self, request, *args, **kwargs)
    finally:
        if getattr(_calls, "active", False):
            _calls.count += 1
            _calls.seconds += time.perf_counter() - start


HTTPAdapter.send = _timed_send
_commit = BaseDatabaseWrapper._commit


def _timed_commit(self):  # noqa: ANN001 - Django's signature
    start = time.perf_counter()
    try:
        return _commit(self)
    finally:
        if getattr(_calls, "active", False):
            _calls.commits += 1
            _calls.commit_seconds += time.perf_counter() - start


BaseDatabaseWrapper._commit = _timed_commit


def _run_queue_ns() -> int:
    """Nanoseconds this thread has waited on a run queue (0 where the kernel does not say)."""
    try:
        with open("/proc/thread-self/schedstat") as f:
            return int(f.read().split()[1])
    except (OSError, ValueError, IndexError):
        return 0


class ServerTiming:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response
        self.path = os.environ["BENCH_SERVER_TIMING"]

    def __call__(self, request: HttpRequest) -> HttpResponse:
        sql = [0, 0.0, 0, 0.0]  # queries, seconds, writes (INSERT/UPDATE/DELETE), their seconds

        def timed(execute, query, params, many, context):  # noqa: ANN001 - Django's wrapper signature
            start = time.perf_counter()
            try:
                return execute(query, params, many, context)
            finally:
                took = time.perf_counter() - start
                sql[0] += 1
                sql[1] += took
                if query.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
                    sql[2] += 1
                    sql[3] += took

        _calls.active, _calls.count, _calls.seconds, _calls.commits, _calls.commit_seconds = True, 0, 0.0, 0, 0.0
        start, cpu, runq = time.perf_counter(), time.thread_time(), _run_queue_ns()
        try:
            with connection.execute_wrapper(timed):
                response = self.get_response(request)
        finally:
            _calls.active = False
        wall = (time.perf_counter() - start) * 1000
        cpu_ms = (time.thread_time() - cpu) * 1000
        livy_ms = _calls.seconds * 1000
        runq_ms = (_run_queue_ns() - runq) / 1e6
        response["Server-Timing"] = (f'app;dur={wall:.1f}, cpu;dur={cpu_ms:.1f}, '
                                     f'db;dur={sql[1] * 1000:.1f};desc="{sql[0]} queries", '
                                     f'livy;dur={livy_ms:.1f};desc="{_calls.count} calls"')
        line = (f"{time.time():.3f} {os.getpid()} {request.method} {request.path} {response.status_code} "
                f"wall={wall:.2f} cpu={cpu_ms:.2f} sql={sql[1] * 1000:.2f} queries={sql[0]} "
                f"livy={livy_ms:.2f} calls={_calls.count} other={max(0.0, wall - cpu_ms - livy_ms):.2f} runq={runq_ms:.2f} "
                f"commits={_calls.commits} commit={_calls.commit_seconds * 1000:.2f} "
                f"writes={sql[2]} write={sql[3] * 1000:.2f}\n")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)
        return response
