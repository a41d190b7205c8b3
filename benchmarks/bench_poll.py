"""Benchmark of the notebook's hot path: the ``#live`` fragment the page polls every second.

Measures the app's own cost per request (Django, database, templates, our client), with Livy
answering instantly through a `responses` fake, so the figures do not depend on a Spark
server. Prints latency percentiles and requests per second for:

1. a poll while a statement runs (one GET of the session and one of the statement on Livy),
2. a poll once everything has finished (served from the database; no Livy call),
3. the notebook page with a long history (200 statements with output; it shows the latest 50).

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_poll.py [requests]``).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
# A throw-away database and no .env: the benchmark never touches the developer's data.
os.environ.update({
    "DJANGO_SETTINGS_MODULE": "myapp.settings",
    "LIVY_DOTENV": "0",
    "DATABASE_PATH": str(Path(tempfile.mkdtemp()) / "bench.sqlite3"),
    "ALLOWED_HOSTS": "testserver",
    "DEBUG": "false",
    "DJANGO_SECRET": "benchmark-only-" + "x" * 40,
    "LIVY_BACKEND": "apache",
    "LIVY_BASE_ENDPOINT": "http://127.0.0.1:8998",
    "LIVY_REFRESH_MIN_INTERVAL": "0",
})

import django  # noqa: E402

django.setup()

import responses  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from livy.models import SparkSession, Statement  # noqa: E402
from tests.support.livy_json import LIVY, ok_output, session_json, statement_json  # noqa: E402


def measure(label: str, client: Client, url: str, count: int) -> None:
    timings = []
    for _ in range(count):
        start = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - start)
        assert response.status_code == 200, response.status_code
    timings.sort()
    p50 = statistics.median(timings) * 1000
    p95 = timings[int(len(timings) * 0.95) - 1] * 1000
    print(f"{label:<52} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   {count / sum(timings):7.0f} req/s")


def main(count: int) -> None:
    call_command("migrate", verbosity=0)
    call_command("setup_roles", stdout=open(os.devnull, "w"))
    user = User.objects.create_user("bench", password="x")
    user.groups.add(Group.objects.get(name="Editors"))
    client = Client()
    client.force_login(user)

    session = SparkSession.objects.create(owner=user, backend="apache", endpoint=LIVY, livy_id="1",
                                          name="bench", state="busy")
    running = Statement.objects.create(session=session, author=user, code="x", livy_id=0, state="running")
    live_url = reverse("livy:live", args=[session.pk])
    with responses.RequestsMock() as mock:
        mock.get(f"{LIVY}/sessions/1", json=session_json(1, "busy"))
        mock.get(f"{LIVY}/sessions/1/statements/0", json=statement_json(0, "running", "x", progress=0.5))
        measure("poll while a statement runs (2 Livy GETs)", client, live_url, count)

    running.state = "available"
    running.save()
    session.state = "idle"
    session.save()
    with responses.RequestsMock() as mock:  # no routes: any Livy call would fail
        measure("poll after everything finished (no Livy call)", client, live_url, count)

    Statement.objects.bulk_create(
        Statement(session=session, author=user, code=f"spark.range({i}).count()", livy_id=i + 1,
                  state="available", output=ok_output(str(i) * 40, i))
        for i in range(200)
    )
    with responses.RequestsMock():
        measure("notebook page, 200 finished statements", client, reverse("livy:notebook"), max(20, count // 5))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
