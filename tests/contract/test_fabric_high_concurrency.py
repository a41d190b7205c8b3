"""Fabric high-concurrency sessions (``FABRIC_SESSION_MODE=high_concurrency``) against the
swagger-checked fake: REPLs packed up to 5 per Livy session, variables isolated per REPL,
non-idempotent acquire, the last REPL's deletion ending the Spark application, ``Failed``
with ``fabricSessionStateInfo``; and what users see in the app in that mode."""

from __future__ import annotations

import json
import re

import pytest
import responses
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from livy import lifecycle
from livy.models import SparkSession, Statement
from livy.remote.backends import FabricHighConcurrencyBackend
from livy.remote.client import LivyClient
from livy.remote.errors import LivyProtocolError
from livy.remote.states import SessionState
from livy.remote.types import ReplHandle, SessionSpec
from tests.support.fakes_entra import EDITORS_GID, EntraUser, FakeEntra, configure_entra, entra_sign_in
from tests.support.fakes_fabric import ENDPOINT, FakeFabric, contract
from tests.support.livy_json import ok_output
from tests.support.pages import poll_like_the_page
from tests.support.polling import wait_for

FRAGMENT = {"HTTP_X_LIVY_FRAGMENT": "1"}
FABRIC = "api.fabric.microsoft.com"


class _Token:
    user_tokens = False

    def access_token(self) -> str:
        return "token"

    def token_rejected(self) -> bool:
        return False


@pytest.fixture
def fabric():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeFabric(mock, {"1+1": ("available", ok_output("2"))}, token_ok=lambda t: t == "token")


@pytest.fixture
def hc_client():
    return LivyClient(FabricHighConcurrencyBackend(ENDPOINT, _Token(), user_tokens=False, session_tag="livy-web"),
                      timeout=5)


def _acquire_idle(client: LivyClient, name: str):
    first = client.create_session(SessionSpec(name=name))
    assert first.repl is not None and not first.repl.complete  # sessionId/replId absent until Idle
    return wait_for(lambda: (s := client.get_session(first.id)).state is SessionState.IDLE and s,
                    timeout=5, interval=0, what="the REPL to be idle")


def _run(client: LivyClient, handle: str, code: str):
    stmt = client.submit_statement(handle, code, "pyspark")
    return wait_for(lambda: (s := client.get_statement(handle, stmt.id)).state.is_terminal and s,
                    timeout=5, interval=0, what=f"{code!r} to finish")


# ------------------------------------------------------------------------ the client, alone
def test_acquire_body_is_the_swagger_s_with_the_session_tag(fabric, hc_client):
    hc_client.create_session(SessionSpec(name="livy-web-1", conf={"spark.sql.shuffle.partitions": 8}))
    call = fabric.mock.calls[-1]
    assert call.request.url.endswith("/highConcurrencySessions")
    assert json.loads(call.request.body) == {"name": "livy-web-1", "conf": {"spark.sql.shuffle.partitions": "8"},
                                             "sessionTag": "livy-web"}


def test_states_go_not_started_acquiring_idle_and_the_pair_comes_with_idle(fabric, hc_client):
    first = hc_client.create_session(SessionSpec(name="n"))
    assert first.state is SessionState.NOT_STARTED and first.id == first.repl.hc_id
    acquiring = hc_client.get_session(first.id)
    assert acquiring.state is SessionState.STARTING and acquiring.phase == "acquiringSession"
    idle = hc_client.get_session(first.id)
    assert idle.state is SessionState.IDLE and idle.repl.complete
    assert idle.id == f"{idle.repl.hc_id}:{idle.repl.session_id}:{idle.repl.repl_id}"
    with pytest.raises(LivyProtocolError, match="not ready"):
        hc_client.submit_statement(first.id, "1+1")


def test_six_repls_pack_into_two_spark_applications_with_isolated_variables(fabric, hc_client):
    repls = [_acquire_idle(hc_client, f"n{i}") for i in range(6)]
    assert len(fabric.spark_applications()) == 2
    assert sorted(sum(r.repl.session_id == s.id for r in repls) for s in fabric.spark_applications()) == [1, 5]
    assert _run(hc_client, repls[0].id, "x = 1").output.status == "ok"
    assert _run(hc_client, repls[0].id, "x").output.data == {"text/plain": "1"}
    for other in repls[1:]:
        assert _run(hc_client, other.id, "x").output.ename == "NameError"


