"""What the lifecycle does when Livy restarts, forgets sessions, answers nonsense or cannot
start a session: never another user's session, nothing lost, a reason on the row."""

from __future__ import annotations

import pytest
from django.utils import timezone

from livy import lifecycle
from livy.clients import livy_client
from livy.models import SparkSession, Statement
from livy.remote.errors import LivyUnavailable
from tests.support.livy_json import LIVY, ok_output, refused, session_json, statement_json

pytestmark = pytest.mark.django_db


def _live_session(owner, livy_id="0", name="pytest-1", state="idle"):
    return SparkSession.objects.create(owner=owner, backend="apache", endpoint=LIVY, livy_id=livy_id, name=name,
                                       state=state)


def test_after_a_livy_restart_another_users_session_under_our_id_is_never_used(editor, other_editor, livy_api):
    """Livy restarted: ids start from 0 again and session 0 is now the other user's."""
    mine = _live_session(editor, "0", name="pytest-erin")
    stmt = Statement.objects.create(session=mine, author=editor, code="x = 1", livy_id=0, state="running")
    theirs_json = session_json(0, "idle", name="pytest-oscar")
    livy_api.get(f"{LIVY}/sessions/0", json=theirs_json)
    livy_api.get(f"{LIVY}/sessions/0/statements/0", json=statement_json(0, "available", "secret()",
                                                                          output=ok_output("oscar's data")))
    delete = livy_api.delete(f"{LIVY}/sessions/0", json={"msg": "deleted"})
    post = livy_api.post(f"{LIVY}/sessions/0/statements", status=201, json=statement_json(1, "waiting", "x + 1"))

    lifecycle.poll(mine, client=livy_client(), user=editor)
    mine.refresh_from_db()
    stmt.refresh_from_db()
    assert (mine.state, mine.active) == ("dead", False) and "belongs to someone else" in mine.error_message
    assert stmt.state == "failed" and stmt.output is None and "oscar" not in (stmt.error_value or "")

    # Stop does not delete the other user's session; the next Run starts a new session.
    lifecycle.stop_session(mine, client=livy_client())
    assert delete.call_count == 0
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(1, "starting"))
    new = lifecycle.submit(editor, "x + 1", client=livy_client())
    assert new.session.pk != mine.pk and new.session.livy_id == "1" and post.call_count == 0


def test_a_statement_under_our_ids_with_other_code_is_not_copied(editor, livy_api):
    session = _live_session(editor, "0", state="busy")
    stmt = Statement.objects.create(session=session, author=editor, code="mine()", livy_id=0, state="running")
    SparkSession.objects.filter(pk=session.pk).update(updated_at=timezone.now())
    livy_api.get(f"{LIVY}/sessions/0", json=session_json(0, "busy"))
    livy_api.get(f"{LIVY}/sessions/0/statements/0", json=statement_json(0, "available", "theirs()",
                                                                          output=ok_output("not yours")))
    lifecycle.poll(session, client=livy_client(), user=editor)
    stmt.refresh_from_db()
    session.refresh_from_db()
    assert stmt.output is None and stmt.state == "failed"
    assert session.state == "dead"


def test_a_get_poll_never_sends_code(editor, livy_api):
    """Only a POST by the owner (``lifecycle.dispatch``) sends queued statements."""
    session = _live_session(editor, "4")
    Statement.objects.create(session=session, author=editor, code="print(1)")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    post = livy_api.post(f"{LIVY}/sessions/4/statements", status=201, json=statement_json(0, "waiting", "print(1)"))
    livy_api.get(f"{LIVY}/sessions/4/statements/0", json=statement_json(0, "running", "print(1)"))
    lifecycle.poll(session, client=livy_client(), user=editor)
    assert post.call_count == 0
    lifecycle.dispatch(session, client=livy_client(), user=editor)
    assert post.call_count == 1


