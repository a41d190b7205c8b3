"""Notebook runs (livy.models.NotebookRun, livy.notebooks.service.start_run, the run rules in
livy.lifecycle.dispatch_queued): a run's cells go to Livy one at a time in notebook order, a
failed cell stops Run all and says which, Cancel all, Run from here, parameters, and a
statement is never sent twice. Livy is faked over HTTP with `responses`."""

from __future__ import annotations

import json
import re

import pytest
import responses

from livy import lifecycle
from livy.clients import livy_client
from livy.models import NotebookRun, SparkSession, Statement
from livy.notebooks import selectors, service
from livy.notebooks.ipynb import NotebookCell
from livy.notebooks.service import NotebookError
from tests.support.livy_json import LIVY, ok_output, session_json, session_row, statement_json
from tests.support.notebooks import make_cast

pytestmark = pytest.mark.django_db


@pytest.fixture
def cast():
    return make_cast()


class Livy:
    """Session 4, idle; every statement sent is ``running`` until the test finishes it
    (:meth:`finish`), or at once when ``instant``. ``sent``: the codes, in arrival order."""

    def __init__(self, mock, *, instant=False):
        self.sent: list[str] = []
        self.states: dict[int, dict] = {}
        self.cancelled: list[int] = []
        self.instant = instant
        self.dead = False
        mock.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
        mock.add_callback(responses.POST, f"{LIVY}/sessions/4/statements", callback=self._post,
                          content_type="application/json")
        mock.add_callback(responses.GET, re.compile(rf"{re.escape(LIVY)}/sessions/4/statements/\d+$"),
                          callback=self._get, content_type="application/json")
        mock.add_callback(responses.POST, re.compile(rf"{re.escape(LIVY)}/sessions/4/statements/\d+/cancel$"),
                          callback=self._cancel, content_type="application/json")

    def _post(self, request):
        code = json.loads(request.body)["code"]
        sid = len(self.sent)
        self.sent.append(code)
        self.states[sid] = (statement_json(sid, "available", code, output=ok_output(f"ran {sid}", sid))
                            if self.instant else statement_json(sid, "running", code))
        return 201, {}, json.dumps(statement_json(sid, "waiting", code))

    def _get(self, request):
        sid = int(request.url.rsplit("/", 1)[1])
        if self.dead:
            return 400, {}, json.dumps({"msg": "Session '4' isn't active."})
        return 200, {}, json.dumps(self.states[sid])

    def die(self, mock):
        """The session dies: Livy reads it ``dead`` and answers its statements 400 (Apache)."""
        self.dead = True
        mock.replace(responses.GET, f"{LIVY}/sessions/4", json=session_json(4, "dead"))

    def _cancel(self, request):
        sid = int(request.url.rsplit("/", 2)[1])
        self.cancelled.append(sid)
        self.states[sid] = statement_json(sid, "cancelled", self.sent[sid])
        return 200, {}, json.dumps({"msg": "canceled"})

    def finish(self, sid, *, error=False):
        code = self.sent[sid]
        output = ({"status": "error", "execution_count": sid, "ename": "NameError", "evalue": "name 'x' is not defined",
                   "traceback": ["Traceback ...", "NameError: name 'x' is not defined"]}
                  if error else ok_output(f"ran {sid}", sid))
        self.states[sid] = statement_json(sid, "available", code, output=output, progress=1.0)


def _notebook(owner, *sources, parameters_at=None):
    return service.create(owner, title="Chain", cells=[
        NotebookCell("pyspark", src, is_parameters=(i == parameters_at)) if not src.startswith("#") else
        NotebookCell("markdown", src) for i, src in enumerate(sources)
    ])


def _drive(session):
    lifecycle.dispatch(SparkSession.objects.get(pk=session.pk), client=livy_client(), force=True)


def _states(run):
    return [s.state for s in run.statements.order_by("pk")]