def test_acquire_is_not_idempotent(fabric, hc_client):
    hc_client.create_session(SessionSpec(name="same"))
    hc_client.create_session(SessionSpec(name="same"))
    assert len(fabric.repls) == 2


def test_deleting_a_repl_leaves_the_others_and_the_last_one_ends_the_application(fabric, hc_client):
    a, b = _acquire_idle(hc_client, "a"), _acquire_idle(hc_client, "b")
    assert a.repl.session_id == b.repl.session_id
    hc_client.delete_session(a.id)
    assert _run(hc_client, b.id, "1+1").output.data == {"text/plain": "2"}
    assert len(fabric.spark_applications()) == 1
    hc_client.delete_session(b.id)
    assert fabric.spark_applications() == []


def test_failed_acquire_carries_fabric_s_reason(fabric, hc_client):
    fabric.fail_acquires.append("Spark pool capacity exceeded")
    first = hc_client.create_session(SessionSpec(name="f"))
    failed = wait_for(lambda: (s := hc_client.get_session(first.id)).state.is_terminal and s, timeout=5,
                      interval=0, what="the REPL to fail")
    assert failed.state is SessionState.ERROR and failed.phase_error == "Spark pool capacity exceeded"


def test_repl_identity_needs_the_id_and_the_pair():
    stored = ReplHandle("h", "s", "r")
    assert ReplHandle("h", "s", "r").same_repl(stored)
    assert ReplHandle("h").same_repl(stored)  # an answer without the pair (ending) is still it
    assert not ReplHandle("h", "s", "other").same_repl(stored)
    assert not ReplHandle("other", "s", "r").same_repl(stored)
    assert ReplHandle.parse(stored.text()) == stored


# ------------------------------------------------------------------------ the app, as users
class User:
    def __init__(self, client: Client, fabric: FakeFabric):
        self.client, self.fabric = client, fabric

    def run(self, code: str) -> str:
        response = self.client.post(reverse("livy:run"), {"code": code}, **FRAGMENT)
        assert response.status_code == 200
        return response.content.decode()

    def session(self) -> SparkSession:
        return SparkSession.objects.get(active=True, owner__username=self.username)

    @property
    def username(self) -> str:
        return self.client.session.get("_auth_user_id") and \
            SparkSession._meta.get_field("owner").related_model.objects.get(pk=self.client.session["_auth_user_id"]).username

    def until_idle(self) -> str:
        def probe():
            page = poll_like_the_page(self.client, self.session())
            return page if 'badge-ok">idle' in page else None
        return wait_for(probe, timeout=10, interval=0, what="the REPL to be idle")

    def result(self, code: str) -> Statement:
        self.run(code)
        stmt = Statement.objects.filter(code=code, session__owner__username=self.username).latest("pk")

        def probe():
            poll_like_the_page(self.client, self.session())
            stmt.refresh_from_db()
            return stmt if stmt.is_terminal else None
        return wait_for(probe, timeout=10, interval=0, what=f"{code!r} to finish")


@pytest.fixture
def users(settings, db):
    configure_entra(settings, LIVY_BACKEND="fabric", LIVY_BASE_ENDPOINT=ENDPOINT,
                    FABRIC_SESSION_MODE="high_concurrency")
    call_command("setup_roles", verbosity=0)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        entra = FakeEntra(mock)
        fabric = FakeFabric(mock, {"1+1": ("available", ok_output("2"))},
                            token_ok=lambda t: entra.valid_for(t, FABRIC))
        signed_in = []
        for upn in ("erin@contoso.com", "oscar@contoso.com"):
            client = Client()
            assert entra_sign_in(client, entra, EntraUser(upn=upn, groups=[EDITORS_GID])).status_code == 302
            signed_in.append(User(client, fabric))
        yield signed_in