def test_a_malformed_statement_answer_fails_that_statement_only(editor, livy_api):
    session = _live_session(editor, "4", state="busy")
    bad = Statement.objects.create(session=session, author=editor, code="a()", livy_id=0, state="running")
    good = Statement.objects.create(session=session, author=editor, code="b()", livy_id=1, state="running")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "busy"))
    malformed = statement_json(0, "available", "a()", output={"status": "ok", "data": "not an object"})
    livy_api.get(f"{LIVY}/sessions/4/statements/0", json=malformed)
    livy_api.get(f"{LIVY}/sessions/4/statements/1", json=statement_json(1, "available", "b()", output=ok_output("2")))
    lifecycle.poll(session, client=livy_client(), user=editor)
    bad.refresh_from_db()
    good.refresh_from_db()
    assert bad.state == "failed" and "could not be read" in bad.error_value and "output.data" in bad.error_value
    assert good.state == "available" and good.output["data"]["text/plain"] == "2"


def test_failed_starts_keep_one_error_row_and_the_code_of_each_run(editor, livy_api):
    livy_api.post(f"{LIVY}/sessions", body=refused())
    for code in ("first()", "second()"):
        with pytest.raises(LivyUnavailable):
            lifecycle.submit(editor, code, client=livy_client())
    rows = SparkSession.objects.filter(owner=editor)
    assert rows.count() == 1
    row = rows.get()
    assert (row.state, row.active) == ("error", False) and "cannot be reached" in row.error_message
    kept = list(row.statements.order_by("pk").values_list("code", "state", "error_name"))
    assert kept == [("first()", "failed", "SessionNotStarted"), ("second()", "failed", "SessionNotStarted")]

    # Livy is back: the same row starts the session; the failed statements stay in its history.
    livy_api.upsert("POST", f"{LIVY}/sessions", status=201, json=session_json(3, "starting"))
    stmt = lifecycle.submit(editor, "third()", client=livy_client())
    assert stmt.session.pk == row.pk and stmt.session.livy_id == "3" and stmt.session.active
    assert stmt.session.statements.count() == 3


def test_run_waits_for_a_quick_result(editor, livy_api):
    session = _live_session(editor, "4")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    livy_api.post(f"{LIVY}/sessions/4/statements", status=201, json=statement_json(0, "waiting", "1+1"))
    livy_api.get(f"{LIVY}/sessions/4/statements/0", json=statement_json(0, "available", "1+1", output=ok_output("2")))
    stmt = lifecycle.submit(editor, "1+1", client=livy_client(), wait=2.0)
    assert stmt.state == "available" and stmt.output["data"]["text/plain"] == "2"
    assert session.pk == stmt.session_id


def test_run_without_wait_answers_at_once(editor, livy_api):
    _live_session(editor, "4")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    livy_api.post(f"{LIVY}/sessions/4/statements", status=201, json=statement_json(0, "waiting", "1+1"))
    stmt = lifecycle.submit(editor, "1+1", client=livy_client())
    assert stmt.state == "waiting"
    assert not [c for c in livy_api.calls if "/statements/0" in c.request.url]