def test_run_all_sends_one_cell_at_a_time_in_notebook_order(cast, livy_api):
    session = session_row(cast.owner)
    livy = Livy(livy_api)
    notebook = _notebook(cast.owner, "a = 1", "# Notes", "b = 2", "c = 3")
    run = service.start_run(notebook, cast.owner, livy_client())
    assert livy.sent == ["a = 1"] and _states(run) == ["waiting", "queued", "queued"]
    _drive(session)
    assert livy.sent == ["a = 1"]  # the first still runs: the next waits (Livy would queue it)
    livy.finish(0)
    _drive(session)
    assert livy.sent == ["a = 1", "b = 2"]
    livy.finish(1)
    _drive(session)
    livy.finish(2)
    _drive(session)
    assert livy.sent == ["a = 1", "b = 2", "c = 3"]
    summary = service.run_summary(run)
    assert summary["state"] == "succeeded" and summary["message"] == "Run all finished."
    assert [c["state"] for c in summary["cells"]] == ["available"] * 3
    cells = list(selectors.cells_of(notebook))
    assert [c["cell_id"] for c in summary["cells"]] == [cells[0].pk, cells[2].pk, cells[3].pk]
    assert [c.last_statement_id for c in cells] == [summary["cells"][0]["statement_id"], None,
                                                    summary["cells"][1]["statement_id"],
                                                    summary["cells"][2]["statement_id"]]


def test_a_failed_cell_stops_run_all_and_says_which(cast, livy_api):
    session = session_row(cast.owner)
    livy = Livy(livy_api)
    notebook = _notebook(cast.owner, "# Title", "a = 1", "print(x)", "b = 2", "c = 3")
    run = service.start_run(notebook, cast.owner, livy_client())
    livy.finish(0)
    _drive(session)
    livy.finish(1, error=True)
    _drive(session)
    _drive(session)
    assert livy.sent == ["a = 1", "print(x)"]  # cells 4 and 5 never reach Livy
    run.refresh_from_db()
    assert run.state == "failed" and run.failed_cell.source == "print(x)" and run.finished_at is not None
    rest = list(run.statements.order_by("pk"))[2:]
    assert [(s.state, s.error_value) for s in rest] == [("cancelled", "Not run: cell 3 failed.")] * 2
    summary = service.run_summary(run)
    assert summary["message"] == "Run all stopped: cell 3 failed."
    assert summary["failed_cell"]["number"] == 3


def test_cancel_all_cancels_the_queued_cells_and_the_running_one(cast, livy_api):
    session_row(cast.owner)
    livy = Livy(livy_api)
    notebook = _notebook(cast.owner, "a = 1", "b = 2", "c = 3")
    run = service.start_run(notebook, cast.owner, livy_client())
    run = service.cancel_run(run, livy_client())
    assert run.state == "cancelled" and livy.cancelled == [0]
    statements = list(run.statements.order_by("pk"))
    assert statements[0].state == "cancelling"
    assert [(s.state, s.error_value) for s in statements[1:]] == [("cancelled", "Not run: the run was cancelled.")] * 2
    assert livy.sent == ["a = 1"]


def test_run_from_here_runs_the_cell_and_those_after_it(cast, livy_api):
    session_row(cast.owner)
    livy = Livy(livy_api, instant=True)
    notebook = _notebook(cast.owner, "a = 1", "b = 2", "c = 3")
    second = list(selectors.cells_of(notebook))[1]
    run = service.start_run(notebook, cast.owner, livy_client(), mode="from", cell=second, wait=5)
    assert livy.sent == ["b = 2", "c = 3"] and run.state == "succeeded" and run.mode == "from"
    one = service.start_run(notebook, cast.owner, livy_client(), mode="cell", cell=second, wait=5)
    assert livy.sent[2:] == ["b = 2"] and one.state == "succeeded"


def test_a_wait_drives_the_whole_chain_in_one_request(cast, livy_api):
    session_row(cast.owner)
    livy = Livy(livy_api, instant=True)
    notebook = _notebook(cast.owner, *[f"x{i} = {i}" for i in range(8)])
    run = service.start_run(notebook, cast.owner, livy_client(), wait=10)
    assert livy.sent == [f"x{i} = {i}" for i in range(8)]
    assert run.state == "succeeded" and set(_states(run)) == {"available"}


