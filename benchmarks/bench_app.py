"""App-side chores of ``bench_livy.py``, run in a subprocess with the benchmark app's
environment (its temporary database): ``python benchmarks/bench_app.py <command> [args]``.

Commands (each prints one JSON value):

* ``user NAME PASSWORD`` -- an Editors account (roles created if missing);
* ``config`` -- the app's effective LIVY_* settings the benchmark reports;
* ``statements NAME`` -- the user's statements: pk, state, Livy ids, the app's timestamps;
* ``history NAME COUNT`` -- COUNT finished statements added to the user's latest session
  (a long history for the poll load test), with outputs like real ones.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import django  # noqa: E402

django.setup()

from django.contrib.auth.models import Group, User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from livy.models import SparkSession, Statement  # noqa: E402
from myapp.config import current_config  # noqa: E402


def user(name: str, password: str) -> dict:
    call_command("setup_roles", verbosity=0)
    account, _ = User.objects.get_or_create(username=name)
    account.set_password(password)
    account.save()
    account.groups.add(Group.objects.get(name="Editors"))
    return {"pk": account.pk}


def config() -> dict:
    cfg = current_config()
    keys = ("LIVY_BACKEND", "LIVY_POLL_INTERVAL", "LIVY_REFRESH_MIN_INTERVAL", "LIVY_SESSION_CHECK_INTERVAL",
            "LIVY_RUN_WAIT", "LIVY_REQUESTS_TIMEOUT", "LIVY_KEEPALIVE_INTERVAL")
    return {key: getattr(cfg, key, None) for key in keys}


def statements(name: str) -> list[dict]:
    rows = Statement.objects.filter(author__username=name).select_related("session").order_by("pk")
    return [{
        "pk": s.pk, "state": s.state, "code": s.code, "livy_id": s.livy_id, "session_pk": s.session_id,
        "session_livy_id": s.session.livy_id, "session_name": s.session.name,
        "created_at": s.created_at.timestamp(), "submitted_at": s.submitted_at and s.submitted_at.timestamp(),
        "completed_at": s.completed_at and s.completed_at.timestamp(),
    } for s in rows]


def history(name: str, count: int) -> dict:
    session = SparkSession.objects.filter(owner__username=name).order_by("-created_at", "-pk").first()
    if session is None:
        raise SystemExit(f"{name} has no session")
    author = session.owner
    now = timezone.now()
    base = 100_000  # Livy ids nobody will ask Livy for: these statements are finished
    Statement.objects.bulk_create(
        Statement(session=session, author=author, code=f"spark.range({i}).count()", kind="pyspark",
                  livy_id=base + i, state="available", progress=1.0, submitted_at=now, started_at=now,
                  completed_at=now,
                  output={"status": "ok", "execution_count": base + i, "data": {"text/plain": str(i) * 40}})
        for i in range(count)
    )
    return {"session_pk": session.pk, "statements": session.statements.count()}


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    handlers = {"user": user, "config": config, "statements": statements,
                "history": lambda n, c: history(n, int(c))}
    print(json.dumps(handlers[command](*args)))
