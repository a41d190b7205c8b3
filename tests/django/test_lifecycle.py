"""The session lifecycle against an HTTP fake of Apache Livy: reuse, start, queued submit,
refresh, cancel, stop, and what a dead or unreachable Livy does to the rows."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests
from django.utils import timezone
from responses import matchers

from livy import lifecycle, selectors
from livy.clients import livy_client
from livy.models import SparkSession, Statement
from livy.remote.errors import LivyError, LivyOutcomeUnknown, LivyUnavailable
from tests.support.livy_json import LIVY, error_output, ok_output, refused, session_json, statement_json

pytestmark = pytest.mark.django_db


def test_new_session_uses_prefix_conf_and_pyfiles(editor, livy_api, settings):
    settings.CONFIG = settings.CONFIG.model_copy(
        update={
            "LIVY_SESSION_NAME_PREFIX": "team-",
            "LIVY_SPARK_CONF": {"spark.executor.memory": "1g"},
            "LIVY_SPARK_DEPENDENCIES": ["local:/libs/a.py", "local:/libs/b.zip"],
        }
    )
    created = livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(4, "starting"))
    row = lifecycle.ensure_session(editor, client=livy_client())
    body = json.loads(created.calls[0].request.body)
    assert body["name"].startswith("team-") and body["name"] == row.name
    assert body["kind"] == "pyspark"
    assert body["conf"] == {"spark.executor.memory": "1g"}
    assert body["pyFiles"] == ["local:/libs/a.py", "local:/libs/b.zip"]
    assert (row.livy_id, row.state, row.active, row.owner) == ("4", "starting", True, editor)


def test_session_names_are_unique():
    names = {lifecycle.session_spec().name for _ in range(200)}
    assert len(names) == 200


def test_second_visit_reuses_the_live_session(editor, livy_api):
    create = livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(4, "starting"))
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    first = lifecycle.ensure_session(editor, client=livy_client())
    second = lifecycle.ensure_session(editor, client=livy_client())
    assert first.pk == second.pk and second.state == "idle"
    assert create.call_count == 1


def test_session_livy_forgot_is_replaced(editor, livy_api):
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(4, "starting"))
    first = lifecycle.ensure_session(editor, client=livy_client())
    livy_api.get(f"{LIVY}/sessions/4", status=404, json={"msg": "Session '4' not found."})
    livy_api.upsert("POST", f"{LIVY}/sessions", status=201, json=session_json(5, "starting"))
    second = lifecycle.ensure_session(editor, client=livy_client())
    first.refresh_from_db()
    assert second.pk != first.pk and second.livy_id == "5"
    assert (first.state, first.active) == ("dead", False)
    assert "no longer knows" in first.error_message


def test_livy_down_at_start_records_the_failure_and_raises(editor, livy_api):
    livy_api.post(f"{LIVY}/sessions", body=refused())
    with pytest.raises(LivyUnavailable):
        lifecycle.ensure_session(editor, client=livy_client())
    row = SparkSession.objects.get(owner=editor)
    assert (row.state, row.active) == ("error", False)
    assert "could not start" in row.error_message


def test_submit_while_starting_is_queued_then_sent_when_idle(editor, livy_api):
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(4, "starting"))
    submitted = livy_api.post(
        f"{LIVY}/sessions/4/statements",
        match=[matchers.json_params_matcher({"code": "1+1", "kind": "pyspark"})],
        status=201,
        json=statement_json(0, "waiting", "1+1"),
    )
    stmt = lifecycle.submit(editor, "1+1", client=livy_client())
    assert stmt.state == Statement.QUEUED and submitted.call_count == 0

    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "starting"))
    lifecycle.poll(stmt.session, client=livy_client())
    stmt.refresh_from_db()
    assert stmt.state == Statement.QUEUED and submitted.call_count == 0

    livy_api.upsert("GET", f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    livy_api.get(f"{LIVY}/sessions/4/statements/0", json=statement_json(0, "running", "1+1", progress=0.5))
    lifecycle.poll(stmt.session, client=livy_client())  # a GET poll: reads, sends nothing
    stmt.refresh_from_db()
    assert stmt.state == Statement.QUEUED and submitted.call_count == 0
    lifecycle.dispatch(stmt.session, client=livy_client())  # the owner's POST poll
    stmt.refresh_from_db()
    assert submitted.call_count == 1
    assert (stmt.state, stmt.livy_id, stmt.progress) == ("running", 0, 0.5)


def test_queued_statements_are_sent_in_order_and_once(editor, livy_api):
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(4, "starting"))
    sent_codes = []

    def on_submit(request):
        code = json.loads(request.body)["code"]
        sent_codes.append(code)
        return 201, {}, json.dumps(statement_json(len(sent_codes) - 1, "waiting", code))

    livy_api.add_callback("POST", f"{LIVY}/sessions/4/statements", callback=on_submit)
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "starting"))
    for code in ("a = 1", "b = 2", "a + b"):
        lifecycle.submit(editor, code, client=livy_client())
    session = SparkSession.objects.get(owner=editor)
    session.state = "idle"
    session.save()
    assert lifecycle.dispatch_queued(session, client=livy_client()) == 3
    assert lifecycle.dispatch_queued(session, client=livy_client()) == 0
    assert sent_codes == ["a = 1", "b = 2", "a + b"]


def test_result_and_error_are_stored(editor, livy_api):
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(4, "idle"))
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    livy_api.post(f"{LIVY}/sessions/4/statements", status=201, json=statement_json(0, "waiting"))
    stmt_ok = lifecycle.submit(editor, "spark.range(100).selectExpr('sum(id)').collect()", client=livy_client())
    livy_api.upsert("POST", f"{LIVY}/sessions/4/statements", status=201, json=statement_json(1, "waiting"))
    stmt_err = lifecycle.submit(editor, "1/0", client=livy_client())
    livy_api.get(
        f"{LIVY}/sessions/4/statements/0",
        json=statement_json(0, "available", "spark.range(100).selectExpr('sum(id)').collect()",
                            output=ok_output("[Row(sum(id)=4950)]", 1), progress=1.0,
                            started=1700000000000, completed=1700000002000),
    )
    livy_api.get(
        f"{LIVY}/sessions/4/statements/1",
        json=statement_json(1, "available", "1/0", output=error_output(
            "ZeroDivisionError", "division by zero",
            ["Traceback (most recent call last):\n", '  File "<stdin>", line 1, in <module>\n', "ZeroDivisionError: division by zero\n"], 2)),
    )
    lifecycle.poll(stmt_ok.session, client=livy_client())
    stmt_ok.refresh_from_db()
    stmt_err.refresh_from_db()
    assert stmt_ok.state == "available" and "4950" in stmt_ok.output["data"]["text/plain"]
    assert stmt_ok.duration_seconds == 2.0
    assert (stmt_err.state, stmt_err.error_name, stmt_err.error_value) == ("error", "ZeroDivisionError", "division by zero")
    assert stmt_err.traceback.endswith("ZeroDivisionError: division by zero\n")


def test_refresh_does_nothing_when_all_is_terminal(editor, livy_api):
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="pytest-1", state="dead", active=False)
    lifecycle.poll(session, client=livy_client())  # any HTTP call would fail: the fake has no routes
    assert len(livy_api.calls) == 0


def test_refresh_is_rate_limited_across_callers(editor, livy_api, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_REFRESH_MIN_INTERVAL": 60})
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="pytest-1", state="starting")
    get = livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "starting"))
    lifecycle.poll(session, client=livy_client())
    lifecycle.poll(SparkSession.objects.get(pk=session.pk), client=livy_client())
    assert get.call_count == 1


def test_session_killed_outside_fails_its_open_statements(editor, livy_api):
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="pytest-1", state="busy")
    stmt = Statement.objects.create(session=session, author=editor, code="long()", livy_id=0, state="running")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "dead", log=["ERROR OOM"]))
    # What Apache Livy answers for a statement of a session that ended (InteractiveSession.getStatement).
    livy_api.get(f"{LIVY}/sessions/4/statements/0", status=400, json={"msg": "requirement failed: Session isn't active."})
    lifecycle.poll(session, client=livy_client())
    stmt.refresh_from_db()
    session.refresh_from_db()
    assert (session.state, session.active) == ("dead", False)
    assert "ERROR OOM" in session.error_message
    assert stmt.state == "failed" and stmt.error_name == "SessionEnded"


def test_livy_unreachable_during_dispatch_keeps_statement_queued(editor, livy_api):
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="pytest-1", state="idle")
    stmt = Statement.objects.create(session=session, author=editor, code="print(1)")
    livy_api.post(f"{LIVY}/sessions/4/statements", body=refused())
    with pytest.raises(LivyUnavailable):
        lifecycle.dispatch_queued(session, client=livy_client())
    stmt.refresh_from_db()
    assert stmt.state == Statement.QUEUED and stmt.code == "print(1)"


def test_statement_livy_refuses_is_failed_with_reason(editor, livy_api):
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="pytest-1", state="idle")
    stmt = Statement.objects.create(session=session, author=editor, code="print(1)")
    livy_api.post(f"{LIVY}/sessions/4/statements", status=500, json={"msg": "java.lang.IllegalStateException"})
    lifecycle.dispatch_queued(session, client=livy_client())
    stmt.refresh_from_db()
    assert stmt.state == "failed" and "IllegalStateException" in stmt.error_value


def test_cancel_queued_statement_never_reaches_livy(editor, livy_api):
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="pytest-1", state="starting")
    stmt = Statement.objects.create(session=session, author=editor, code="x")
    lifecycle.cancel(stmt, client=livy_client())
    assert stmt.state == "cancelled" and len(livy_api.calls) == 0


def test_cancel_running_statement(editor, livy_api):
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="pytest-1", state="busy")
    stmt = Statement.objects.create(session=session, author=editor, code="x", livy_id=2, state="running")
    call = livy_api.post(f"{LIVY}/sessions/4/statements/2/cancel", json={"msg": "canceled"})
    # The session and its statement under our ids are read first: they must be ours.
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "busy"))
    livy_api.get(f"{LIVY}/sessions/4/statements/2", json=statement_json(2, "running", "x"))
    lifecycle.cancel(stmt, client=livy_client())
    assert call.call_count == 1 and stmt.state == "cancelling"
    livy_api.upsert("GET", f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    livy_api.upsert("GET", f"{LIVY}/sessions/4/statements/2", json=statement_json(2, "cancelled", "x"))
    lifecycle.poll(session, client=livy_client())
    stmt.refresh_from_db()
    assert stmt.state == "cancelled" and stmt.is_terminal


def test_stop_session_deletes_on_livy_and_cancels_open_statements(editor, livy_api):
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="pytest-1", state="busy")
    stmt = Statement.objects.create(session=session, author=editor, code="x", livy_id=2, state="running")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "busy"))  # still ours: same name
    delete = livy_api.delete(f"{LIVY}/sessions/4", json={"msg": "deleted"})
    lifecycle.stop_session(session, client=livy_client())
    stmt.refresh_from_db()
    assert delete.call_count == 1
    assert (session.state, session.active) == ("killed", False) and session.ended_at
    assert stmt.state == "cancelled"


def test_stop_session_livy_already_forgot(editor, livy_api):
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="pytest-1", state="idle")
    livy_api.get(f"{LIVY}/sessions/4", status=404, json={"msg": "Session '4' not found."})
    delete = livy_api.delete(f"{LIVY}/sessions/4", status=404, json={"msg": "not found"})
    lifecycle.stop_session(session, client=livy_client())
    assert session.active is False
    # A 404 may only mean "hidden from this caller" (Fabric): the DELETE is tried all the same.
    assert delete.call_count == 1 and not SparkSession.objects.get(pk=session.pk).active


def test_endpoint_change_retires_the_old_session(editor, settings, livy_api):
    SparkSession.objects.create(owner=editor, backend="apache", endpoint="http://old:8998", livy_id="4",
                                name="pytest-1", state="idle")
    assert selectors.active_session(editor) is None
    # A getter never writes: the old row is retired when the user next starts a session.
    assert SparkSession.objects.get(livy_id="4").active is True
    livy_api.post(f"{LIVY}/sessions", json=session_json(id=0, state="starting"), status=201)
    lifecycle.ensure_session(editor, client=livy_client())
    assert SparkSession.objects.get(livy_id="4").active is False


def test_one_active_session_per_user_is_enforced_by_the_database(editor):
    from django.db import IntegrityError, transaction

    SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, name="a")
    with pytest.raises(IntegrityError), transaction.atomic():
        SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, name="b")


def test_init_code_runs_first_in_new_sessions(editor, livy_api, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_SESSION_INIT_CODE": "from py4j.java_gateway import java_import"})
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(4, "starting"))
    lifecycle.submit(editor, "print(1)", client=livy_client())
    codes = list(Statement.objects.order_by("pk").values_list("code", flat=True))
    assert codes == ["from py4j.java_gateway import java_import", "print(1)"]


def test_visibility_is_scoped_to_owner_without_permission(editor, other_editor, livy_admin):
    mine = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, name="mine")
    SparkSession.objects.create(owner=other_editor, backend="apache", endpoint=LIVY, name="theirs")
    assert list(selectors.sessions_visible_to(editor)) == [mine]
    assert selectors.sessions_visible_to(livy_admin).count() == 2
    assert selectors.can_stop(livy_admin, mine) and not selectors.can_stop(other_editor, mine)


def test_livy_unreachable_right_after_submit_keeps_statement_queued(editor, livy_api):
    SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4", name="pytest-1", state="idle")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    livy_api.post(f"{LIVY}/sessions/4/statements", body=refused())
    stmt = lifecycle.submit(editor, "print(1)", client=livy_client())
    assert stmt.state == Statement.QUEUED
    livy_api.upsert("POST", f"{LIVY}/sessions/4/statements", status=201, json=statement_json(0, "waiting", "print(1)"))
    livy_api.get(f"{LIVY}/sessions/4/statements/0", json=statement_json(0, "running", "print(1)"))
    lifecycle.dispatch(stmt.session, client=livy_client())  # the owner's POST poll sends it
    stmt.refresh_from_db()
    assert stmt.state == "running" and stmt.livy_id == 0


def _stale(stmt):
    Statement.objects.filter(pk=stmt.pk).update(submitted_at=timezone.now() - timedelta(minutes=5))


def test_unanswered_submission_is_adopted_not_resent(editor, livy_api):
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="pytest-1", state="idle")
    stmt = Statement.objects.create(session=session, author=editor, code="spark.range(9).count()")
    post = livy_api.post(f"{LIVY}/sessions/4/statements", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(LivyOutcomeUnknown):
        lifecycle.dispatch_queued(session, client=livy_client())
    stmt.refresh_from_db()
    assert stmt.state == Statement.SENDING
    _stale(stmt)
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "busy"))
    livy_api.get(f"{LIVY}/sessions/4/statements", json={"total_statements": 1, "statements": [
        statement_json(0, "running", "spark.range(9).count()")]})
    livy_api.get(f"{LIVY}/sessions/4/statements/0", json=statement_json(0, "running", "spark.range(9).count()"))
    lifecycle.poll(session, client=livy_client())
    stmt.refresh_from_db()
    assert (stmt.state, stmt.livy_id) == ("running", 0)
    assert post.call_count == 1  # never sent twice


def test_unanswered_submission_livy_does_not_list_is_failed_not_resent(editor, livy_api):
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="pytest-1", state="idle")
    stmt = Statement.objects.create(session=session, author=editor, code="print(1)", state=Statement.SENDING,
                                    submitted_at=timezone.now())
    _stale(stmt)
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    livy_api.get(f"{LIVY}/sessions/4/statements", json={"total_statements": 0, "statements": []})
    lifecycle.poll(session, client=livy_client())
    stmt.refresh_from_db()
    assert stmt.state == "failed" and stmt.error_name == "SubmissionUnconfirmed"
    assert "may not have run" in stmt.error_value
    assert not [c for c in livy_api.calls if c.request.method == "POST"]  # never resent


def test_a_slow_send_is_not_settled_while_it_may_still_be_in_flight(editor, livy_api):
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="pytest-1", state="idle")
    stmt = Statement.objects.create(session=session, author=editor, code="print(1)", state=Statement.SENDING,
                                    submitted_at=timezone.now() - timedelta(seconds=45))  # > 1 timeout, < 4
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    lifecycle.poll(session, client=livy_client())
    stmt.refresh_from_db()
    assert stmt.state == Statement.SENDING  # no statement list was even read


def test_reconciliation_does_not_adopt_an_older_statement_with_the_same_code(editor, livy_api):
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="pytest-1", state="idle")
    earlier = Statement.objects.create(session=session, author=editor, code="other()", livy_id=5, state="available")
    stmt = Statement.objects.create(session=session, author=editor, code="df.count()", state=Statement.SENDING,
                                    submitted_at=timezone.now())
    _stale(stmt)
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    # Livy's statement 3 ran the same code before 'earlier' (e.g. a send whose 502 was taken as failed).
    livy_api.get(f"{LIVY}/sessions/4/statements", json={"total_statements": 2, "statements": [
        statement_json(3, "available", "df.count()", ok_output("10")),
        statement_json(5, "available", "other()", ok_output("x"))]})
    lifecycle.poll(session, client=livy_client())
    stmt.refresh_from_db()
    assert earlier.livy_id == 5 and stmt.livy_id is None and stmt.state == "failed"


def test_gateway_error_on_a_send_is_an_unknown_outcome(editor, livy_api):
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="pytest-1", state="idle")
    stmt = Statement.objects.create(session=session, author=editor, code="x = 1")
    livy_api.post(f"{LIVY}/sessions/4/statements", status=504, body="Gateway Timeout")
    with pytest.raises(LivyOutcomeUnknown):
        lifecycle.dispatch_queued(session, client=livy_client())
    stmt.refresh_from_db()
    assert stmt.state == Statement.SENDING


def test_unanswered_session_creation_is_adopted_by_name(editor, livy_api):
    def create(request):
        created_name.append(json.loads(request.body)["name"])
        raise requests.ReadTimeout("read timed out")
    created_name = []
    livy_api.add_callback("POST", f"{LIVY}/sessions", callback=create)
    livy_api.add_callback("GET", f"{LIVY}/sessions", callback=lambda r: (200, {}, json.dumps(
        {"from": 0, "total": 1, "sessions": [session_json(12, "starting", name=created_name[0])]})))
    row = lifecycle.ensure_session(editor, client=livy_client())
    assert (row.livy_id, row.state, row.active) == ("12", "starting", True)


def test_stop_during_start_wins_and_the_livy_session_is_deleted(editor, livy_api):
    def create(request):
        # The user presses Stop while Livy is starting the session.
        SparkSession.objects.filter(owner=editor).update(active=False, state="killed")
        return 201, {}, json.dumps(session_json(7, "starting"))
    livy_api.add_callback("POST", f"{LIVY}/sessions", callback=create)
    delete = livy_api.delete(f"{LIVY}/sessions/7", json={"msg": "deleted"})
    with pytest.raises(LivyError, match="stopped while it was starting"):
        lifecycle.ensure_session(editor, client=livy_client())
    row = SparkSession.objects.get(owner=editor)
    assert (row.state, row.active) == ("killed", False) and delete.call_count == 1


def test_stop_during_a_poll_is_not_undone(editor, livy_api):
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="pytest-1", state="busy")
    def get(request):
        SparkSession.objects.filter(pk=session.pk).update(active=False, state="killed")
        return 200, {}, json.dumps(session_json(4, "busy"))
    livy_api.add_callback("GET", f"{LIVY}/sessions/4", callback=get)
    lifecycle.poll(session, client=livy_client())
    session.refresh_from_db()
    assert (session.state, session.active) == ("killed", False)


def test_start_cut_off_before_livy_answered_is_closed(editor, livy_api):
    row = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, name="pytest-1", state="not_started")
    SparkSession.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(minutes=10))
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(8, "starting"))
    new = lifecycle.ensure_session(editor, client=livy_client())
    row.refresh_from_db()
    assert (row.state, row.active) == ("error", False) and "interrupted" in row.error_message
    assert new.livy_id == "8"


def test_spark_ui_link_must_be_http(editor, livy_api):
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="pytest-1", state="starting")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle", appInfo={"sparkUiUrl": "javascript:alert(1)"}))
    lifecycle.poll(session, client=livy_client())
    session.refresh_from_db()
    assert session.spark_ui_url == ""


def test_a_statement_claimed_by_another_worker_is_not_sent_again(editor, livy_api):
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="pytest-1", state="idle")
    mine = Statement.objects.create(session=session, author=editor, code="a")
    theirs = Statement.objects.create(session=session, author=editor, code="b")
    post = livy_api.post(f"{LIVY}/sessions/4/statements", status=201, json=statement_json(0, "waiting", "a"))
    # Another process claims 'b' between this one's read of the queue and its claim.
    real_filter = Statement.objects.filter

    def racing_filter(*args, **kwargs):
        if kwargs.get("pk") == theirs.pk and kwargs.get("state") == Statement.QUEUED:
            real_filter(pk=theirs.pk).update(state=Statement.SENDING)
        return real_filter(*args, **kwargs)

    Statement.objects.filter = racing_filter
    try:
        assert lifecycle.dispatch_queued(session, client=livy_client()) == 1
    finally:
        del Statement.objects.filter
    assert post.call_count == 1 and json.loads(post.calls[0].request.body)["code"] == "a"
    assert Statement.objects.get(pk=mine.pk).livy_id == 0