def test_a_run_with_parameters_injects_them_after_the_parameters_cell(cast, livy_api):
    session_row(cast.owner)
    livy = Livy(livy_api, instant=True)
    notebook = _notebook(cast.owner, "regions = 3", "print(regions)", parameters_at=0)
    run = service.start_run(notebook, cast.owner, livy_client(), parameters={"regions": 5}, wait=5)
    assert livy.sent == ["regions = 3", "# Parameters\nregions = 5\n", "print(regions)"]
    summary = service.run_summary(run)
    assert [c["injected"] for c in summary["cells"]] == [False, True, False]
    assert summary["parameters"] == {"regions": 5} and summary["state"] == "succeeded"


def test_the_injected_statement_is_known_when_the_parameters_cell_is_empty(cast, livy_api):
    session_row(cast.owner)
    livy = Livy(livy_api, instant=True)
    notebook = _notebook(cast.owner, "", "print(regions)", parameters_at=0)
    run = service.start_run(notebook, cast.owner, livy_client(), parameters={"regions": 5}, wait=5)
    assert livy.sent == ["# Parameters\nregions = 5\n", "print(regions)"]
    assert [c["injected"] for c in service.run_summary(run)["cells"]] == [True, False]
    assert run.injected_statement.code == "# Parameters\nregions = 5\n"


def test_bad_runs_are_refused_before_anything_is_written(cast):
    notebook = _notebook(cast.owner, "a = 1")
    with pytest.raises(NotebookError, match="no parameters cell"):
        service.start_run(notebook, cast.owner, livy_client(), parameters={"a": 1})
    with pytest.raises(NotebookError, match="which cell"):
        service.start_run(notebook, cast.owner, livy_client(), mode="from")
    with pytest.raises(NotebookError, match="Unknown run mode"):
        service.start_run(notebook, cast.owner, livy_client(), mode="some")
    assert not NotebookRun.objects.exists() and not Statement.objects.exists()


def test_two_dispatchers_never_send_a_run_statement_twice_or_early(cast, livy_api):
    session = session_row(cast.owner)
    livy = Livy(livy_api)
    notebook = _notebook(cast.owner, "a = 1", "b = 2")
    run = service.start_run(notebook, cast.owner, livy_client())
    first, second = run.statements.order_by("pk")
    livy.finish(0)
    # Another process claimed the second statement and is sending it right now.
    Statement.objects.filter(pk=second.pk).update(state=Statement.SENDING)
    _drive(session)
    assert livy.sent == ["a = 1"]
    # And two dispatchers after the first finished send the second once.
    Statement.objects.filter(pk=second.pk).update(state=Statement.QUEUED)
    assert lifecycle.dispatch_queued(SparkSession.objects.get(pk=session.pk), client=livy_client()) == 1
    assert lifecycle.dispatch_queued(SparkSession.objects.get(pk=session.pk), client=livy_client()) == 0
    assert livy.sent == ["a = 1", "b = 2"]


def test_a_session_that_ends_fails_the_run(cast, livy_api):
    session = session_row(cast.owner)
    Livy(livy_api)
    notebook = _notebook(cast.owner, "a = 1", "b = 2")
    run = service.start_run(notebook, cast.owner, livy_client())
    lifecycle.stop_session(SparkSession.objects.get(pk=session.pk), client=_StopClient())
    summary = service.run_summary(run)
    assert summary["state"] == "failed" and summary["failed_cell"]["number"] == 1
    assert [c["state"] for c in summary["cells"]] == ["cancelled", "cancelled"]


def test_a_session_that_dies_mid_run_says_so_and_the_rest_are_not_run(cast, livy_api):
    session = session_row(cast.owner)
    livy = Livy(livy_api)
    notebook = _notebook(cast.owner, "a = 1", "long_job()", "b = 2", "c = 3")
    run = service.start_run(notebook, cast.owner, livy_client())
    livy.finish(0)
    _drive(session)
    assert livy.sent == ["a = 1", "long_job()"]
    livy.die(livy_api)
    _drive(session)
    summary = service.run_summary(run)
    assert summary["state"] == "failed" and summary["message"] == "Run all stopped: the session ended during cell 2."
    assert summary["failed_cell"]["number"] == 2
    assert [c["state"] for c in summary["cells"]] == ["available", "failed", "cancelled", "cancelled"]
    assert summary["cells"][1]["error"].startswith("SessionEnded: ")
    assert [c["error"] for c in summary["cells"][2:]] == ["NotRun: Not run: the session ended during cell 2."] * 2


