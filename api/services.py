"""What the API asks of the lifecycle, in one place: the public functions of
:mod:`livy.lifecycle` (``submit``, ``ensure_session``, ``stop_session``, ``cancel`` and the
session refresh the pages use), plus waiting for a statement or a notebook run within one
request.

Each request gets its own Livy client (:func:`client`); API callers have no browser session,
so with Fabric and ``FABRIC_AUTH=delegated`` the client has no user token and the lifecycle
raises ``LivySignInRequired`` (answered 401): pipelines on Fabric use
``FABRIC_AUTH=service_principal``.
"""

from __future__ import annotations

import time
from typing import Any

from livy import lifecycle
from livy.clients import livy_client
from livy.models import NotebookRun, SparkSession, Statement
from livy.notebooks import service as notebook_service
from livy.remote.client import LivyClient

#: First pause (seconds) between reads while a ``wait`` holds a request, doubled up to
#: :data:`WAIT_MAX_PAUSE` (a statement queued behind a starting session is sent once it is ready).
WAIT_FIRST_PAUSE = 0.05
WAIT_MAX_PAUSE = 1.0


def client() -> LivyClient:
    """A Livy client for one API request (no browser session: no delegated Fabric token)."""
    return livy_client({})


def refresh(session: SparkSession, *, client: LivyClient, actor: Any, dispatch: bool = False,
            wait: float = 0.0) -> SparkSession:
    """The pages' session refresh: :func:`livy.lifecycle.dispatch` when ``dispatch`` (the
    owner's request: queued statements are sent, ``wait`` seconds for the first it sends),
    else :func:`livy.lifecycle.poll` (reads Livy only when something is unfinished).
    Raises LivyError."""
    if dispatch:
        return lifecycle.dispatch(session, client=client, user=actor, wait=wait)
    return lifecycle.poll(session, client=client, user=actor)


def may_dispatch(user: Any, session: SparkSession) -> bool:
    """Only the owner, allowed to run code, sends their queued statements."""
    return bool(session.owner_id == user.pk and user.has_perm("livy.run_code"))


def await_statement(stmt: Statement, *, actor: Any, client: LivyClient, wait: float) -> Statement:
    """Bring ``stmt`` up to date, then keep reading it for up to ``wait`` seconds until it is
    terminal. Its owner's queued statements are sent once the session is ready. Livy errors
    propagate (``LivyError``); the statement row keeps what is known."""
    deadline = time.monotonic() + max(0.0, wait)
    pause = WAIT_FIRST_PAUSE
    while True:
        if not stmt.is_terminal:
            session = SparkSession.objects.get(pk=stmt.session_id)
            dispatch = may_dispatch(actor, session)
            remaining = deadline - time.monotonic()
            refresh(session, client=client, actor=actor, dispatch=dispatch,
                    wait=max(0.0, remaining) if dispatch else 0.0)
            stmt.refresh_from_db()
        remaining = deadline - time.monotonic()
        if stmt.is_terminal or remaining <= 0:
            return stmt
        time.sleep(min(pause, remaining))
        pause = min(pause * 2, WAIT_MAX_PAUSE)


def await_run(run: NotebookRun, *, actor: Any, client: LivyClient, wait: float) -> NotebookRun:
    """``GET /runs/{id}``: bring ``run`` up to date and hold up to ``wait`` seconds until it
    ends. Read by its user (allowed to run code) it moves on (:func:`livy.notebooks.service.drive_run`:
    the next cells are sent as the running ones finish); anyone else's read only reads the
    rows, every :data:`WAIT_FIRST_PAUSE` seconds at first, doubling up to
    :data:`WAIT_MAX_PAUSE`. Livy errors propagate (``LivyError``)."""
    deadline = time.monotonic() + max(0.0, wait)
    pause = WAIT_FIRST_PAUSE
    drives = run.user_id == actor.pk and actor.has_perm("livy.run_code")
    while True:
        if not run.is_finished:
            if drives:
                notebook_service.drive_run(run, client, wait=max(0.0, deadline - time.monotonic()))
            run.refresh_from_db()
        left = deadline - time.monotonic()
        if run.is_finished or left <= 0:
            return run
        time.sleep(min(pause, left))
        pause = min(pause * 2, WAIT_MAX_PAUSE)


def run(user: Any, code: str, kind: str, *, client: LivyClient, wait: float) -> Statement:
    """Submit ``code`` as a Run does (the session started if needed) and wait up to ``wait``
    seconds for its result. Raises LivyError as :func:`livy.lifecycle.submit` does."""
    started = time.monotonic()
    stmt = lifecycle.submit(user, code, client=client, kind=kind, wait=wait)
    left = wait - (time.monotonic() - started)
    if left > 0 and not stmt.is_terminal:
        stmt = await_statement(stmt, actor=user, client=client, wait=left)
    return stmt


def start_session(user: Any, *, client: LivyClient) -> SparkSession:
    """:func:`livy.lifecycle.ensure_session`: the user's live session, started if needed."""
    return lifecycle.ensure_session(user, client=client)


def stop_session(session: SparkSession, *, client: LivyClient) -> SparkSession:
    """:func:`livy.lifecycle.stop_session`: delete it on Livy (if still ours) and close the row."""
    return lifecycle.stop_session(session, client=client)


def cancel(stmt: Statement, *, client: LivyClient, actor: Any) -> Statement:
    """:func:`livy.lifecycle.cancel`: queued ones at once, running ones asked of Livy."""
    return lifecycle.cancel(stmt, client=client, actor=actor)
