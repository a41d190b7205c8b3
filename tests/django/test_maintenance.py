"""``manage.py maintenance``: the cron job reaps idle sessions, refreshes stale ones
read-only (never sends code or keep-alives) and clears expired sign-ins."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from livy.models import SparkSession, Statement
from tests.support.livy_json import FAKE_SESSION_NAME, LIVY, refused, session_json, statement_json

pytestmark = pytest.mark.django_db


def _session(owner, livy_id, *, age_minutes, refreshed_minutes_ago=None, state="idle"):
    """An active session row created ``age_minutes`` ago (named as the fake's payloads)."""
    row = SparkSession.objects.create(owner=owner, backend="apache", endpoint=LIVY, livy_id=livy_id,
                                      name=FAKE_SESSION_NAME, state=state)
    refreshed = None if refreshed_minutes_ago is None else timezone.now() - timedelta(minutes=refreshed_minutes_ago)
    SparkSession.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - timedelta(minutes=age_minutes), refreshed_at=refreshed
    )
    return SparkSession.objects.get(pk=row.pk)


def _run(*args):
    out, err = StringIO(), StringIO()
    call_command("maintenance", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_reaps_idle_and_refreshes_stale_sessions(editor, other_editor, livy_api):
    idle = _session(editor, "1", age_minutes=180)
    stale = _session(other_editor, "2", age_minutes=30, refreshed_minutes_ago=30, state="busy")
    stmt = Statement.objects.create(session=stale, author=other_editor, code="train()", livy_id=0, state="running")
    livy_api.get(f"{LIVY}/sessions/1", json=session_json(1, "idle"))
    delete = livy_api.delete(f"{LIVY}/sessions/1", json={"msg": "deleted"})
    livy_api.get(f"{LIVY}/sessions/2", json=session_json(2, "idle"))
    livy_api.get(f"{LIVY}/sessions/2/statements/0",
                 json=statement_json(0, "available", "train()", output={"status": "ok", "execution_count": 0,
                                                                       "data": {"text/plain": "done"}}))
    out, err = _run("--idle-minutes", "60")
    idle.refresh_from_db()
    stale.refresh_from_db()
    stmt.refresh_from_db()
    assert delete.call_count == 1 and (idle.active, idle.state) == (False, "killed")
    assert stale.active and stale.state == "idle" and stmt.state == "available"
    assert "1 session(s) stopped" in out and "1 stale session(s) refreshed, 0 failed." in out
    assert err == ""


def test_a_stale_session_livy_ended_is_closed(editor, livy_api):
    gone = _session(editor, "3", age_minutes=30, refreshed_minutes_ago=30)
    livy_api.get(f"{LIVY}/sessions/3", status=404, json={"msg": "Session '3' not found."})
    _run()
    gone.refresh_from_db()
    assert (gone.active, gone.state) == (False, "dead")


def test_recently_read_sessions_are_left_alone(editor, livy_api):
    _session(editor, "4", age_minutes=30, refreshed_minutes_ago=1)
    _session(editor.__class__.objects.create_user("newcomer"), "5", age_minutes=1)
    out, _ = _run()
    assert len(livy_api.calls) == 0 and "0 stale session(s) refreshed" in out


def test_nothing_is_sent_to_livy_on_a_users_behalf(editor, livy_api):
    """Queued code waits for its owner's page; the cron job only reads."""
    row = _session(editor, "6", age_minutes=30, refreshed_minutes_ago=30)
    queued = Statement.objects.create(session=row, author=editor, code="print(1)")
    livy_api.get(f"{LIVY}/sessions/6", json=session_json(6, "idle"))
    _run()
    queued.refresh_from_db()
    assert queued.state == Statement.QUEUED
    assert {c.request.method for c in livy_api.calls} == {"GET"}


def test_dry_run_changes_nothing(editor, livy_api):
    idle = _session(editor, "1", age_minutes=180)
    livy_api.get(f"{LIVY}/sessions/1", json=session_json(1, "idle"))
    out, _ = _run("--dry-run")
    assert f"would stop {FAKE_SESSION_NAME}" in out
    assert SparkSession.objects.get(pk=idle.pk).active
    assert {c.request.method for c in livy_api.calls} <= {"GET"}


def test_expired_sign_ins_are_cleared(livy_api):
    Session.objects.create(session_key="x" * 32, session_data="", expire_date=timezone.now() - timedelta(days=1))
    Session.objects.create(session_key="y" * 32, session_data="", expire_date=timezone.now() + timedelta(days=1))
    out, _ = _run()
    assert list(Session.objects.values_list("session_key", flat=True)) == ["y" * 32]
    assert "Expired sign-ins cleared." in out


def test_livy_unreachable_is_reported_with_exit_status_1(editor, livy_api):
    row = _session(editor, "7", age_minutes=30, refreshed_minutes_ago=30)
    livy_api.get(f"{LIVY}/sessions/7", body=refused())
    with pytest.raises(CommandError) as failure:
        _run()
    assert failure.value.returncode == 1
    assert SparkSession.objects.get(pk=row.pk).active  # nothing decided on a failed read


def test_fabric_with_delegated_tokens_touches_no_session(editor, livy_api, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_BACKEND": "fabric", "FABRIC_AUTH": "delegated"})
    row = SparkSession.objects.create(owner=editor, backend="fabric", endpoint=LIVY, livy_id="g-1",
                                      name=FAKE_SESSION_NAME, state="idle")
    SparkSession.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(hours=5))
    out, _ = _run()
    assert "Fabric with delegated tokens" in out and len(livy_api.calls) == 0
    assert SparkSession.objects.get(pk=row.pk).active