def test_a_session_that_dies_between_cells_says_before_which(cast, livy_api):
    session = session_row(cast.owner)
    livy = Livy(livy_api)
    notebook = _notebook(cast.owner, "a = 1", "b = 2")
    run = service.start_run(notebook, cast.owner, livy_client())
    livy.finish(0)
    lifecycle.refresh_unattended(SparkSession.objects.get(pk=session.pk), client=livy_client())  # reads, never sends
    livy.die(livy_api)
    lifecycle.refresh_unattended(SparkSession.objects.get(pk=session.pk), client=livy_client())
    summary = service.run_summary(run)
    assert summary["message"] == "Run all stopped: the session ended before cell 2 ran."
    assert [c["state"] for c in summary["cells"]] == ["available", "cancelled"]
    assert summary["cells"][1]["error"] == "NotRun: Not run: the session ended before cell 2 ran."


class _StopClient:
    """A client whose Livy already forgot the session."""

    def get_session(self, livy_id):
        from livy.remote.errors import LivyNotFound
        raise LivyNotFound("gone", status=404)

    def delete_session(self, livy_id):
        return None


def test_deleting_the_notebook_keeps_the_run(cast, livy_api):
    session_row(cast.owner)
    Livy(livy_api, instant=True)
    notebook = _notebook(cast.owner, "a = 1")
    run = service.start_run(notebook, cast.owner, livy_client(), wait=5)
    service.delete(notebook)
    run.refresh_from_db()
    assert run.notebook is None and run.statements.count() == 1


def test_maintenance_never_sends_a_runs_next_cell_but_settles_a_failure(cast, livy_api):
    session = session_row(cast.owner)
    livy = Livy(livy_api)
    notebook = _notebook(cast.owner, "a = 1", "b = 2", "print(x)", "c = 3")
    run = service.start_run(notebook, cast.owner, livy_client())
    livy.finish(0)
    lifecycle.refresh_unattended(SparkSession.objects.get(pk=session.pk), client=livy_client())
    assert livy.sent == ["a = 1"]  # finished, but the next cell waits for its owner's request
    assert _states(run)[:2] == ["available", "queued"]
    _drive(session)  # the owner's page polls: it goes on
    livy.finish(1)
    _drive(session)
    livy.finish(2, error=True)
    lifecycle.refresh_unattended(SparkSession.objects.get(pk=session.pk), client=livy_client())
    run.refresh_from_db()
    assert run.state == "failed" and _states(run)[-1] == "cancelled" and livy.sent[-1] == "print(x)"


# ------------------------------------------------------- a run read while its session starts
def _session_starts(mock, during):
    """``POST /sessions`` answers session 4 ``starting``, after ``during()``: what another
    request (a second tab's poll, a Viewer's ``GET /runs/{id}``, Cancel all) does while Livy
    creates the session, before the run's statements exist."""
    def create(request):
        during()
        return 201, {}, json.dumps(session_json(4, "starting"))

    mock.add_callback(responses.POST, f"{LIVY}/sessions", callback=create, content_type="application/json")


def test_a_run_read_while_its_session_starts_goes_on_and_stops_at_the_failed_cell(cast, livy_api):
    livy = Livy(livy_api)
    _session_starts(livy_api, lambda: service.run_summary(NotebookRun.objects.get()))
    notebook = _notebook(cast.owner, "a = 1", "print(x)", "b = 2")
    run = service.start_run(notebook, cast.owner, livy_client())
    assert run.state == "running" and _states(run) == ["queued"] * 3  # not "succeeded" with nothing run
    session = SparkSession.objects.get(owner=cast.owner)
    _drive(session)
    livy.finish(0)
    _drive(session)
    livy.finish(1, error=True)
    _drive(session)
    run.refresh_from_db()
    assert run.state == "failed" and service.run_summary(run)["message"] == "Run all stopped: cell 2 failed."
    assert _states(run) == ["available", "error", "cancelled"] and livy.sent == ["a = 1", "print(x)"]
    # The session is not wedged: the console's next statement goes out.
    stmt = lifecycle.submit(cast.owner, "z = 26", client=livy_client())
    assert stmt.livy_id is not None and livy.sent[-1] == "z = 26"


