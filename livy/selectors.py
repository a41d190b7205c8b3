"""What users may see, and the questions the pages and the reaper ask of the database.

Selectors only read: none of them writes a row or calls Livy. The lifecycle
(:mod:`livy.lifecycle`) is where rows change.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from django.db.models import Count, IntegerField, Max, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce, Greatest

from livy.models import SparkSession, Statement
from livy.remote.states import SessionState, StatementState
from livy.states import BUSY_SESSION_VALUES, RUNNING_STATEMENT_VALUES, TERMINAL_STATEMENT_VALUES
from myapp.config import current_config


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


def active_session(user: Any, repl_scope: str = "") -> SparkSession | None:
    """The user's active session on the configured backend *and* endpoint, or None;
    ``repl_scope``: a notebook's own REPL (Fabric high concurrency), "" the console's.

    A row left active on another endpoint (the configuration changed) is not returned; the
    lifecycle retires it when the user next starts a session."""
    cfg = current_config()
    return SparkSession.objects.filter(
        owner=user, backend=cfg.LIVY_BACKEND, endpoint=cfg.LIVY_BASE_ENDPOINT, active=True, repl_scope=repl_scope
    ).first()


# ------------------------------------------------------------------------------ page state
def open_statements(session: SparkSession) -> QuerySet[Statement]:
    """The session's statements that have not reached a terminal state."""
    return session.statements.exclude(state__in=TERMINAL_STATEMENT_VALUES)


def needs_refresh(session: SparkSession) -> bool:
    """True while reading Livy could change what the page shows: some statement is not
    terminal, or the session is neither terminal nor idle (starting, busy, ...). An idle
    session with nothing open is not read (it changes only when someone acts)."""
    if open_statements(session).exists():
        return True
    return not session.is_terminal and session.session_state is not SessionState.IDLE


def inactive_sessions(cutoff: datetime) -> QuerySet[SparkSession]:
    """Active sessions with no activity since ``cutoff``: not created, run in, finished in or
    kept alive after it. Their rows may be stale (nobody had the page open): refresh them
    from Livy (``lifecycle.refresh_unattended``), then use :func:`idle_sessions`.
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


# ------------------------------------------------------------------------------- notebook
def with_positions(statements: QuerySet[Statement]) -> QuerySet[Statement]:
    """``statements`` annotated with ``position``: each one's number in its session (1 for
    the first), the one numbering the pages show (``[3]``). One correlated count per row,
    served by the ``(session, state)`` index."""
    earlier = (
        Statement.objects.filter(session=OuterRef("session"), pk__lte=OuterRef("pk"))
        .order_by()
        .values("session")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    return statements.annotate(position=Subquery(earlier, output_field=IntegerField()))


def notebook_scope(user: Any) -> QuerySet[Statement]:
    """Every statement of ``user``'s sessions on the configured backend *and* endpoint, the
    sessions that ended included: what the notebook page draws from."""
    cfg = current_config()
    return Statement.objects.filter(
        session__owner=user, session__backend=cfg.LIVY_BACKEND, session__endpoint=cfg.LIVY_BASE_ENDPOINT
    )


def notebook_statements(user: Any, *, limit: int = 50) -> list[Statement]:
    """The user's latest ``limit`` statements across their sessions on the configured backend
    and endpoint (:func:`notebook_scope`), oldest first, each with ``position`` and its
    session loaded. A session that ended keeps its statements here, so the page still shows
    them (with a Re-run) after Livy lost the session."""
    newest = with_positions(notebook_scope(user)).select_related("session", "author").order_by("-pk")
    return list(newest[:limit])[::-1]


def latest_session(user: Any) -> SparkSession | None:
    """The session the notebook's session bar shows: the user's active session on the
    configured backend and endpoint, else the newest one there (it ended), else None."""
    cfg = current_config()
    mine = SparkSession.objects.filter(owner=user, backend=cfg.LIVY_BACKEND, endpoint=cfg.LIVY_BASE_ENDPOINT,
                                       repl_scope="")
    return mine.filter(active=True).first() or mine.order_by("-created_at", "-pk").first()


def statements_changed(scope: QuerySet[Statement], *, open_pks: Iterable[int], after: int | None,
                       limit: int | None = None) -> tuple[list[Statement], list[Statement]]:
    """What a poll answers with, as ``(updated, new)``, both oldest first, with ``position``
    and session loaded:

    * ``updated``: the statements of ``scope`` whose pks are in ``open_pks`` and not newer
      than ``after`` (the page shows them unfinished; they are sent whatever their state, so
      the poll where one finishes carries its output, and later polls no longer ask for it);
    * ``new``: the statements of ``scope`` newer than ``after`` (the largest pk the page
      shows), at most the latest ``limit``; with ``after`` None, the latest ``limit`` of
      ``scope`` (all of it when ``limit`` is None) and ``updated`` is empty.

    Pks outside ``scope`` are ignored, so a page cannot read statements it may not see."""
    base = with_positions(scope).select_related("session", "author")
    if after is None:
        newest = base.order_by("-pk")
        return [], list(newest[:limit] if limit is not None else newest)[::-1]
    wanted = [pk for pk in open_pks if pk <= after]
    updated = list(base.filter(pk__in=wanted).order_by("pk")) if wanted else []
    newer = base.filter(pk__gt=after).order_by("-pk")
    return updated, list(newer[:limit] if limit is not None else newer)[::-1]


def scope_is_live(scope: QuerySet[Statement], session: SparkSession | None) -> bool:
    """True while a page showing ``scope`` (with ``session`` in its session bar) should keep
    polling: a statement of ``scope`` is unfinished, or the session is neither terminal nor
    idle (starting, busy, shutting down)."""
    if session is not None and not session.is_terminal and session.session_state is not SessionState.IDLE:
        return True
    return scope.exclude(state__in=TERMINAL_STATEMENT_VALUES).exists()


def has_queued(session: SparkSession | None) -> bool:
    """True when ``session`` has statements waiting to be sent (only a POST sends them)."""
    return session is not None and session.statements.filter(state=Statement.QUEUED).exists()


def has_cancelling(session: SparkSession) -> bool:
    """True when a statement of ``session`` is ``cancelling`` (Livy keeps such a session busy
    until the code ends: the page offers a restart)."""
    return session.statements.filter(state=StatementState.CANCELLING.value).exists()


def open_sessions_of(scope: QuerySet[Statement], pks: Iterable[int]) -> QuerySet[SparkSession]:
    """The sessions of the unfinished statements of ``scope`` among ``pks`` (a poll refreshes
    them: a session that ended settles its statements)."""
    wanted = list(pks)
    return SparkSession.objects.filter(
        Q(pk__in=scope.filter(pk__in=wanted).exclude(state__in=TERMINAL_STATEMENT_VALUES).values("session"))
    )