def test_each_user_gets_a_repl_in_one_shared_application(users):
    erin, oscar = users
    erin.run("x = 1")
    oscar.run("y = 2")
    erin.until_idle()
    page = oscar.until_idle()
    fabric = erin.fabric
    assert len(fabric.repls) == 2 and len(fabric.spark_applications()) == 1
    page = erin.client.get(reverse("livy:notebook")).content.decode()
    repl = erin.session().repl
    assert f"REPL {repl.repl_id[:8]}… in shared Livy session" in page and repl.session_id in page
    assert erin.result("x").output["data"] == {"text/plain": "1"}
    assert oscar.result("x").error_name == "NameError"  # another user's variable never leaks
    # No call the swagger lacks, no reset-timeout (high-concurrency sessions have none).
    ops = {contract().operation(c.request.method, c.request.url)[0].operation_id
           for c in fabric.mock.calls if FABRIC in c.request.url}
    assert ops <= {o.operation_id for o in contract().operations if "HCSession" in o.operation_id}


def test_stop_deletes_only_our_repl_and_history_stays(users):
    erin, oscar = users
    erin.run("1+1")
    oscar.run("1+1")
    erin.until_idle()
    oscar.until_idle()
    mine = erin.session()
    erin.client.post(reverse("livy:stop_session", args=[mine.pk]))
    fabric = erin.fabric
    assert [r.state for r in fabric.repls.values() if r.id == mine.repl.hc_id] == ["Deleting"]
    assert len(fabric.spark_applications()) == 1  # Oscar's REPL keeps the application
    assert oscar.result("x = 3").state == "available"
    mine.refresh_from_db()
    assert not mine.active and mine.statements.count() == 1


def test_a_repl_that_died_is_told_on_the_page_with_history_kept(users):
    erin, _ = users
    erin.result("1+1")
    row = erin.session()
    repl = erin.fabric.repls[row.repl.hc_id]
    repl.state, repl.failure = "Failed", "The Spark application ran out of memory"
    SparkSession.objects.filter(pk=row.pk).update(refreshed_at=None)
    page = erin.client.get(reverse("livy:notebook")).content.decode()
    row.refresh_from_db()
    assert row.state == "error" and not row.active
    assert "The Spark application ran out of memory" in page
    assert Statement.objects.filter(session=row, code="1+1", state="available").exists()


def test_an_acquire_without_answer_is_not_repeated(users, monkeypatch):
    erin, _ = users
    from livy.remote.errors import LivyOutcomeUnknown

    def lost(self, spec):
        raise LivyOutcomeUnknown("Livy did not confirm the request; it may or may not have been carried out.")
    monkeypatch.setattr(LivyClient, "create_session", lost)
    page = erin.run("1+1")
    assert "may or may not have been carried out" in page
    assert SparkSession.objects.filter(active=True).count() == 0  # nothing adopted blindly, no second acquire
    assert Statement.objects.get(code="1+1").state == "failed"  # the code is kept with the reason
    assert re.search(r"(?s)1\+1", page)


def test_lifecycle_keep_alive_sends_nothing_for_a_repl(users):
    erin, _ = users
    erin.result("1+1")
    before = len(erin.fabric.exchanges)
    from livy.clients import livy_client

    assert lifecycle.keep_alive(erin.session(), client=livy_client(erin.client.session)) is False
    assert len(erin.fabric.exchanges) == before


# ------------------------------------------------------------------- a REPL per notebook
def _settle(fabric_client_of, _unused=None) -> None:
    """Drive every active session as its owner's open notebook page would, until each
    statement is finished."""
    def done():
        for row in SparkSession.objects.filter(active=True):
            SparkSession.objects.filter(pk=row.pk).update(refreshed_at=None)
            row.refresh_from_db()
            lifecycle.dispatch(row, client=fabric_client_of(row.owner))
        return not Statement.objects.exclude(state__in=["available", "error", "cancelled", "failed"]).exists()
    wait_for(done, timeout=10, interval=0, what="every statement to finish")


