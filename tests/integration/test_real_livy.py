"""Against the real local Apache Livy (scripts/livy/livy.sh up), local-mode Spark.

The client tests share one session (a Spark driver takes a while to start); the service
test runs the whole lifecycle a user goes through, from a statement queued while the
session starts to the session being gone from Livy.
"""

from __future__ import annotations

import os

import pytest

from livy import lifecycle
from livy.clients import livy_client
from livy.models import Statement
from livy.remote.backends import ApacheLivyBackend
from livy.remote.client import LivyClient
from livy.remote.errors import LivyNotFound
from livy.remote.states import SessionState, StatementState
from livy.remote.types import SessionSpec
from tests.support.polling import wait_for

pytestmark = pytest.mark.livy

#: A local-mode Spark driver with Livy's REPL starts in well under this on 2 cores.
SESSION_START_TIMEOUT = 240
STATEMENT_TIMEOUT = 120


@pytest.fixture(scope="module")
def client(real_livy):
    return LivyClient(ApacheLivyBackend(real_livy), timeout=30)


@pytest.fixture(scope="module")
def idle_session(client):
    session = client.create_session(SessionSpec(name=lifecycle.session_spec().name))
    try:
        wait_for(
            lambda: client.get_session(session.id).state in (SessionState.IDLE,) or client.get_session(session.id).state.is_terminal,
            timeout=SESSION_START_TIMEOUT, interval=1, what=f"session {session.id} to leave starting",
        )
        current = client.get_session(session.id)
        assert current.state is SessionState.IDLE, "\n".join(client.get_session_log(session.id, 0, 200).lines)
        yield current
    finally:
        try:
            client.delete_session(session.id)
        except LivyNotFound:
            pass


def _run(client, session_id, code, timeout=STATEMENT_TIMEOUT):
    stmt = client.submit_statement(session_id, code, "pyspark")
    return wait_for(
        lambda: (s := client.get_statement(session_id, stmt.id)).state.is_terminal and s,
        timeout=timeout, what=f"statement {code!r}",
    )


def test_session_reaches_idle_and_echoes_its_name(idle_session, client):
    assert idle_session.state is SessionState.IDLE
    assert idle_session.kind == "pyspark"
    # Local mode has no cluster manager: no appId, no Spark UI or driver log URL.
    assert idle_session.app_id is None and idle_session.spark_ui_url is None
    # The name is echoed in GET /sessions/{id} and GET /sessions: the lifecycle relies on it.
    assert idle_session.name and idle_session.name.startswith(os.environ["LIVY_SESSION_NAME_PREFIX"])
    assert idle_session.name in [s.name for s in client.list_sessions()]


def test_version_and_completion(client, idle_session):
    assert client.get_version().startswith("0.9.0")
    # Livy 0.9 completes Scala only (the Python interpreter has no completer): kind spark.
    assert "range" in client.complete(idle_session.id, "spark.ran", "spark", len("spark.ran"))


def test_sum_of_range_is_4950(client, idle_session):
    stmt = _run(client, idle_session.id, 'spark.range(100).selectExpr("sum(id)").collect()')
    assert stmt.state is StatementState.AVAILABLE and stmt.output.status == "ok"
    assert "4950" in stmt.output.data["text/plain"]


def test_show_prints_a_table(client, idle_session):
    stmt = _run(client, idle_session.id, 'spark.range(100).selectExpr("sum(id) AS total").show()')
    text = stmt.output.data["text/plain"]
    assert "|total|" in text and "| 4950|" in text


def test_raising_statement_has_name_value_and_traceback(client, idle_session):
    stmt = _run(client, idle_session.id, "1/0")
    assert stmt.output.status == "error"
    assert stmt.output.ename == "ZeroDivisionError"
    assert "division by zero" in stmt.output.evalue
    assert stmt.output.traceback


def test_long_statement_is_cancelled(client, idle_session):
    # Driver-side Python cannot be interrupted: Livy keeps the statement 'cancelling' for
    # livy.rsc.job-cancel.timeout (30 s), then 'cancelled'; the session stays busy until the
    # sleep ends. 35 s keeps that visible without holding the suite for minutes.
    stmt = client.submit_statement(idle_session.id, "import time\ntime.sleep(35)", "pyspark")
    wait_for(lambda: client.get_statement(idle_session.id, stmt.id).state is StatementState.RUNNING,
             timeout=30, what="the sleep to start running")
    client.cancel_statement(idle_session.id, stmt.id)
    final = wait_for(
        lambda: (s := client.get_statement(idle_session.id, stmt.id)).state.is_terminal and s,
        timeout=60, what="the cancelled state",
    )
    assert final.state is StatementState.CANCELLED
    # The session is usable again afterwards.
    assert "2" in _run(client, idle_session.id, "1+1").output.data["text/plain"]


@pytest.mark.django_db
def test_user_lifecycle_through_the_service_layer(real_livy, editor, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_BASE_ENDPOINT": real_livy})
    # Submitted while the session starts: queued, then sent once it is idle.
    stmt = lifecycle.submit(editor, 'spark.range(100).selectExpr("sum(id) AS total").collect()', client=livy_client())
    session = stmt.session
    assert stmt.state == Statement.QUEUED
    assert lifecycle.ensure_session(editor, client=livy_client()).pk == session.pk  # a second visit reuses it

    def finished():
        lifecycle.dispatch(session, client=livy_client())  # the owner's page POSTs while queued
        stmt.refresh_from_db()
        return stmt.is_terminal
    wait_for(finished, timeout=SESSION_START_TIMEOUT, interval=1, what="the queued statement to finish")
    assert stmt.state == "available" and "4950" in stmt.output["data"]["text/plain"]

    failing = lifecycle.submit(editor, "raise ValueError('bad input')", client=livy_client())
    def failed():
        lifecycle.poll(session, client=livy_client())
        failing.refresh_from_db()
        return failing.is_terminal
    wait_for(failed, timeout=STATEMENT_TIMEOUT, what="the failing statement")
    assert (failing.state, failing.error_name, failing.error_value) == ("error", "ValueError", "bad input")
    assert "Traceback" in failing.traceback or failing.traceback

    lifecycle.stop_session(session, client=livy_client())
    client = livy_client()
    wait_for(lambda: _gone(client, session.livy_id), timeout=60, what="the session to be gone from Livy")


def _gone(client, session_id):
    try:
        state = client.get_session(session_id).state
    except LivyNotFound:
        return True
    return state in (SessionState.KILLED, SessionState.DEAD) or None
