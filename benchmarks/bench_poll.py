"""Benchmark of the notebook's hot path: the poll the page sends while something runs, the
same poll once everything has finished, the page itself, and a Run.

Measures the app's own cost per request (Django, database, templates, our client), with Livy
answering instantly through a `responses` fake that answers as Apache Livy 0.9 would (the
session under the row's Livy id carries the row's name, statements carry their code), so the
figures do not depend on a Spark server. Each row prints latency percentiles, requests per
second and the Livy calls it made per request (with which ones), so a row that measures
something else than its label (an error path, a skipped refresh) shows it:

1. the notebook's poll (``GET /live/?open=<pk>&after=<pk>``) while a statement runs, every
   poll reading Livy (``LIVY_REFRESH_MIN_INTERVAL=0``): one ``GET .../statements/{id}`` per
   poll, and no session read while Apache Livy's statement answer is a success (it would be
   400 or 404 for a session that ended); ``LIVY_SESSION_CHECK_INTERVAL=0.5`` (one per ~15
   polls) shows what a backend that needs the session checks would cost;
2. the notebook's poll once everything has finished (served from the database: no Livy call);
3. the session page's poll once everything has finished (no Livy call);
4. the notebook page with a long history (200 statements with output; it shows the latest 50),
   which verifies the session on Livy (one ``GET /sessions/{id}``);
5. a Run of ``1+1`` (``POST /run/`` from the page's script): the session checked, the
   statement sent (Livy answers it finished), the answer's delta rendered.

Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_poll.py [requests]``).
"""

from __future__ import annotations

import itertools
import os
import re
import statistics
import sys
import tempfile
import time
import warnings
from collections import Counter
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
    "SECURE_SSL_REDIRECT": "false",  # the test client speaks plain HTTP
    "DJANGO_SECRET": "benchmark-only-" + "x" * 40,
    "LIVY_BACKEND": "apache",
    "LIVY_BASE_ENDPOINT": "http://127.0.0.1:8998",
    "LIVY_REFRESH_MIN_INTERVAL": "0",
    # Row 1 polls about 30 times a second: a session check every 0.5 s is one per ~15 polls,
    # as the default 15 s is at the page's 1 s polls.
    "LIVY_SESSION_CHECK_INTERVAL": "0.5",
})
# WhiteNoise (DEBUG=false) warns that staticfiles/ was never collected: no static file is asked for here.
warnings.filterwarnings("ignore", message="No directory at")

import django  # noqa: E402

django.setup()

import responses  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from livy.models import SparkSession, Statement  # noqa: E402
from tests.support.livy_json import LIVY, ok_output, session_json, statement_json  # noqa: E402

SESSION_NAME = "livy-web-bench"  # the row's name; the fake Livy echoes it, as Livy does
_NUMBER = re.compile(r"/\d+(?=/|$)")


def livy_calls(calls) -> Counter[str]:  # noqa: ANN001 - responses' CallList
    """Livy calls the fake received, as ``METHOD /path/{n}`` patterns."""
    return Counter(f"{c.request.method} {_NUMBER.sub('/{n}', c.request.path_url.split('?')[0])}" for c in calls)


def measure(label: str, client: Client, count: int, mock: responses.RequestsMock, request, *,
            expect: str = "") -> None:
    """Time ``request(client)`` ``count`` times; print percentiles, req/s and Livy calls/request.
    ``expect``: a substring every answer must contain (the row measures a success path)."""
    timings = []
    before = len(mock.calls)
    for _ in range(count):
        start = time.perf_counter()
        response = request(client)
        timings.append(time.perf_counter() - start)
        assert response.status_code in (200, 302), (label, response.status_code)
        body = response.content.decode()
        assert "notice-error" not in body, (label, "the answer carries an error notice")
        assert expect in body, (label, f"the answer lacks {expect!r}")
    calls = livy_calls(mock.calls[before:])
    made = len(mock.calls) - before
    timings.sort()
    p50 = statistics.median(timings) * 1000
    p95 = timings[max(0, int(len(timings) * 0.95) - 1)] * 1000
    which = ", ".join(f"{k} x{v}" for k, v in calls.most_common()) or "none"
    print(f"{label:<58} p50 {p50:6.2f} ms   p95 {p95:6.2f} ms   {count / sum(timings):6.0f} req/s   "
          f"Livy calls/request {made / count:.2f} ({which} in {count} requests)")