def test_an_idle_session_with_nothing_open_is_not_read(editor, livy_api, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_SESSION_CHECK_INTERVAL": 5.0})
    session = _live_session(editor, "4")
    Statement.objects.create(session=session, author=editor, code="1+1", livy_id=0, state="available")
    lifecycle.poll(session, client=livy_client(), user=editor)
    assert len(livy_api.calls) == 0


def test_a_running_statement_costs_one_read_per_refresh(editor, livy_api, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_SESSION_CHECK_INTERVAL": 5.0})
    session = _live_session(editor, "4", state="busy")
    Statement.objects.create(session=session, author=editor, code="long()", livy_id=0, state="running")
    livy_api.get(f"{LIVY}/sessions/4/statements/0", json=statement_json(0, "running", "long()", progress=0.3))
    for _ in range(3):
        lifecycle.poll(session, client=livy_client(), user=editor)
    assert [c.request.url.rsplit("/", 2)[-2:] for c in livy_api.calls] == [["statements", "0"]] * 3


def test_same_code_in_another_users_session_is_not_copied_between_session_checks(editor, livy_api, settings):
    """Between session reads a statement is read alone; before its output is copied the
    session is proved ours: after a restart, Oscar may run the very same code under our ids."""
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_SESSION_CHECK_INTERVAL": 5.0})
    session = _live_session(editor, "0", name="pytest-erin", state="busy")
    stmt = Statement.objects.create(session=session, author=editor, code="df.show()", livy_id=2, state="running")
    livy_api.get(f"{LIVY}/sessions/0/statements/2", json=statement_json(2, "available", "df.show()",
                                                                          output=ok_output("oscar's rows")))
    livy_api.get(f"{LIVY}/sessions/0", json=session_json(0, "idle", name="pytest-oscar"))
    lifecycle.poll(session, client=livy_client(), user=editor)
    stmt.refresh_from_db()
    session.refresh_from_db()
    assert stmt.output is None and stmt.state == "failed"
    assert session.state == "dead" and "someone else" in session.error_message


def test_cancel_never_reaches_a_session_that_is_not_ours(editor, livy_api):
    session = _live_session(editor, "0", name="pytest-erin", state="busy")
    stmt = Statement.objects.create(session=session, author=editor, code="x", livy_id=2, state="running")
    livy_api.get(f"{LIVY}/sessions/0", json=session_json(0, "busy", name="pytest-oscar"))
    livy_api.get(f"{LIVY}/sessions/0/statements/2", json=statement_json(2, "running", "x"))
    cancel = livy_api.post(f"{LIVY}/sessions/0/statements/2/cancel", json={"msg": "canceled"})
    lifecycle.cancel(stmt, client=livy_client(), actor=editor)
    assert cancel.call_count == 0


def test_a_later_statement_is_not_sent_while_an_earlier_one_is_unconfirmed(editor, livy_api):
    session = _live_session(editor, "4")
    Statement.objects.create(session=session, author=editor, code="a = 1", state=Statement.SENDING,
                             submitted_at=timezone.now())
    later = Statement.objects.create(session=session, author=editor, code="print(a)")
    post = livy_api.post(f"{LIVY}/sessions/4/statements", status=201, json=statement_json(1, "waiting", "print(a)"))
    assert lifecycle.dispatch_queued(session, client=livy_client()) == 0
    later.refresh_from_db()
    assert later.state == Statement.QUEUED and post.call_count == 0


def test_a_stale_stop_does_not_close_a_session_reopened_meanwhile(editor, livy_api):
    row = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, name="pytest-old",
                                      state="error", active=False, error_message=lifecycle.START_FAILED + "down")
    stale = SparkSession.objects.get(pk=row.pk)  # what a Stop request loaded earlier
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(7, "starting"))
    started = lifecycle.ensure_session(editor, client=livy_client())
    assert started.pk == row.pk and started.livy_id == "7"
    lifecycle.stop_session(stale, client=livy_client())
    row.refresh_from_db()
    assert row.active and row.livy_id == "7" and row.state == "starting"


def test_a_finished_statement_leaves_the_session_idle_without_another_read(editor, livy_api, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_SESSION_CHECK_INTERVAL": 15.0})
    session = _live_session(editor, "4", state="busy")
    Statement.objects.create(session=session, author=editor, code="long()", livy_id=0, state="running")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "busy"))
    livy_api.get(f"{LIVY}/sessions/4/statements/0", json=statement_json(0, "available", "long()",
                                                                          output=ok_output("done")))
    lifecycle.poll(session, client=livy_client(), user=editor)
    session.refresh_from_db()
    assert session.state == "idle"
    reads = [c.request.url.rsplit("/", 2)[-2:] for c in livy_api.calls]
    assert reads == [["statements", "0"], ["sessions", "4"]]  # the statement, then the identity check before copying it


def test_after_a_cancel_the_session_is_read_since_python_may_still_run(editor, livy_api, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_SESSION_CHECK_INTERVAL": 15.0})
    session = _live_session(editor, "4", state="busy")
    Statement.objects.create(session=session, author=editor, code="sleep()", livy_id=0, state="cancelling")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "busy"))
    livy_api.get(f"{LIVY}/sessions/4/statements/0", json=statement_json(0, "cancelled", "sleep()"))
    lifecycle.poll(session, client=livy_client(), user=editor)
    session.refresh_from_db()
    assert session.state == "busy"


