"""``manage.py reap_sessions`` stops only sessions idle past the cut-off."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from livy.models import SparkSession, Statement
from tests.support.livy_json import LIVY, session_json, statement_json

pytestmark = pytest.mark.django_db


def _aged(owner, livy_id, minutes, **kw):
    row = SparkSession.objects.create(owner=owner, backend="apache", endpoint=LIVY, livy_id=livy_id,
                                      name=f"s{livy_id}", state="idle", active=kw.pop("active", True))
    SparkSession.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(minutes=minutes))
    return row


def test_reaps_idle_sessions_only(editor, other_editor, livy_api):
    idle = _aged(editor, "1", 180)
    busy = _aged(other_editor, "2", 180)
    stmt = Statement.objects.create(session=busy, author=other_editor, code="x", state="available")
    Statement.objects.filter(pk=stmt.pk).update(created_at=timezone.now() - timedelta(minutes=5))
    _aged(editor, "3", 180, active=False)  # already closed
    livy_api.get(f"{LIVY}/sessions/1", json=session_json(1, "idle", name="s1"))
    delete = livy_api.delete(f"{LIVY}/sessions/1", json={"msg": "deleted"})
    out = StringIO()
    call_command("reap_sessions", "--idle-minutes", "60", stdout=out)
    idle.refresh_from_db()
    busy.refresh_from_db()
    assert delete.call_count == 1 and (idle.state, idle.active) == ("killed", False)
    assert busy.active and "1 session(s) stopped, 0 failed." in out.getvalue()


def test_dry_run_stops_nothing(editor, livy_api):
    _aged(editor, "1", 180)
    livy_api.get(f"{LIVY}/sessions/1", json=session_json(1, "idle", name="s1"))
    out = StringIO()
    call_command("reap_sessions", "--dry-run", stdout=out)
    assert "would stop s1" in out.getvalue()
    assert [c.request.method for c in livy_api.calls] == ["GET"]
    assert SparkSession.objects.get(livy_id="1").active


def test_recent_keep_alive_counts_as_activity(editor, livy_api):
    row = _aged(editor, "1", 180)
    SparkSession.objects.filter(pk=row.pk).update(kept_alive_at=timezone.now())
    call_command("reap_sessions", stdout=StringIO())
    assert SparkSession.objects.get(pk=row.pk).active and len(livy_api.calls) == 0


def test_a_long_running_statement_is_activity(editor, livy_api):
    row = _aged(editor, "1", 180)
    stmt = Statement.objects.create(session=row, author=editor, code="train()", livy_id=0, state="running")
    Statement.objects.filter(pk=stmt.pk).update(created_at=timezone.now() - timedelta(minutes=150))
    livy_api.get(f"{LIVY}/sessions/1", json=session_json(1, "busy", name="s1"))
    livy_api.get(f"{LIVY}/sessions/1/statements/0", json=statement_json(0, "running", "train()"))
    call_command("reap_sessions", "--idle-minutes", "60", stdout=StringIO())
    assert SparkSession.objects.get(pk=row.pk).active
    assert not [c for c in livy_api.calls if c.request.method == "DELETE"]


def test_a_row_nobody_looked_at_is_judged_by_what_livy_says_now(editor, livy_api):
    row = _aged(editor, "1", 180)
    SparkSession.objects.filter(pk=row.pk).update(state="busy")
    stmt = Statement.objects.create(session=row, author=editor, code="train()", livy_id=0, state="running")
    Statement.objects.filter(pk=stmt.pk).update(created_at=timezone.now() - timedelta(minutes=150))
    livy_api.get(f"{LIVY}/sessions/1", json=session_json(1, "idle", name="s1"))
    livy_api.get(f"{LIVY}/sessions/1/statements/0", json=statement_json(0, "available", "train()",
                                                                          completed=1))
    delete = livy_api.delete(f"{LIVY}/sessions/1", json={"msg": "deleted"})
    call_command("reap_sessions", "--idle-minutes", "60", stdout=StringIO())
    assert delete.call_count == 1 and not SparkSession.objects.get(pk=row.pk).active