def main(count: int) -> None:
    call_command("migrate", verbosity=0)
    call_command("setup_roles", stdout=open(os.devnull, "w"))
    user = User.objects.create_user("bench", password="x")
    user.groups.add(Group.objects.get(name="Editors"))
    client = Client()
    client.force_login(user)
    fragment = {"HTTP_X_LIVY_FRAGMENT": "1"}
    print(f"{count} requests per row (the page: {max(20, count // 5)}); Livy faked, answering at once")

    session = SparkSession.objects.create(owner=user, backend="apache", endpoint=LIVY, livy_id="1",
                                          name=SESSION_NAME, state="busy", kind="pyspark")
    running = Statement.objects.create(session=session, author=user, code="x", livy_id=0, state="running")
    notebook_poll = f"{reverse('livy:notebook_live')}?open={running.pk}&after={running.pk}"
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{LIVY}/sessions/1", json=session_json(1, "busy", name=SESSION_NAME))
        mock.get(f"{LIVY}/sessions/1/statements/0", json=statement_json(0, "running", "x", progress=0.5))
        measure("notebook poll while a statement runs (reads Livy)", client, count, mock,
                lambda c: c.get(notebook_poll, **fragment), expect=f'id="statement-{running.pk}"')
    running.refresh_from_db()
    session.refresh_from_db()
    assert running.state == "running" and session.active and session.state == "busy", (
        "the running row ended on an error path", running.state, session.state, session.error_message)

    running.state = "available"
    running.output = ok_output("x", 0)
    running.save()
    session.state = "idle"
    session.save()
    Statement.objects.bulk_create(
        Statement(session=session, author=user, code=f"spark.range({i}).count()", livy_id=i + 1,
                  state="available", output=ok_output(str(i) * 40, i))
        for i in range(200)
    )
    newest = Statement.objects.latest("pk").pk
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{LIVY}/sessions/1", json=session_json(1, "idle", name=SESSION_NAME))
        measure("notebook poll after everything finished (no Livy call)", client, count, mock,
                lambda c: c.get(f"{reverse('livy:notebook_live')}?open=&after={newest}", **fragment),
                expect='data-live="false"')
        measure("session page poll after everything finished (no Livy call)", client, count, mock,
                lambda c: c.get(f"{reverse('livy:live', args=[session.pk])}?open=&after={newest}", **fragment),
                expect='data-live="false"')
        measure("notebook page, 201 finished statements (session verified)", client, max(20, count // 5), mock,
                lambda c: c.get(reverse("livy:notebook")), expect=f'id="statement-{newest}"')

    ids = itertools.count(201)

    def submitted(request):
        import json

        code = json.loads(request.body)["code"]
        return 201, {}, json.dumps(statement_json(next(ids), "available", code, output=ok_output("2", 1),
                                                  progress=1.0, started=1, completed=2))

    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{LIVY}/sessions/1", json=session_json(1, "idle", name=SESSION_NAME))
        mock.add_callback(responses.POST, f"{LIVY}/sessions/1/statements", callback=submitted,
                          content_type="application/json")
        measure("Run 1+1 (POST /run/; Livy answers it finished)", client, max(20, count // 5), mock,
                lambda c: c.post(reverse("livy:run"), {"code": "1+1", "kind": "pyspark", "scope": "notebook",
                                                       "open": "", "after": str(newest)}, **fragment),
                expect='data-state="available"')
    session.refresh_from_db()
    assert session.active, ("the session was closed during the benchmark", session.state, session.error_message)


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
