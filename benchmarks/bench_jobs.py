"""Spark jobs against the real local Livy: time from Submit to ``running`` and to ``success``
for the sample job (examples/jobs), through the app beside ``curl`` against the same Livy.

* **app**: the Jobs form is posted (the three files uploaded) with Django's test client, then
  the job's poll endpoint is asked every ``LIVY_POLL_INTERVAL`` (1 s), as jobs.js does; the
  clock stops when the poll first says ``running`` and ``success``.
* **curl**: ``curl -X POST /batches`` with the body the app sent (the same stored files), then
  ``curl /batches/{id}/state`` every 0.1 s.

Rounds alternate app and curl (``--rounds``, default 2: four batches, 15-30 s each on two idle
cores). Prints each figure's median with the machine's load. Usage:
``.venv/bin/python benchmarks/bench_jobs.py [--rounds N]`` (scripts/livy/livy.sh up first).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.update({
    "DJANGO_SETTINGS_MODULE": "myapp.settings",
    "LIVY_DOTENV": "0",
    "DATABASE_PATH": str(Path(tempfile.mkdtemp()) / "bench.sqlite3"),
    "ALLOWED_HOSTS": "testserver",
    "DEBUG": "true",
    "DJANGO_SECRET": "benchmark-only-" + "x" * 40,
    "LIVY_BACKEND": "apache",
    "LIVY_BASE_ENDPOINT": os.environ.get("LIVY_BENCH_ENDPOINT", "http://127.0.0.1:8998"),
    "LIVY_SESSION_NAME_PREFIX": os.environ.get("LIVY_BENCH_PREFIX", "bench-"),
})

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.files.uploadedfile import SimpleUploadedFile  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from livy.clients import current_config  # noqa: E402
from livy.models import Batch  # noqa: E402

JOBS = ROOT / "examples" / "jobs"
LIVY = os.environ["LIVY_BASE_ENDPOINT"]
TIMEOUT = 900


def _files(zip_path: Path) -> dict[str, object]:
    return {
        "file_upload": SimpleUploadedFile("etl_job.py", (JOBS / "etl_job.py").read_bytes()),
        "py_files_upload": [SimpleUploadedFile("packages.zip", zip_path.read_bytes())],
        "files_upload": [SimpleUploadedFile("etl_config.json", (JOBS / "configs/etl_config.json").read_bytes())],
    }


def app_round(client: Client, zip_path: Path, output: Path) -> tuple[float, float, dict]:
    """(submit->running, submit->success) seconds through the app; and the body it sent."""
    interval = current_config().LIVY_POLL_INTERVAL
    start = time.monotonic()
    response = client.post(reverse("livy:job_submit"), {"args": f"--output\n{output}", **_files(zip_path)})
    assert response.status_code == 302, response.content.decode()[-2000:]
    row = Batch.objects.latest("pk")
    running = None
    out = err = 0
    while time.monotonic() - start < TIMEOUT:
        data = client.get(reverse("livy:job_poll", args=[row.pk]), {"out": out, "err": err}).json()
        out, err = data["out"], data["err"]
        if running is None and data["state"] in ("running", "success"):
            running = time.monotonic() - start
        if not data["live"]:
            assert data["state"] == "success", data
            return running or 0.0, time.monotonic() - start, row.request
        time.sleep(interval)
    raise AssertionError("the app's job did not end in time")


def _curl(*args: str) -> dict:
    done = subprocess.run(["curl", "-sS", "--fail-with-body", *args], capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def curl_round(body: dict, output: Path) -> tuple[float, float]:
    """(submit->running, submit->success) seconds with curl, polling /state every 0.1 s."""
    sent = {**body, "name": f"{body['name']}-curl-{time.monotonic_ns()}", "args": ["--output", str(output)]}
    start = time.monotonic()
    batch = _curl("-X", "POST", "-H", "Content-Type: application/json", "-H", "X-Requested-By: bench",
                  "-d", json.dumps(sent), f"{LIVY}/batches")
    running = None
    while time.monotonic() - start < TIMEOUT:
        state = _curl(f"{LIVY}/batches/{batch['id']}/state")["state"]
        if running is None and state in ("running", "success"):
            running = time.monotonic() - start
        if state in ("success", "dead", "killed", "error"):
            assert state == "success", state
            return running or 0.0, time.monotonic() - start
        time.sleep(0.1)
    raise AssertionError("curl's job did not end in time")


def main(rounds: int) -> None:
    call_command("migrate", verbosity=0)
    call_command("setup_roles", stdout=open(os.devnull, "w"))
    user = User.objects.create_user("bench", password="x")
    user.groups.add(Group.objects.get(name="Editors"))
    client = Client()
    client.force_login(user)
    work = Path(tempfile.mkdtemp())
    zip_path = work / "packages.zip"
    subprocess.run([str(JOBS / "build_dependencies.sh"), str(zip_path)], check=True, capture_output=True)
    app: list[tuple[float, float]] = []
    direct: list[tuple[float, float]] = []
    load = os.getloadavg()[0]
    for n in range(rounds):
        *times, body = app_round(client, zip_path, work / f"app-{n}")
        app.append((times[0], times[1]))
        direct.append(curl_round(body, work / f"curl-{n}"))
        print(f"round {n + 1}: app running {app[-1][0]:.1f} s, success {app[-1][1]:.1f} s; "
              f"curl running {direct[-1][0]:.1f} s, success {direct[-1][1]:.1f} s", flush=True)
    print(f"\nsample job (examples/jobs), {rounds} round(s), {os.cpu_count()} CPUs, "
          f"load average {load:.1f} at start, {os.getloadavg()[0]:.1f} at end")
    for label, pairs in (("app (poll every 1 s, as the page)", app), ("curl (GET /state every 0.1 s)", direct)):
        print(f"{label:<38} submit->running median {statistics.median(p[0] for p in pairs):6.1f} s   "
              f"submit->success median {statistics.median(p[1] for p in pairs):6.1f} s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=2)
    main(parser.parse_args().rounds)