def test_two_users_three_notebooks_six_repls_on_two_spark_applications(users):
    from livy.clients import livy_client
    from livy.notebooks import service
    from livy.notebooks.ipynb import NotebookCell

    erin, oscar = users
    User = SparkSession._meta.get_field("owner").related_model
    people = {u.username: (User.objects.get(username=u.username), u) for u in users}
    clients = {person.pk: livy_client(signed.client.session) for person, signed in people.values()}
    books = {}
    for username, (person, _) in people.items():
        for n in range(3):
            book = service.create(person, title=f"{username}-{n}", cells=[
                NotebookCell("pyspark", f"x = {n + 1}"), NotebookCell("pyspark", "x"), NotebookCell("pyspark", "y")])
            books[(username, n)] = book
            first = book.cells.order_by("position")[0]
            service.queue_cells(book, [first], person, clients[person.pk])
    _settle(lambda owner: clients[owner.pk], None)

    fabric = erin.fabric
    rows = list(SparkSession.objects.filter(active=True))
    assert len(rows) == 6 and len({r.repl_scope for r in rows if r.owner.username == "erin@contoso.com"}) == 3
    assert len(fabric.live_repls()) == 6 and len(fabric.spark_applications()) == 2
    assert all(r.repl is not None for r in rows)

    # Each notebook sees its own x; a name set nowhere in a notebook is a NameError there.
    for (username, _n), book in books.items():
        person = people[username][0]
        cells = list(book.cells.order_by("position"))
        service.queue_cells(book, cells[1:], person, clients[person.pk])
    _settle(lambda owner: clients[owner.pk], None)
    for (_username, n), book in books.items():
        x_cell, y_cell = list(book.cells.order_by("position"))[1:]
        x_cell.refresh_from_db()
        y_cell.refresh_from_db()
        assert x_cell.last_statement.output["data"] == {"text/plain": str(n + 1)}
        assert y_cell.last_statement.error_name == "NameError"

    # Stopping one notebook's REPL leaves the five others (and both applications) running.
    person, _ = people["erin@contoso.com"]
    stopped = SparkSession.objects.get(active=True, repl_scope=f"notebook:{books[('erin@contoso.com', 0)].pk}")
    lifecycle.stop_session(stopped, client=clients[person.pk])
    assert fabric.repls[stopped.repl.hc_id].state == "Deleting" and len(fabric.live_repls()) == 5
    # An application ends only with its last REPL (the lone sixth REPL's, if it was that one).
    assert {a.id for a in fabric.spark_applications()} == {r.session.id for r in fabric.live_repls()}
    book = books[("erin@contoso.com", 1)]
    service.queue_cells(book, list(book.cells.order_by("position"))[1:2], person, clients[person.pk])
    _settle(lambda owner: clients[owner.pk], None)
    cell = book.cells.order_by("position")[1]
    assert cell.last_statement.output["data"] == {"text/plain": "2"}
    assert SparkSession.objects.filter(active=True).count() == 5


def test_in_standard_mode_a_user_s_notebooks_share_one_session(users, settings):
    from livy.clients import livy_client
    from livy.notebooks import service
    from livy.notebooks.ipynb import NotebookCell

    settings.CONFIG = settings.CONFIG.model_copy(update={"FABRIC_SESSION_MODE": "standard"})
    erin, _ = users
    User = SparkSession._meta.get_field("owner").related_model
    person = User.objects.get(username=erin.username)
    client = livy_client(erin.client.session)
    for n in range(2):
        book = service.create(person, title=f"b{n}", cells=[NotebookCell("pyspark", "1+1")])
        service.queue_cells(book, list(book.cells.all()), person, client)
    assert SparkSession.objects.filter(active=True).count() == 1
    assert SparkSession.objects.get(active=True).repl_scope == ""


def test_a_second_start_for_the_same_notebook_reuses_the_claimed_row(users):
    from livy.clients import livy_client

    erin, _ = users
    User = SparkSession._meta.get_field("owner").related_model
    person = User.objects.get(username=erin.username)
    client = livy_client(erin.client.session)
    first = lifecycle.ensure_session(person, client=client, repl_scope="notebook:7")
    again = lifecycle.ensure_session(person, client=client, repl_scope="notebook:7")
    console = lifecycle.ensure_session(person, client=client)
    assert again.pk == first.pk and console.pk != first.pk
    assert len(erin.fabric.repls) == 2  # one acquire per user and notebook, one for the console


def test_the_log_page_of_a_repl_calls_nothing_and_names_the_shared_session(users):
    erin, _ = users
    erin.result("1+1")
    row = erin.session()
    before = len(erin.fabric.exchanges)
    page = erin.client.get(reverse("livy:session_log", args=[row.pk])).content.decode()
    assert erin.fabric.exchanges[before:] == []
    assert f"shared Livy session {row.repl.session_id}, REPL {row.repl.repl_id}" in page