def test_cancel_all_while_the_session_starts_sends_nothing_of_the_run(cast, livy_api):
    livy = Livy(livy_api)
    _session_starts(livy_api, lambda: service.cancel_run(NotebookRun.objects.get(), livy_client()))
    notebook = _notebook(cast.owner, "a = 1", "b = 2")
    run = service.start_run(notebook, cast.owner, livy_client())
    assert run.state == "cancelled"
    session = SparkSession.objects.get(owner=cast.owner)
    _drive(session)
    assert livy.sent == []
    assert [(s.state, s.error_value) for s in run.statements.order_by("pk")] == [
        ("cancelled", "Not run: the run was cancelled.")] * 2
    stmt = lifecycle.submit(cast.owner, "z = 26", client=livy_client())
    assert stmt.livy_id is not None and livy.sent == ["z = 26"]


def test_a_run_ended_elsewhere_sends_nothing_more_and_does_not_hold_up_the_session(cast, livy_api):
    session = session_row(cast.owner)
    livy = Livy(livy_api)
    notebook = _notebook(cast.owner, "a = 1", "b = 2")
    run = service.start_run(notebook, cast.owner, livy_client())
    livy.finish(0)
    # Another process ended the run between its statements (its own writes not yet seen here).
    NotebookRun.objects.filter(pk=run.pk).update(state=NotebookRun.CANCELLED)
    console = Statement.objects.create(session=session, author=cast.owner, code="z = 26")
    _drive(session)
    assert livy.sent == ["a = 1", "z = 26"]
    assert _states(run)[1] == "cancelled" and Statement.objects.get(pk=console.pk).livy_id is not None


def test_sign_in_needed_before_any_session_fails_the_run_and_says_why(cast, livy_api):
    from livy.remote.errors import LivySignInRequired

    client = livy_client()

    def expired(spec):
        raise LivySignInRequired("Sign in again.")

    client.create_session = expired  # type: ignore[method-assign]
    notebook = _notebook(cast.owner, "a = 1")
    with pytest.raises(LivySignInRequired):
        service.start_run(notebook, cast.owner, client)
    summary = service.run_summary(NotebookRun.objects.get())
    assert summary["state"] == "failed" and summary["cells"] == []
    assert summary["message"] == "Run all stopped: sign in again, then run it again (no cell was run)."


# ----------------------------------------------------- what the page and the API call (thin views)
def test_the_pages_poll_drives_every_running_run_and_the_session_bar_says_which_session(cast, livy_api):
    session = session_row(cast.owner)
    livy = Livy(livy_api, instant=True)
    notebook = _notebook(cast.owner, "a = 1", "b = 2")
    assert selectors.session_bar(cast.owner, notebook)["text"].startswith("Session pytest-1 (idle) will run")
    run = service.start_run(notebook, cast.owner, livy_client())
    service.drive_notebook(notebook, cast.owner, livy_client(), wait=5)
    assert livy.sent == ["a = 1", "b = 2"] and NotebookRun.objects.get(pk=run.pk).state == "succeeded"
    bar = selectors.session_bar(cast.owner, notebook)
    assert bar["from_notebook"] and bar["id"] == session.pk and "runs this notebook" in bar["text"]


def test_the_injected_parameters_of_a_run_as_the_page_shows_them(cast, livy_api):
    session_row(cast.owner)
    Livy(livy_api, instant=True)
    notebook = _notebook(cast.owner, "regions = 3", parameters_at=0)
    assert selectors.injected_parameters(None) is None
    run = service.start_run(notebook, cast.owner, livy_client(), parameters={"regions": 5}, wait=5)
    shown = selectors.injected_parameters(run)
    assert shown == {"cell_id": run.injected_statement.cell_id, "code": "# Parameters\nregions = 5\n",
                     "statement_id": run.injected_statement_id, "state": "available"}

