"""Notebook runs through the API (Livy faked over HTTP): Run all with parameters and ``wait``,
the owner's GET driving the chain, a failing cell stopping the run, cancel, and who may start,
read and cancel a run."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from livy.models import NotebookRun
from livy.notebooks import service
from livy.notebooks.ipynb import NotebookCell
from tests.support.livy_json import LIVY, session_row
from tests.support.livy_statements import Livy

pytestmark = pytest.mark.django_db


def notebook_of(owner, *sources, parameters_at=None):
    return service.create(owner, title="Chain", cells=[
        NotebookCell("markdown", src) if src.startswith("#") else
        NotebookCell("pyspark", src, is_parameters=(i == parameters_at)) for i, src in enumerate(sources)
    ])


def test_run_all_with_parameters_and_wait_reads_every_cells_output(bearer, token_of, people, livy_api):
    session_row(people["editor"])
    livy = Livy(livy_api)
    notebook = notebook_of(people["editor"], "# Title", "day = 'x'", "print(day)", parameters_at=1)
    response = bearer(token_of("editor")).post(f"/api/v1/notebooks/{notebook.pk}/runs?wait=10",
                                               {"parameters": {"day": "2026-12-01"}})
    assert response.status_code == 202, response.content
    run = response.json()
    assert response["Location"] == f"/api/v1/runs/{run['id']}"
    assert run["state"] == "succeeded" and run["terminal"] and run["parameters"] == {"day": "2026-12-01"}
    assert livy.sent[0] == "day = 'x'" and "2026-12-01" in livy.sent[1] and livy.sent[2] == "print(day)"
    assert [(c["injected"], c["state"]) for c in run["cells"]] == [(False, "available"), (True, "available"),
                                                                   (False, "available")]
    assert run["cells"][2]["output"]["text"] == "ran print(day)"
    assert bearer(token_of("editor")).get(response["Location"]).json() == run


def test_the_owners_get_drives_the_run_and_a_failing_cell_stops_it(bearer, token_of, people, livy_api):
    session_row(people["editor"])
    livy = Livy(livy_api)
    notebook = notebook_of(people["editor"], "a = 1", "boom", "never()")
    client = bearer(token_of("editor"))
    started = client.post(f"/api/v1/notebooks/{notebook.pk}/runs")
    assert started.status_code == 202 and started.json()["state"] == "running"
    done = client.get(f"{started['Location']}?wait=10").json()
    assert done["state"] == "failed" and done["failed_cell"]["number"] == 2
    assert [c["state"] for c in done["cells"]] == ["available", "error", "cancelled"]
    assert done["cells"][1]["error"]["ename"] == "NameError" and "never()" not in livy.sent
    assert "cell 2 failed" in done["message"]


def test_cancel_by_the_runs_user(bearer, token_of, people, livy_api):
    session_row(people["editor"])
    livy = Livy(livy_api, instant=False)
    notebook = notebook_of(people["editor"], "long()", "after()")
    client = bearer(token_of("editor"))
    run = client.post(f"/api/v1/notebooks/{notebook.pk}/runs").json()
    assert bearer(token_of("admin")).post(f"/api/v1/runs/{run['id']}/cancel").status_code == 403
    cancelled = client.post(f"/api/v1/runs/{run['id']}/cancel")
    assert cancelled.status_code == 202 and cancelled.json()["state"] == "cancelled"
    assert livy.cancelled == {0} and livy.sent == ["long()"]


def test_parameters_without_a_parameters_cell_are_422_and_no_run(bearer, token_of, people, livy_api):
    notebook = notebook_of(people["editor"], "a = 1")
    response = bearer(token_of("editor")).post(f"/api/v1/notebooks/{notebook.pk}/runs", {"parameters": {"a": 2}})
    assert response.status_code == 422 and "no parameters cell" in response.json()["detail"]
    assert not NotebookRun.objects.exists()


def test_who_may_start_and_read_runs(bearer, token_of, people, livy_api):
    session_row(people["editor"])
    Livy(livy_api, instant=False)
    notebook = notebook_of(people["editor"], "secret_cell()")
    start = f"/api/v1/notebooks/{notebook.pk}/runs"
    assert bearer(token_of("other")).post(start).status_code == 404
    assert bearer(token_of("viewer")).post(start).status_code == 404
    assert bearer(token_of("admin")).post(start).status_code == 403  # admins read, never run, others' notebooks
    run = bearer(token_of("editor")).post(start).json()
    url = f"/api/v1/runs/{run['id']}"
    assert bearer(token_of("other")).get(url).status_code == 404
    assert bearer(token_of("viewer")).get(url).status_code == 404
    service.set_shared_groups(notebook, [Group.objects.get(name="Viewers")])
    shared = bearer(token_of("viewer")).get(url)  # the people it is shared with read its runs
    assert shared.status_code == 200 and shared.json()["state"] == "running"
    assert bearer(token_of("admin")).get(url).status_code == 200


def test_livy_unreachable_at_start_keeps_the_run_and_says_where(bearer, token_of, people, livy_api):
    import requests

    livy_api.post(f"{LIVY}/sessions", body=requests.ConnectionError("refused"))
    notebook = notebook_of(people["editor"], "keep_me()")
    response = bearer(token_of("editor")).post(f"/api/v1/notebooks/{notebook.pk}/runs")
    assert response.status_code == 503 and response["Content-Type"] == "application/problem+json"
    run = NotebookRun.objects.get()
    assert response.json()["run"] == f"/api/v1/runs/{run.pk}"
    read = bearer(token_of("editor")).get(response.json()["run"]).json()
    assert read["state"] == "failed" and read["cells"][0]["state"] == "failed"


def test_await_run_drives_the_owners_run_to_its_end_within_the_wait(people, livy_api):
    from api import services

    session_row(people["editor"])
    livy = Livy(livy_api)
    notebook = notebook_of(people["editor"], "a = 1", "b = 2")
    run = service.start_run(notebook, people["editor"], services.client())
    # Another reader only reads: nothing more is sent for it.
    assert services.await_run(run, actor=people["admin"], client=services.client(), wait=0).state == "running"
    assert livy.sent == ["a = 1"]
    done = services.await_run(run, actor=people["editor"], client=services.client(), wait=10)
    assert done.state == "succeeded" and livy.sent == ["a = 1", "b = 2"]


def test_run_parameters_are_shown_to_the_runs_user_and_administrators_only(bearer, token_of, people, livy_api):
    session_row(people["editor"])
    Livy(livy_api)
    notebook = notebook_of(people["editor"], "token = ''", "use(token)", parameters_at=0)
    service.set_shared_groups(notebook, [Group.objects.get(name="Viewers")])
    run = bearer(token_of("editor")).post(f"/api/v1/notebooks/{notebook.pk}/runs?wait=5",
                                          {"parameters": {"token": "s3cret"}}).json()
    url = f"/api/v1/runs/{run['id']}"
    assert bearer(token_of("editor")).get(url).json()["parameters"] == {"token": "s3cret"}
    assert bearer(token_of("admin")).get(url).json()["parameters"] == {"token": "s3cret"}
    shared = bearer(token_of("viewer")).get(url)
    assert shared.status_code == 200 and shared.json()["parameters"] is None
    assert "s3cret" not in shared.content.decode()