def test_430_on_acquire_tells_when_to_try_again_and_keeps_the_code(users):
    from tests.support.fakes_fabric import error_body

    erin, _ = users
    erin.fabric.inject("LivyApiHCSession_AcquireHighConcurrencySparkSessionAsync", 430,
                       error_body("TooManyRequestsForCapacity", "Spark capacity is exhausted."), {"Retry-After": "30"})
    page = erin.run("x = 41")
    assert "Livy is busy (HTTP 430: TooManyRequestsForCapacity" in page and "Try again in 30 s." in page
    assert Statement.objects.get(code="x = 41").state == "failed" and erin.fabric.repls == {}
    erin.run("x = 41")  # the user's next Run acquires
    assert len(erin.fabric.repls) == 1


def test_the_notebook_page_runs_each_notebook_in_its_own_repl_and_says_so(users):
    """Run all from two notebook pages of one user: two REPLs (one per notebook), each page's
    session bar names its own REPL, and a variable of one notebook is a NameError in the other."""
    from livy.notebooks import service
    from livy.notebooks.ipynb import NotebookCell

    erin, _ = users
    person = SparkSession._meta.get_field("owner").related_model.objects.get(username=erin.username)
    first = service.create(person, title="sets x", cells=[NotebookCell("pyspark", "x = 1"), NotebookCell("pyspark", "x")])
    second = service.create(person, title="reads x", cells=[NotebookCell("pyspark", "x")])

    def run_all_and_poll(book):
        url = reverse("livy:notebook_run", args=[book.pk])
        assert erin.client.post(url, {"mode": "all"}, content_type="application/json").status_code == 200

        def finished():
            SparkSession.objects.filter(active=True).update(refreshed_at=None)
            state = erin.client.post(reverse("livy:notebook_poll", args=[book.pk]), {},
                                     content_type="application/json").json()
            return state if state["run"] and state["run"]["state"] != "running" else None
        return wait_for(finished, timeout=10, interval=0, what=f"the run of {book.title!r} to end")

    assert run_all_and_poll(first)["run"]["state"] == "succeeded"
    assert run_all_and_poll(second)["run"]["state"] == "failed"
    rows = {r.repl_scope: r for r in SparkSession.objects.filter(active=True, owner=person)}
    assert set(rows) == {f"notebook:{first.pk}", f"notebook:{second.pk}"}
    assert second.cells.get().last_statement.error_name == "NameError"
    for book in (first, second):
        bar = erin.client.get(reverse("livy:notebook_json", args=[book.pk])).json()
        state = erin.client.post(reverse("livy:notebook_poll", args=[book.pk]), {},
                                 content_type="application/json").json()["session"]
        repl = rows[f"notebook:{book.pk}"].repl
        assert state["text"].startswith(f"REPL {repl.repl_id} in shared Livy session {repl.session_id}"), (bar, state)


def test_in_standard_mode_the_notebook_page_runs_on_fabric_in_the_user_s_one_session(users, settings):
    """The notebook page on Fabric with delegated tokens (standard mode): Run all goes through
    the user's one session, as the console does."""
    from livy.notebooks import service
    from livy.notebooks.ipynb import NotebookCell

    settings.CONFIG = settings.CONFIG.model_copy(update={"FABRIC_SESSION_MODE": "standard"})
    erin, _ = users
    person = SparkSession._meta.get_field("owner").related_model.objects.get(username=erin.username)
    book = service.create(person, title="standard", cells=[NotebookCell("pyspark", "1+1")])
    assert erin.client.post(reverse("livy:notebook_run", args=[book.pk]), {"mode": "all"},
                            content_type="application/json").status_code == 200

    def finished():
        SparkSession.objects.filter(active=True).update(refreshed_at=None)
        state = erin.client.post(reverse("livy:notebook_poll", args=[book.pk]), {},
                                 content_type="application/json").json()
        return state if state["run"]["state"] != "running" else None
    state = wait_for(finished, timeout=10, interval=0, what="the run to end")
    assert state["run"]["state"] == "succeeded"
    assert book.cells.get().last_statement.output["data"] == {"text/plain": "2"}
    row = SparkSession.objects.get(active=True, owner=person)
    assert row.repl_scope == "" and state["session"]["text"].startswith(f"Session {row.name}")
