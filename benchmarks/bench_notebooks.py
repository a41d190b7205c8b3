"""Benchmark of the notebook endpoints the notebook page calls, on a notebook of 200 cells with
outputs (a third markdown, a third PySpark with text, a third Spark SQL with a 20-row table):

1. ``GET /notebooks/<id>/json/`` and ``GET /notebooks/<id>/`` (opening it: the JSON and the
   owner's notebook page with its 200 editors' sources and outputs: server time and bytes),
   and the page's poll answered with nothing changed;
2. ``POST /notebooks/<id>/save/`` of all 200 cells with one source changed (the autosave
   round trip, version checked and bumped);
3. ``GET /notebooks/<id>.ipynb`` (export with outputs, validated with nbformat);
4. ``GET /notebooks/`` with 100 notebooks of the user.

No Livy is involved. Prints p50/p95 latency and response bytes per row.
Run: ``make bench`` (or ``.venv/bin/python benchmarks/bench_notebooks.py [requests]``).
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.update({
    "DJANGO_SETTINGS_MODULE": "myapp.settings",
    "LIVY_DOTENV": "0",
    "DATABASE_PATH": str(Path(tempfile.mkdtemp()) / "bench.sqlite3"),
    "ALLOWED_HOSTS": "testserver",
    "DEBUG": "false",
    "SECURE_SSL_REDIRECT": "false",
    "DJANGO_SECRET": "benchmark-only-" + "x" * 40,
    "LIVY_BACKEND": "apache",
    "LIVY_BASE_ENDPOINT": "http://127.0.0.1:8998",
})
warnings.filterwarnings("ignore", message="No directory at")

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from livy.models import Cell, SparkSession, Statement  # noqa: E402
from livy.notebooks import service  # noqa: E402
from livy.notebooks.ipynb import NotebookCell  # noqa: E402
from livy.output import TABLE_MIME  # noqa: E402

CELLS = 200


def measure(label: str, count: int, request) -> None:
    timings, size = [], 0
    for _ in range(count):
        start = time.perf_counter()
        response = request()
        timings.append(time.perf_counter() - start)
        assert response.status_code == 200, (label, response.status_code, response.content[:300])
        size = len(response.content)
    timings.sort()
    p50 = statistics.median(timings) * 1000
    p95 = timings[max(0, int(len(timings) * 0.95) - 1)] * 1000
    print(f"{label:<58} p50 {p50:7.2f} ms   p95 {p95:7.2f} ms   {size:>9,} bytes")


def main(count: int) -> None:
    call_command("migrate", verbosity=0)
    call_command("setup_roles", stdout=open(os.devnull, "w"))
    user = User.objects.create_user("bench", password="x")
    user.groups.add(Group.objects.get(name="Editors"))
    client = Client()
    client.force_login(user)
    session = SparkSession.objects.create(owner=user, backend="apache", endpoint="http://127.0.0.1:8998",
                                          livy_id="1", name="bench", state="idle")
    kinds = ["markdown", "pyspark", "sql"]
    notebook = service.create(user, title="Bench", cells=[
        NotebookCell(kinds[i % 3], f"## Section {i}\nSome *text*." if i % 3 == 0 else
                     f"df{i} = spark.range({i}).selectExpr('id', 'id * 2 AS twice')\ndf{i}.count()" if i % 3 == 1
                     else f"SELECT id, id * 2 AS twice FROM range({i})")
        for i in range(CELLS)
    ])
    table = {"headers": [{"name": "id", "type": "BIGINT_TYPE"}, {"name": "twice", "type": "BIGINT_TYPE"}],
             "data": [[r, r * 2] for r in range(20)]}
    for i, cell in enumerate(notebook.cells.order_by("position")):
        if cell.kind == "markdown":
            continue
        output = {"status": "ok", "execution_count": i,
                  "data": {TABLE_MIME: table} if cell.kind == "sql" else {"text/plain": f"{i}\n" * 5}}
        stmt = Statement.objects.create(session=session, author=user, code=cell.source, kind=cell.kind, cell=cell,
                                        livy_id=i, state="available", output=output)
        Cell.objects.filter(pk=cell.pk).update(last_statement=stmt)
    print(f"{count} requests per row; a notebook of {CELLS} cells ({CELLS // 3 * 2} with outputs); no Livy")

    first = client.post(reverse("livy:notebook_poll", args=[notebook.pk]), "{}", content_type="application/json").json()
    known = {str(c["id"]): c["key"] for c in first["cells"]}
    measure(f"open: GET json of {CELLS} cells", count, lambda: client.get(reverse("livy:notebook_json",
                                                                                args=[notebook.pk])))
    measure(f"open: GET the notebook page of {CELLS} cells (owner, editable)", max(5, count // 2),
            lambda: client.get(reverse("livy:notebook_detail", args=[notebook.pk])))
    measure(f"poll: POST poll of {CELLS} cells, nothing changed", count,
            lambda: client.post(reverse("livy:notebook_poll", args=[notebook.pk]), json.dumps({"known": known}),
                                content_type="application/json"))
    current = client.get(reverse("livy:notebook_json", args=[notebook.pk])).json()
    state = {"version": current["version"], "cells": current["cells"]}

    def save():
        state["cells"][7]["source"] += "\n# edited"
        body = json.dumps({"version": state["version"], "cells": [
            {"id": c["id"], "kind": c["kind"], "source": c["source"], "is_parameters": c["is_parameters"]}
            for c in state["cells"]]})
        response = client.post(reverse("livy:notebook_save", args=[notebook.pk]), body,
                               content_type="application/json")
        state["version"] = response.json()["version"]
        return response

    measure(f"autosave: POST save of {CELLS} cells (one changed)", count, save)
    measure(f"export: GET .ipynb of {CELLS} cells with outputs", max(5, count // 4),
            lambda: client.get(reverse("livy:notebook_ipynb", args=[notebook.pk])))
    for i in range(99):
        service.create(user, title=f"Notebook {i}")
    measure("list: GET /notebooks/ (100 notebooks, 25 a page)", count,
            lambda: client.get(reverse("livy:notebook_list")))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
