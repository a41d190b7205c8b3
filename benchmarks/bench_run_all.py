"""Run all of a notebook of 20 trivial cells through the app vs 20 sequential direct REST
statements, on the REAL local Apache Livy (part of ``make bench-livy``; goal: app <= 1.2x).

Both sides use a Livy session of their own, started before the samples (a session start is
not part of the figure). The app side is the notebook page's protocol, in process (Django's
test client, a temporary SQLite database): ``POST /notebooks/<id>/run/`` (Run all, which
drives the chain for up to ``LIVY_RUN_WAIT`` seconds) then ``POST /notebooks/<id>/poll/``
until the run is finished; the direct side POSTs each statement and GETs it every 10 ms until
it is available, then sends the next. The sides take turns (each goes first in turn). Prints
both totals (median of the samples) and the ratio; ``--json`` prints them as JSON.

    .venv/bin/python benchmarks/bench_run_all.py [--samples 5] [--cells 20] [--livy URL]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TERMINAL = ("available", "error", "cancelled", "failed", "dead", "killed")


def wait(predicate, timeout: float, what: str, interval: float = 0.25):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


def start_session(livy: str, name: str) -> int:
    sid = requests.post(f"{livy}/sessions", json={"kind": "pyspark", "name": name}, timeout=30).json()["id"]
    wait(lambda: requests.get(f"{livy}/sessions/{sid}", timeout=10).json()["state"] in ("idle", "dead", "error"),
         240, "the session to start", 0.5)
    state = requests.get(f"{livy}/sessions/{sid}", timeout=10).json()["state"]
    if state != "idle":
        raise RuntimeError(f"session {sid} did not start ({state})")
    return sid


def direct(livy: str, sid: int, codes: list[str]) -> float:
    http = requests.Session()
    start = time.perf_counter()
    for code in codes:
        stmt = http.post(f"{livy}/sessions/{sid}/statements", json={"code": code, "kind": "pyspark"}, timeout=30).json()
        while stmt["state"] not in TERMINAL:
            time.sleep(0.01)
            stmt = http.get(f"{livy}/sessions/{sid}/statements/{stmt['id']}", timeout=30).json()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--livy", default=os.environ.get("LIVY_URL", "http://127.0.0.1:8998"))
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--cells", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    os.environ.update({
        "DJANGO_SETTINGS_MODULE": "myapp.settings", "LIVY_DOTENV": "0",
        "DATABASE_PATH": str(Path(tempfile.mkdtemp()) / "bench.sqlite3"), "ALLOWED_HOSTS": "testserver",
        "DEBUG": "false", "SECURE_SSL_REDIRECT": "false", "DJANGO_SECRET": "benchmark-only-" + "x" * 40,
        "LIVY_BACKEND": "apache", "LIVY_BASE_ENDPOINT": args.livy,
    })
    warnings.filterwarnings("ignore", message="No directory at")
    import django

    django.setup()
    from django.contrib.auth.models import Group, User
    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    from livy.models import SparkSession
    from livy.notebooks import service
    from livy.notebooks.ipynb import NotebookCell
    from myapp.config import current_config

    call_command("migrate", verbosity=0)
    call_command("setup_roles", stdout=open(os.devnull, "w"))
    user = User.objects.create_user("bench", password="x")
    user.groups.add(Group.objects.get(name="Editors"))
    client = Client()
    client.force_login(user)
    prefix = os.environ.get("LIVY_TEST_SESSION_PREFIX", "bench-") + f"runall-{int(time.time())}"
    codes = [f"x{i} = {i} + 1" for i in range(args.cells)]
    notebook = service.create(user, title="Run all bench", cells=[NotebookCell("pyspark", c) for c in codes])
    app_sid = direct_sid = None
    try:
        app_sid = start_session(args.livy, f"{prefix}-app")
        direct_sid = start_session(args.livy, f"{prefix}-direct")
        SparkSession.objects.create(owner=user, backend="apache", endpoint=args.livy, livy_id=str(app_sid),
                                    name=f"{prefix}-app", state="idle", active=True)

        def through_app() -> float:
            start = time.perf_counter()
            state = client.post(reverse("livy:notebook_run", args=[notebook.pk]), json.dumps({"mode": "all"}),
                                content_type="application/json").json()
            polls = 0
            while state["run"]["state"] == "running":
                polls += 1
                state = client.post(reverse("livy:notebook_poll", args=[notebook.pk]), "{}",
                                    content_type="application/json").json()
            elapsed = time.perf_counter() - start
            assert state["run"]["state"] == "succeeded", state["run"]
            through_app.polls.append(polls)  # type: ignore[attr-defined]
            return elapsed

        through_app.polls = []  # type: ignore[attr-defined]
        through_app()  # warm-up: the first statements of a session are slower on both sides
        direct(args.livy, direct_sid, codes)
        app_times, direct_times = [], []
        for i in range(args.samples):
            if i % 2 == 0:
                app_times.append(through_app())
                direct_times.append(direct(args.livy, direct_sid, codes))
            else:
                direct_times.append(direct(args.livy, direct_sid, codes))
                app_times.append(through_app())
        app_s, direct_s = statistics.median(app_times), statistics.median(direct_times)
        result = {
            "cells": args.cells, "samples": args.samples, "run_wait_s": current_config().LIVY_RUN_WAIT,
            "app_run_all_s": round(app_s, 3), "direct_rest_s": round(direct_s, 3), "ratio": round(app_s / direct_s, 3),
            "app_samples_s": [round(t, 3) for t in app_times], "direct_samples_s": [round(t, 3) for t in direct_times],
            "page_polls": through_app.polls[1:],  # type: ignore[attr-defined]
            "goal_ratio": 1.2, "passed": app_s / direct_s <= 1.2,
        }
    finally:
        for sid in (app_sid, direct_sid):
            if sid is not None:
                try:
                    requests.delete(f"{args.livy}/sessions/{sid}", timeout=30)
                except requests.RequestException:
                    pass
    if args.json:
        print(json.dumps(result))
        return
    print(f"Run all of {args.cells} trivial cells (median of {args.samples}; LIVY_RUN_WAIT {result['run_wait_s']} s)")
    print(f"  through the app (run POST + page polls): {app_s * 1000:8.0f} ms   samples {result['app_samples_s']}")
    print(f"  {args.cells} sequential direct REST statements: {direct_s * 1000:8.0f} ms   samples {result['direct_samples_s']}")
    print(f"  ratio app / direct: {result['ratio']:.2f}   (goal <= 1.2: {'pass' if result['passed'] else 'FAIL'}); "
          f"page polls per run: {result['page_polls']}")


if __name__ == "__main__":
    main()
