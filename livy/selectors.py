"""What users may see, and the questions the pages and the reaper ask of the database.

Selectors only read: none of them writes a row or calls Livy. The lifecycle
(:mod:`livy.lifecycle`) is where rows change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Max, QuerySet
from django.db.models.functions import Coalesce, Greatest

from livy.clients import current_config
from livy.models import SparkSession, Statement
from livy.remote.states import SessionState
from livy.states import BUSY_SESSION_VALUES, RUNNING_STATEMENT_VALUES, TERMINAL_STATEMENT_VALUES
from myapp.config import AppConfig


# ----------------------------------------------------------------------------- visibility
def sessions_visible_to(user: Any) -> QuerySet[SparkSession]:
    """Sessions ``user`` may read: their own, or all with ``livy.view_all_sessions``."""
    qs = SparkSession.objects.select_related("owner")
    if user.has_perm("livy.view_all_sessions"):
        return qs
    return qs.filter(owner=user)


def statements_visible_to(user: Any) -> QuerySet[Statement]:
    """Statements ``user`` may read: those of the sessions in :func:`sessions_visible_to`."""
    qs = Statement.objects.select_related("session", "author")
    if user.has_perm("livy.view_all_sessions"):
        return qs
    return qs.filter(session__owner=user)


def can_stop(user: Any, session: SparkSession) -> bool:
    """Owners may stop their session; others need ``livy.stop_any_session``."""
    return bool(session.owner_id == user.pk or user.has_perm("livy.stop_any_session"))


def active_session(user: Any, *, cfg: AppConfig | None = None) -> SparkSession | None:
    """The user's active session on the configured backend *and* endpoint, or None.

    A row left active on another endpoint (the configuration changed) is not returned; the
    lifecycle retires it when the user next starts a session."""
    cfg = cfg or current_config()
    return SparkSession.objects.filter(
        owner=user, backend=cfg.LIVY_BACKEND, endpoint=cfg.LIVY_BASE_ENDPOINT, active=True
    ).first()


# ------------------------------------------------------------------------------ page state
def open_statements(session: SparkSession) -> QuerySet[Statement]:
    """The session's statements that have not reached a terminal state."""
    return session.statements.exclude(state__in=TERMINAL_STATEMENT_VALUES)


def needs_refresh(session: SparkSession) -> bool:
    """True while reading Livy could change what the page shows: the session is not
    terminal, or some of its statements are not."""
    return not session.is_terminal or open_statements(session).exists()


@dataclass(frozen=True)
class PageState:
    """What a page shows: the session (or None), its latest statements (oldest first), how
    many earlier ones are left out (``hidden``), and whether anything is still moving (the
    page keeps polling while ``live``). ``complete`` says the page shows the whole history."""

    session: SparkSession | None
    statements: list[Statement]
    live: bool
    hidden: int = 0
    complete: bool = False


def page_state(session: SparkSession | None, limit: int | None = None) -> PageState:
    """The :class:`PageState` of ``session`` as stored (no Livy call), with at most ``limit``
    statements (the latest), or all of them when ``limit`` is None."""
    if session is None:
        return PageState(None, [], False)
    newest = session.statements.select_related("author").order_by("-created_at", "-pk")
    statements = list(newest[:limit] if limit is not None else newest)[::-1]
    cut = limit is not None and len(statements) == limit
    hidden = session.statements.count() - len(statements) if cut else 0
    open_statement = (
        open_statements(session).exists()
        if hidden
        else any(not s.is_terminal for s in statements)
    )
    live = not session.is_terminal and (session.session_state is not SessionState.IDLE or open_statement)
    return PageState(session, statements, live, hidden=hidden, complete=limit is None)


# --------------------------------------------------------------------------------- reaper
def inactive_sessions(cutoff: datetime) -> QuerySet[SparkSession]:
    """Active sessions with no activity since ``cutoff``: not created, run in, finished in or
    kept alive after it. Their rows may be stale (nobody had the page open): refresh them
    from Livy (``lifecycle.refresh(..., read_only=True)``), then use :func:`idle_sessions`.
    Each row carries ``last_activity`` (a datetime)."""
    return (
        SparkSession.objects.filter(active=True)
        .annotate(
            last_statement=Coalesce(Max("statements__created_at"), "created_at"),
            last_completed=Coalesce(Max("statements__completed_at"), "created_at"),
            last_keepalive=Coalesce("kept_alive_at", "created_at"),
        )
        .annotate(last_activity=Greatest("created_at", "last_statement", "last_completed", "last_keepalive"))
        .filter(last_activity__lt=cutoff)
        .select_related("owner")
    )


def idle_sessions(cutoff: datetime) -> QuerySet[SparkSession]:
    """:func:`inactive_sessions` that run nothing on Livy as last read (a long job is activity)."""
    return inactive_sessions(cutoff).exclude(state__in=BUSY_SESSION_VALUES).exclude(
        statements__state__in=RUNNING_STATEMENT_VALUES
    )