def test_the_owners_post_poll_that_sends_queued_code_waits_for_a_quick_result(editor, livy_api):
    session = _live_session(editor, "4", state="starting")
    stmt = Statement.objects.create(session=session, author=editor, code="1+1")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    livy_api.post(f"{LIVY}/sessions/4/statements", status=201, json=statement_json(0, "waiting", "1+1"))
    livy_api.get(f"{LIVY}/sessions/4/statements/0", json=statement_json(0, "available", "1+1", output=ok_output("2")))
    lifecycle.dispatch(session, client=livy_client(), user=editor, wait=2.0)
    stmt.refresh_from_db()
    assert stmt.state == "available" and stmt.output["data"]["text/plain"] == "2"


def test_a_statement_read_as_available_before_its_output_is_read_again_until_the_output_is_there(editor, livy_api):
    """Livy's REPL sets the output before the state, but its copy to the server reads the
    fields in name order: one read can say ``available`` with ``output: null`` (a real Livy
    showed ``%table squares`` finished and empty for good). The next poll must fill it in."""
    session = _live_session(editor, "4", state="busy")
    stmt = Statement.objects.create(session=session, author=editor, code="%table squares", livy_id=0, state="running")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "busy"))
    table = {"status": "ok", "execution_count": 0,
             "data": {"application/vnd.livy.table.v1+json": {"headers": [{"name": "n", "type": "LONG_TYPE"}],
                                                              "data": [[0], [1]]}}}
    url = f"{LIVY}/sessions/4/statements/0"
    livy_api.get(url, json=statement_json(0, "available", "%table squares", output=None, progress=1.0, started=1))
    livy_api.get(url, json=statement_json(0, "available", "%table squares", output=table, progress=1.0,
                                          started=1, completed=2))
    lifecycle.poll(session, client=livy_client(), user=editor)
    stmt.refresh_from_db()
    assert not stmt.is_terminal and stmt.output is None  # still shown running: the page polls again
    lifecycle.poll(session, client=livy_client(), user=editor)
    stmt.refresh_from_db()
    assert stmt.state == "available" and stmt.output["data"]["application/vnd.livy.table.v1+json"]["data"] == [[0], [1]]


def test_a_statement_that_stays_available_without_output_is_finished_in_the_end(editor, livy_api):
    """A server that answers ``available`` without output for good (long after ``completed``)
    does not leave the statement running forever."""
    session = _live_session(editor, "4", state="busy")
    stmt = Statement.objects.create(session=session, author=editor, code="x = 1", livy_id=0, state="running")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "busy"))
    long_ago = int((timezone.now().timestamp() - 60) * 1000)
    livy_api.get(f"{LIVY}/sessions/4/statements/0", json=statement_json(0, "available", "x = 1", output=None,
                                                                          progress=1.0, started=1, completed=long_ago))
    lifecycle.poll(session, client=livy_client(), user=editor)
    stmt.refresh_from_db()
    assert stmt.state == "available" and stmt.is_terminal


def test_a_running_statement_costs_one_livy_read_per_poll_and_its_deleted_session_is_still_noticed(editor, livy_api,
                                                                                                     settings):
    """Apache Livy's statement answer tells a session that ended (404 once deleted, 400 once
    dead), so polls read only the statement however long it runs; the session is read when
    that answer is an error, and then ended."""
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_SESSION_CHECK_INTERVAL": 0.0})
    session = _live_session(editor, "4", state="busy")
    stmt = Statement.objects.create(session=session, author=editor, code="long()", livy_id=0, state="running")
    url = f"{LIVY}/sessions/4/statements/0"
    livy_api.get(url, json=statement_json(0, "running", "long()", progress=0.3))
    for _ in range(3):
        lifecycle.poll(session, client=livy_client(), user=editor)
    assert [c.request.url for c in livy_api.calls] == [url] * 3
    livy_api.upsert("GET", url, status=404, json={"msg": "Session '4' not found."})
    livy_api.get(f"{LIVY}/sessions/4", status=404, json={"msg": "Session '4' not found."})
    lifecycle.poll(session, client=livy_client(), user=editor)
    session.refresh_from_db()
    stmt.refresh_from_db()
    assert (session.state, session.active) == ("dead", False) and "no longer knows" in session.error_message
    assert stmt.state == "failed" and stmt.error_name == "SessionEnded"
