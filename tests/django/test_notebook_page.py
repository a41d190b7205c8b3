"""The owner's notebook page and its JSON run endpoints (livy.notebook_views: notebook_run,
notebook_poll, notebook_cancel): what the page shows and gets back. Livy is faked with
`responses` (tests.django.test_notebook_runs.Livy)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.urls import reverse

from livy.models import NotebookRun, SparkSession
from livy.notebooks import selectors, service
from livy.notebooks.ipynb import NotebookCell
from tests.django.test_notebook_runs import Livy
from tests.support.livy_json import session_row
from tests.support.notebooks import make_cast, mixed_notebook

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast():
    return make_cast()


def _post(client, name, notebook, body):
    response = client.post(reverse(name, args=[notebook.pk]), json.dumps(body), content_type="application/json")
    return response.status_code, response.json()


def test_the_owner_gets_the_editable_page_and_a_shared_viewer_the_read_only_one(client, cast):
    notebook = mixed_notebook(cast.owner)
    service.share(notebook, cast.viewers)
    client.force_login(cast.owner)
    page = client.get(reverse("livy:notebook_detail", args=[notebook.pk])).content.decode()
    assert 'id="nb-cells" class="nb-cells nb-edit"' in page and 'id="nb-data"' in page
    assert "Run all" in page and "Cancel all" in page and "spark.range(10)" in page
    assert "<h1>Sales</h1>" in page  # markdown rendered on the server
    assert "No session yet" in page
    client.force_login(cast.viewer)
    read_only = client.get(reverse("livy:notebook_detail", args=[notebook.pk])).content.decode()
    assert "nb-edit" not in read_only and "Run all" not in read_only and "spark.range(10)" in read_only


def test_run_all_answers_each_cell_with_its_output(client, cast, livy_api):
    session_row(cast.owner)
    Livy(livy_api, instant=True)
    notebook = mixed_notebook(cast.owner)
    client.force_login(cast.owner)
    status, state = _post(client, "livy:notebook_run", notebook, {"mode": "all"})
    assert status == 200 and state["run"]["state"] == "succeeded" and not state["busy"]
    code_cells = [c for c in state["cells"] if c["statement"]]
    assert len(code_cells) == 3 and all("ran " in c["html"] for c in code_cells)
    assert "runs this notebook" in state["session"]["text"]
    # A poll that already shows everything gets no HTML again.
    status, again = _post(client, "livy:notebook_poll", notebook,
                          {"known": {str(c["id"]): c["key"] for c in state["cells"]}})
    assert status == 200 and not any("html" in c for c in again["cells"])


def test_a_failed_cell_is_named_and_the_rest_say_not_run(client, cast, livy_api):
    session_row(cast.owner)
    livy = Livy(livy_api)
    notebook = service.create(cast.owner, cells=[NotebookCell("pyspark", "a = 1"), NotebookCell("pyspark", "print(x)"),
                                                 NotebookCell("pyspark", "b = 2")])
    client.force_login(cast.owner)
    status, state = _post(client, "livy:notebook_run", notebook, {"mode": "all"})
    assert status == 200 and state["busy"]
    livy.finish(0)
    _post(client, "livy:notebook_poll", notebook, {})
    livy.finish(1, error=True)
    status, state = _post(client, "livy:notebook_poll", notebook, {})
    assert state["run"]["state"] == "failed" and state["run"]["message"] == "Run all stopped: cell 2 failed."
    assert "NameError" in state["cells"][1]["html"] and "Not run: cell 2 failed." in state["cells"][2]["html"]
    assert livy.sent == ["a = 1", "print(x)"]


def test_cancel_all_from_the_page(client, cast, livy_api):
    session_row(cast.owner)
    livy = Livy(livy_api)
    notebook = service.create(cast.owner, cells=[NotebookCell("pyspark", "a = 1"), NotebookCell("pyspark", "b = 2")])
    client.force_login(cast.owner)
    _post(client, "livy:notebook_run", notebook, {"mode": "all"})
    status, state = _post(client, "livy:notebook_cancel", notebook, {})
    assert status == 200 and state["run"]["state"] == "cancelled" and livy.cancelled == [0]
    assert state["run"]["message"] == "Run all was cancelled."


def test_cancel_all_cancels_every_run_of_the_notebook_not_only_the_latest(client, cast, livy_api):
    session_row(cast.owner)
    livy = Livy(livy_api)
    notebook = service.create(cast.owner, cells=[NotebookCell("pyspark", "a = 1"), NotebookCell("pyspark", "b = 2"),
                                                 NotebookCell("pyspark", "c = 3")])
    client.force_login(cast.owner)
    _post(client, "livy:notebook_run", notebook, {"mode": "all"})
    last = selectors.cells_of(notebook)[2]
    _post(client, "livy:notebook_run", notebook, {"mode": "cell", "cell": last.pk})
    status, state = _post(client, "livy:notebook_cancel", notebook, {})
    assert status == 200 and state["run"]["state"] == "cancelled" and livy.cancelled == [0]
    assert sorted(NotebookRun.objects.values_list("mode", "state")) == [("all", "cancelled"), ("cell", "cancelled")]
    livy.states[0] = {**livy.states[0], "state": "cancelled"}
    _post(client, "livy:notebook_poll", notebook, {})
    assert livy.sent == ["a = 1"]  # the Run all went no further


def test_the_page_shows_the_injected_parameters_and_refuses_bad_runs(client, cast, livy_api):
    session_row(cast.owner)
    Livy(livy_api, instant=True)
    notebook = mixed_notebook(cast.owner)
    client.force_login(cast.owner)
    status, state = _post(client, "livy:notebook_run", notebook, {"mode": "all", "parameters": {"regions": 7}})
    assert status == 200 and state["injected"]["code"] == "# Parameters\nregions = 7\n"
    assert state["injected"]["cell_id"] == selectors.cells_of(notebook)[1].pk
    page = client.get(reverse("livy:notebook_detail", args=[notebook.pk])).content.decode()
    assert "Injected parameters" in page
    status, body = _post(client, "livy:notebook_run", notebook, {"mode": "from", "cell": 999999})
    assert status == 400 and "not in this notebook" in body["message"]


def test_the_injected_parameters_shown_are_the_injected_ones_not_the_users_own_cell(client, cast, livy_api):
    session_row(cast.owner)
    Livy(livy_api, instant=True)
    notebook = service.create(cast.owner, cells=[NotebookCell("pyspark", "# Parameters\nregions = 3", is_parameters=True),
                                                 NotebookCell("pyspark", "print(regions)")])
    client.force_login(cast.owner)
    status, state = _post(client, "livy:notebook_run", notebook, {"mode": "all", "parameters": {"regions": 7}})
    assert status == 200 and state["injected"]["code"] == "# Parameters\nregions = 7\n"
    assert [c["injected"] for c in state["run"]["cells"]] == [False, True, False]


def test_after_the_session_ended_the_variables_are_gone(client, cast, livy_api):
    session = session_row(cast.owner)
    Livy(livy_api, instant=True)
    notebook = mixed_notebook(cast.owner)
    client.force_login(cast.owner)
    _post(client, "livy:notebook_run", notebook, {"mode": "all"})
    SparkSession.objects.filter(pk=session.pk).update(state="dead", active=False)
    page = client.get(reverse("livy:notebook_detail", args=[notebook.pk])).content.decode()
    assert "Variables are gone: Run all to rebuild" in page


# ------------------------------------------------------------------ an expired sign-in
@pytest.fixture
def sign_in_expired(monkeypatch):
    """From now on every Livy request of the notebook views needs the user to sign in again
    (Fabric: the user's Microsoft token ran out and cannot be refreshed)."""
    from livy import notebook_views
    from livy.remote.errors import LivySignInRequired

    real = notebook_views.livy_client
    expired = {"now": False}

    def client_for(*args, **kwargs):
        client = real(*args, **kwargs)
        send = client._request

        def request(*a, **k):
            if expired["now"]:
                raise LivySignInRequired("Sign in again.")
            return send(*a, **k)

        client._request = request
        return client

    monkeypatch.setattr(notebook_views, "livy_client", client_for)
    return expired


def _script_post(client, name, notebook, body=None, **headers):
    return client.post(reverse(name, args=[notebook.pk]), json.dumps(body or {}), content_type="application/json",
                       HTTP_ACCEPT="application/json", **headers)


@pytest.mark.parametrize("name", ["livy:notebook_run", "livy:notebook_poll", "livy:notebook_cancel"])
def test_an_expired_sign_in_sends_the_page_to_sign_in_and_back(client, cast, livy_api, sign_in_expired, name):
    session_row(cast.owner)
    livy = Livy(livy_api)
    notebook = service.create(cast.owner, cells=[NotebookCell("pyspark", "a = 1"), NotebookCell("pyspark", "b = 2")])
    page = reverse("livy:notebook_detail", args=[notebook.pk])
    client.force_login(cast.owner)
    if name != "livy:notebook_run":
        _post(client, "livy:notebook_run", notebook, {"mode": "all"})
    sign_in_expired["now"] = True
    # The page's script names itself (X-Livy-Fragment, X-Livy-Page): 204 and where to sign in.
    response = _script_post(client, name, notebook, HTTP_X_LIVY_FRAGMENT="1",
                            HTTP_X_LIVY_PAGE=f"http://testserver{page}")
    assert response.status_code == 204
    assert response["X-Livy-Redirect"] == f"{reverse('login')}?next={quote(page, safe='')}"
    # A JSON request without the header gets the same, back to the page it came from (Referer),
    # never a redirect that fetch would follow to the sign-in page's HTML.
    response = _script_post(client, name, notebook, HTTP_REFERER=f"http://testserver{page}")
    assert response.status_code == 204
    assert response["X-Livy-Redirect"] == f"{reverse('login')}?next={quote(page, safe='')}"
    run = NotebookRun.objects.order_by("pk").last()
    if name == "livy:notebook_cancel":
        # Cancelled here, and once signed in again Cancel all reaches Livy for the running cell.
        assert run.state == "cancelled" and livy.cancelled == []
        sign_in_expired["now"] = False
        assert _post(client, name, notebook, {})[0] == 200 and livy.cancelled == [0]
    else:
        # Nothing typed is lost: the run's code waits, queued, for the user to come back.
        assert run.state == "running" and "queued" in [s.state for s in run.statements.all()]

