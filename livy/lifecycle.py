"""The session and statement lifecycle: the only module that changes session and statement
rows (with :mod:`livy.session_end`, where a session that died is ended). Views and the
management commands call these functions; these call the Livy client they are given.

Rules:

* A row is written before the Livy call it stands for, and updated from Livy's answer.
* A user has at most one *active* session per backend (a partial unique constraint); their
  notebook reuses it while Livy says it is alive, and a new one is started when it is gone.
* A statement submitted while its session is still starting is ``queued`` and sent when the
  session becomes ready, in submission order. Claims on rows are conditional ``UPDATE``\\ s, so
  several processes or tabs never send the same statement twice.
* A notebook run's statements (``Statement.run``) go to Livy one at a time: one is sent only
  once every earlier statement of its run ended OK; when one did not, the rest of the run is
  cancelled ("Not run: cell N failed") and the run is failed (:func:`settle_run`). Only an
  owner's request sends the next one (:func:`dispatch` with ``wait`` drives the chain). A
  run is settled only once its statements are saved (``NotebookRun.queued``), and a run that
  is no longer running sends nothing more: its queued statements are cancelled.
* Refreshing from Livy happens only while something is not terminal, and at most once per
  ``LIVY_REFRESH_MIN_INTERVAL`` seconds per session however many tabs poll. There is one
  refresh per intent: :func:`poll` (a page's GET poll), :func:`verify` (a page load),
  :func:`dispatch` (the owner's POST, which sends queued code) and :func:`refresh_unattended`
  (the maintenance command and the reaper).

Errors: functions raise :class:`livy.remote.errors.LivyError` subclasses when Livy cannot be used;
views turn them into messages. Nothing the user typed is lost: a statement that could not
be sent stays ``queued`` (transient errors) or becomes ``failed`` with the reason.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from livy.models import NotebookRun, SparkSession, Statement, repl_scope_for
from livy.remote.backends import BACKEND_CLASSES
from livy.remote.client import LivyClient
from livy.remote.errors import (
    LivyError,
    LivyHTTPError,
    LivyNotFound,
    LivyOutcomeUnknown,
    LivyProtocolError,
    LivySignInRequired,
    LivyThrottled,
    LivyUnavailable,
)
from livy.remote.states import SessionState, StatementState
from livy.remote.types import LivySession, LivyStatement, SessionSpec
from livy.selectors import active_session, needs_refresh, open_statements
from livy.session_end import (
    SESSION_ENDED,
    START_FAILED,
    SessionCheck,
    check_session,
    close_if_start_abandoned,
    end_if_statement_not_ours,
    end_session,
    fail_open_statements,
    is_ours,
    longest_send_seconds,
    record_session,
    retire_elsewhere,
)
from livy.states import BUSY_SESSION_VALUES, statement_is_terminal
from myapp.config import current_config

log = logging.getLogger(__name__)

__all__ = [
    "START_FAILED", "cancel", "cancel_run", "cancel_runs", "complete", "dispatch", "dispatch_queued", "ensure_session", "keep_alive",
    "notebook_scope", "poll", "refresh_unattended", "session_log_elsewhere", "session_log_tail", "session_scope_of",
    "session_spec", "settle_run", "stop_run", "stop_session", "submit", "submit_run", "verify",
]


def session_spec() -> SessionSpec:
    """The spec of a new session: ``LIVY_SESSION_NAME_PREFIX`` + a UTC timestamp down to the
    microsecond, kind ``pyspark``, ``conf`` from ``LIVY_SPARK_CONF``, ``pyFiles`` from
    ``LIVY_SPARK_DEPENDENCIES``."""
    cfg = current_config()
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
    return SessionSpec(
        name=f"{cfg.LIVY_SESSION_NAME_PREFIX}{stamp}",
        kind="pyspark",
        conf=dict(cfg.LIVY_SPARK_CONF),
        py_files=list(cfg.LIVY_SPARK_DEPENDENCIES),
    )


# -------------------------------------------------------------------------------- sessions
def ensure_session(user: Any, *, client: LivyClient, repl_scope: str = "") -> SparkSession:
    """The user's live session, started now if there is none (or the last one ended).

    A reused session is checked on Livy first (one GET); one Livy has forgotten is ended
    (:mod:`livy.session_end`) and replaced. The row is created first; if another request
    created one at the same moment, that one is returned. The Livy create call returns at once
    with the session ``starting``. Raises :class:`LivyError` if Livy refuses or cannot be
    reached (the row then records the error and is no longer active).

    ``repl_scope`` (:func:`livy.models.repl_scope_for`): a notebook's own session, "" the
    console's; one active row per user and scope is the claim that keeps two processes from
    acquiring two REPLs for one user and notebook (Fabric's acquire is not idempotent).
    """
    return _ensure_session(user, client, repl_scope)[0]


def _ensure_session(user: Any, client: LivyClient, repl_scope: str = "") -> tuple[SparkSession, bool]:
    """:func:`ensure_session`, and whether Livy's session was proved ours (id and name) by
    this call (a reused session that Livy still has)."""
    cfg = current_config()
    retire_elsewhere(user)
    row = active_session(user, repl_scope)
    if row is not None and not row.is_terminal:
        if row.livy_id:
            # Health check: Livy may have ended the session (timeout, restart) since last seen,
            # or given its id to someone else's session after a restart.
            if check_session(row, client, may_end=True).ours and not row.is_terminal:
                return row, True
        else:
            close_if_start_abandoned(row)
    if row is not None and not row.is_terminal:
        return row, False
    if row is not None:
        end_session(row)

    spec = session_spec()
    try:
        with transaction.atomic():
            row = _reopen_failed_start(user, spec, repl_scope) or SparkSession.objects.create(
                owner=user,
                backend=cfg.LIVY_BACKEND,
                endpoint=cfg.LIVY_BASE_ENDPOINT,
                repl_scope=repl_scope,
                name=spec.name,
                kind=spec.kind,
                state=SessionState.NOT_STARTED.value,
                active=True,
            )
    except IntegrityError:
        # Another request of this user won the race: use its session.
        winner = active_session(user, repl_scope)
        if winner is None:  # pragma: no cover - retired between the two statements
            raise
        return winner, False

    try:
        livy = client.create_session(spec)
    except LivyOutcomeUnknown as exc:
        found = _find_session_by_name(client, spec.name)
        if found is None:
            end_session(row, f"{START_FAILED}{exc}", state=SessionState.ERROR)
            raise
        livy = found
    except LivyError as exc:
        end_session(row, f"{START_FAILED}{exc}", state=SessionState.ERROR)
        raise
    if not record_session(row, livy):
        # Stopped while Livy was starting it: do not leave a Spark session nobody tracks.
        try:
            client.delete_session(livy.id)
        except LivyError:
            log.warning("session %s stopped while starting; Livy session %s not deleted", row.pk, livy.id)
        raise LivyError("The session was stopped while it was starting.")
    if cfg.LIVY_SESSION_INIT_CODE.strip():
        Statement.objects.create(session=row, author=user, code=cfg.LIVY_SESSION_INIT_CODE, kind=row.kind)
    log.info("user %s started Livy session %s (%s)", user.pk, row.livy_id, row.name)
    return row, False


def _reopen_failed_start(user: Any, spec: SessionSpec, repl_scope: str = "") -> SparkSession | None:
    """The user's latest session row, made active again for a new start, when it is one whose
    start failed before Livy gave it an id: repeated Runs against a Livy that cannot start a
    session keep one ``error`` row (holding the failed statements), not one per click."""
    cfg = current_config()
    latest = (
        SparkSession.objects.filter(owner=user, backend=cfg.LIVY_BACKEND, endpoint=cfg.LIVY_BASE_ENDPOINT,
                                    repl_scope=repl_scope)
        .order_by("-created_at", "-pk")
        .first()
    )
    if (latest is None or latest.active or latest.livy_id or latest.state != SessionState.ERROR.value
            or not latest.error_message.startswith(START_FAILED)):
        return None
    reopened = SparkSession.objects.filter(pk=latest.pk, active=False, livy_id="").update(
        active=True, name=spec.name, state=SessionState.NOT_STARTED.value, error_message="", ended_at=None,
        created_at=timezone.now(), refreshed_at=None,
    )
    if not reopened:
        return None
    latest.refresh_from_db()
    return latest


def stop_session(session: SparkSession, *, client: LivyClient) -> SparkSession:
    """Delete the session on Livy and close its row; statements not finished are cancelled.

    The session is deleted only if Livy's session under our id is still ours (same name: see
    :func:`livy.session_end.is_ours`); one Livy no longer knows, or that now belongs to someone
    else, is closed here without touching Livy. Raises :class:`LivyError` when Livy cannot be
    reached (the row stays as it was, so the user can try again).
    """
    if session.livy_id and not session.is_terminal:
        try:
            livy: LivySession | None = client.get_session(session.livy_id)
        except LivyNotFound:
            livy = None  # gone, or hidden from this caller (Fabric): the DELETE below says which
        if livy is not None and not is_ours(session, livy):
            log.warning("not deleting Livy session %s: it is no longer row %s's", session.livy_id, session.pk)
        else:
            try:
                client.delete_session(session.livy_id)
            except LivyNotFound:
                pass
    now = timezone.now()
    open_statements(session).update(
        state=StatementState.CANCELLED.value, completed_at=now
    )
    if not session.is_terminal:
        session.state = SessionState.KILLED.value
    session.active = False
    session.ended_at = session.ended_at or now
    # Conditional on the name: a row reopened for a new start meanwhile is not closed by this.
    SparkSession.objects.filter(pk=session.pk, name=session.name).update(
        state=session.state, active=False, ended_at=session.ended_at, updated_at=now
    )
    log.info("Livy session %s (%s) stopped", session.livy_id, session.name)
    return session


# -------------------------------------------------------------------- refreshing, by intent
def poll(session: SparkSession, *, client: LivyClient, user: Any = None) -> SparkSession:
    """A page's poll (a GET, by ``user``; None: the owner): bring the session and its
    unfinished statements up to date from Livy, only reading, with no more Livy calls than
    the answer needs (see :func:`_refresh`). Never sends code.

    ``user`` other than the owner (an administrator): with per-user tokens (Fabric) a 404 is
    not taken as the session being gone, since it may only be hidden from them. Raises
    :class:`LivyError` when Livy cannot be reached; rows are left as they were.
    """
    return _refresh(session, client, owner_acting=_is_owner(session, user))


def verify(session: SparkSession, *, client: LivyClient, user: Any = None) -> SparkSession:
    """A page load by ``user``: :func:`poll`, and an idle session with nothing open is read
    too (one ``GET /sessions/{id}``): Livy may have ended it, or restarted, while nobody
    looked. Raises as :func:`poll` does."""
    return _refresh(session, client, owner_acting=_is_owner(session, user), read_idle=True)


def dispatch(session: SparkSession, *, client: LivyClient, user: Any = None, wait: float = 0.0,
             force: bool = False) -> SparkSession:
    """The owner's POST while statements are queued (``user`` None: the owner): :func:`poll`,
    and once the session is ready its queued statements are sent (:func:`dispatch_queued`),
    the server's idle timer is reset (Fabric), and the answer is held up to ``wait`` seconds
    while what was sent runs. A notebook run's statements go out one at a time
    (:class:`~livy.models.NotebookRun`), so within ``wait`` this drives the chain: when a sent
    statement finishes, the next queued one is sent in the same request, until the wait is
    used up or nothing is queued. ``force``: refresh whatever the last refresh (the request
    that has just queued the code, e.g. a Run all). Anyone else's POST only reads.
    Raises as :func:`poll` does; a send's errors as :func:`dispatch_queued` says."""
    owner = _is_owner(session, user)
    return _refresh(session, client, owner_acting=owner, send=owner, wait=wait, force=force)


def refresh_unattended(session: SparkSession, *, client: LivyClient) -> SparkSession:
    """The read of a job with no user (the maintenance command, the reaper before it decides):
    the session is read even when idle, whatever the last refresh (no
    ``LIVY_REFRESH_MIN_INTERVAL`` wait), nothing is sent and no idle timer reset, so a row
    nobody looked at shows what Livy says (a session Livy ended is ended). With per-user
    tokens a 404 is not taken as gone (no user to ask as). Raises :class:`LivyError` when
    Livy cannot be reached.

    Notebook runs: this never sends the next cell of a run (no code goes out without its
    owner's request: the page's dispatch POST, the Run itself, or the API's ``GET /runs/{id}``
    by the owner), but it settles them (:func:`settle_run`): a run whose statement failed, or
    whose session Livy ended, becomes ``failed`` and its queued rest ``cancelled``."""
    return _refresh(session, client, owner_acting=False, read_idle=True, force=True)


def _is_owner(session: SparkSession, user: Any) -> bool:
    """True when ``user`` (None: a caller acting for the owner) owns ``session``."""
    return user is None or user.pk == session.owner_id


def _refresh(session: SparkSession, client: LivyClient, *, owner_acting: bool, send: bool = False,
             read_idle: bool = False, force: bool = False, wait: float = 0.0) -> SparkSession:
    """The one refresh behind the intents above. Livy calls:

    * none when everything is terminal, the session idle with no statement left open (unless
      ``read_idle``), or another request refreshed this session less than
      ``LIVY_REFRESH_MIN_INTERVAL`` seconds ago (unless ``force``);
    * one ``GET /sessions/{id}`` while the session starts (or is busy with nothing of ours
      open, or code is to be sent), which also proves the session is still ours;
    * one ``GET .../statements/{sid}`` per running statement (its ``code`` proves it is
      ours), and a session read only when that answer is an error (Apache Livy's answer for
      a session that ended is 404 or 400) or when the statement finished (the session is
      proved ours before its output is copied). On a backend whose statement answer does not
      tell a dead session (Fabric), the session is read every ``LIVY_SESSION_CHECK_INTERVAL``
      seconds besides.

    ``owner_acting``: the owner (or a caller acting for them) looks; only then are unconfirmed
    sends settled, and with per-user tokens only then may a 404 end the session. ``send``:
    queued statements go out once the session is ready, waiting up to ``wait`` seconds for the
    first of them. A session that died is ended (:mod:`livy.session_end`)."""
    if not (needs_refresh(session) or (read_idle and session.livy_id and not session.is_terminal)):
        return session
    if session.endpoint != current_config().LIVY_BASE_ENDPOINT:
        # Its Livy is no longer the configured one: its ids mean nothing to this server.
        return session
    if not _claim_refresh(session, force=force):
        session.refresh_from_db()
        return session

    reader = _Reader(session, client, may_end=owner_acting or not client.backend.user_tokens)
    running = list(open_statements(session).filter(livy_id__isnull=False))
    queued = open_statements(session).filter(livy_id__isnull=True).exists()
    if session.livy_id and not session.is_terminal:
        if (read_idle or not session.is_ready or not running or (send and queued)
                or _session_check_due(session, client)):
            reader.check()
    elif not session.is_terminal:
        close_if_start_abandoned(session)

    if session.is_terminal:
        # Ended before (by another request), with a statement saved on it meanwhile.
        fail_open_statements(session)
        settle_runs(session)
        return session

    if owner_acting and session.is_ready and reader.proved:
        # Settling unconfirmed sends only reads Livy's list: any owner's refresh may do it.
        _reconcile_submissions(session, client)
    if send and session.is_ready and reader.proved:
        deadline = time.monotonic() + wait
        sent_any = False
        while True:
            before = {stmt.pk for stmt in running}
            count = dispatch_queued(session, client=client)
            sent_any = sent_any or bool(count)
            running = list(open_statements(session).filter(livy_id__isnull=False))
            sent = [stmt for stmt in running if stmt.pk not in before]
            # A run's next cell waits for the one running: waiting for that drives the chain.
            chained = session.statements.filter(state=Statement.QUEUED, run__isnull=False).exists()
            awaited = sent[0] if sent else (running[0] if running and chained else None)
            left = deadline - time.monotonic()
            if left <= 0 or (awaited is None and not count):
                break
            if awaited is not None:
                # Just sent, as a Run would have: wait for the first of them, then read the rest.
                _await_statement(reader, awaited, left)
                running = list(open_statements(session).filter(livy_id__isnull=False))
            if running or not session.statements.filter(state=Statement.QUEUED).exists():
                break
            # What was sent finished within the wait: send the next (a run's next cell) now.
        _keep_alive_quietly(session, client)
        if not running:
            if sent_any:
                _settle_after_statements(reader, [])
            settle_runs(session)
            return session
    if running and session.livy_id:
        for stmt in running:
            if not reader.read_statement(stmt):
                settle_runs(session)
                return session
        _settle_after_statements(reader, running)
        if (send and reader.proved and not session.is_terminal
                and session.statements.filter(state=Statement.QUEUED, run__isnull=False).exists()):
            # A run's cell just finished in this read: its next cell goes now, not a poll later.
            dispatch_queued(session, client=client)
    settle_runs(session)
    return session


def _session_check_due(session: SparkSession, client: LivyClient) -> bool:
    """True when the session must be read beside its running statements: on a backend whose
    statement answer does not tell a session that ended
    (``statement_read_tells_session_end`` false), once it was last read (or written) more than
    ``LIVY_SESSION_CHECK_INTERVAL`` seconds ago, since such a session leaves its statements
    ``running``. Apache Livy answers a statement read of an ended session with 400 ("Session
    isn't active", ``InteractiveSession.getStatement``) or 404 once deleted, so there the
    statement reads alone suffice: one Livy request per poll."""
    if client.backend.statement_read_tells_session_end:
        return False
    interval = current_config().LIVY_SESSION_CHECK_INTERVAL
    return session.updated_at is None or (timezone.now() - session.updated_at).total_seconds() >= interval


def _settle_after_statements(reader: _Reader, finished: list[Statement]) -> None:
    """Once none of the session's statements runs any more, bring the session's state up to
    date with as few Livy calls as possible: a statement that ended ``available`` or
    ``error`` means the REPL finished, so the session is idle again (no call); after a
    cancel, driver-side code may still run (Livy keeps the session ``busy``), so the session
    is read."""
    session = reader.session
    if open_statements(session).filter(livy_id__isnull=False).exists():
        return
    cancelled = any(
        s.state == StatementState.CANCELLED.value for s in Statement.objects.filter(pk__in=[f.pk for f in finished])
    )
    if cancelled:
        reader.check()
        return
    if SparkSession.objects.filter(
        pk=session.pk, name=session.name, active=True, state__in=BUSY_SESSION_VALUES
    ).update(state=SessionState.IDLE.value):
        session.state = SessionState.IDLE.value


class _Reader:
    """One request's reads of one session and its statements. It remembers whether Livy's
    session was proved ours (id and name) in this request, so that is asked once however
    many statements finish; ``may_end``: a dead or replaced session may be ended by these
    reads (see :mod:`livy.session_end`)."""

    def __init__(self, session: SparkSession, client: LivyClient, *, may_end: bool, proved: bool = False):
        self.session = session
        self.client = client
        self.may_end = may_end
        self.proved = proved

    def check(self) -> SessionCheck:
        """Read the session (:func:`livy.session_end.check_session`) and remember the fact."""
        check = check_session(self.session, self.client, may_end=self.may_end)
        self.proved = self.proved or check.ours
        return check

    def _still_ours(self) -> bool:
        """Read the session: True when it is ours and Livy has not ended it."""
        return self.check().ours and not self.session.is_terminal

    def read_statement(self, stmt: Statement) -> bool:
        """Read one running statement into its row; False when the session turned out to be
        gone, ended or someone else's (then nothing of it is copied, and the caller stops).

        Livy's statement under our ids must have our code, else Livy restarted and the session
        under our id is someone else's. An error answer (404, 400, 5xx) is explained by
        reading the session: a session that ended is ended here; a missing statement of a
        live session fails that statement alone. Before an output or a final state is copied,
        the session is proved ours once in the request, since two users may run the same
        code. An answer of the wrong shape fails that statement alone, with the reason. Rows
        are written only while the statement is still open (a Stop meanwhile wins)."""
        session = self.session
        try:
            livy = self.client.get_statement(session.livy_id, stmt.livy_id)
        except LivyNotFound:
            # Either the session is gone (deleted, or Livy restarted) or only the statement.
            if not self._still_ours():
                return False
            _fail(stmt, "Livy no longer knows this statement.")
            _save_statement(stmt, state__in=_open_values())
            return True
        except LivyProtocolError as exc:
            _fail(stmt, f"Livy's answer for this statement could not be read: {exc}")
            _save_statement(stmt, state__in=_open_values())
            return True
        except LivyThrottled:
            raise
        except LivyHTTPError as exc:
            # Apache Livy answers 400 "Session isn't active" for a session that ended, and a
            # 5xx while its driver dies: the session says which.
            if (exc.status == 400 or exc.status >= 500) and not self._still_ours():
                return False
            raise
        if end_if_statement_not_ours(session, stmt, livy, may_end=self.may_end):
            return False
        if (livy.output is not None or _finished(livy, stmt)) and not self.proved:
            if not self.check().ours:
                return False
        before = {name: getattr(stmt, name) for name in _STATEMENT_SYNCED_FIELDS}
        _apply_statement(stmt, livy)
        if any(getattr(stmt, name) != value for name, value in before.items()):
            _save_statement(stmt, state__in=_open_values())
        return True


def _open_values() -> list[str]:
    """Statement row states that are not terminal (a write conditioned on them loses to a
    Stop or a cancel that already closed the row)."""
    return [value for value, _ in Statement.STATE_CHOICES if not statement_is_terminal(value)]


# ------------------------------------------------------------------------------ statements
def submit(user: Any, code: str, *, client: LivyClient, kind: str = "pyspark", wait: float = 0.0,
           cell: Any = None, run: NotebookRun | None = None) -> Statement:
    """Run ``code`` as a statement of ``kind`` (``pyspark``, ``sql`` or ``spark``: Livy 0.5+
    runs any kind in any session) in the user's session, starting one if needed.

    The statement is saved ``queued`` and sent at once when the session is ready, otherwise
    by a later :func:`dispatch` once it is; if Livy is unreachable or throttling at that
    moment it stays queued and the next dispatch sends it.

    ``wait`` (seconds) holds the answer until the statement finishes, reading it from Livy
    every 10 ms at first and backing off to 100 ms: a quick statement comes back finished,
    so the page needs no poll at all (``LIVY_RUN_WAIT``).

    Raises :class:`LivyError` when no session could be had: the code is then kept as a
    ``failed`` statement with the reason, on the session row whose start failed, so it
    shows in the history with a Re-run. Raises :class:`LivySignInRequired` when the user's
    token has run out (the statement is kept queued on their live session, if they have one).

    ``cell``: the notebook :class:`~livy.models.Cell` the code comes from, saved as the
    statement's ``cell`` (also on a kept failed or queued statement). ``run``: the
    :class:`~livy.models.NotebookRun` it belongs to (sent only after the run's earlier
    statements ended OK: :func:`dispatch_queued`). With Fabric's
    ``FABRIC_SESSION_MODE=high_concurrency`` a cell's code runs in its notebook's own REPL
    (:func:`session_scope_of`), so variables never pass between notebooks.
    """
    repl_scope = session_scope_of(cell)
    try:
        session, proved = _ensure_session(user, client, repl_scope)
    except LivySignInRequired:
        # Keep the code queued on the live session; it is sent once the user is back.
        row = active_session(user, repl_scope)
        if row is not None and not row.is_terminal:
            Statement.objects.create(session=row, author=user, code=code, kind=kind, cell=cell, run=run)
        raise
    except LivyError as exc:
        _keep_failed_run(user, code, kind, exc, cell, run, repl_scope)
        raise
    stmt = Statement.objects.create(session=session, author=user, code=code, kind=kind, cell=cell, run=run)
    if session.session_state.is_ready:
        try:
            dispatch_queued(session, client=client)
        except (LivyUnavailable, LivyThrottled) as exc:
            log.info("statement %s stays queued: %s", stmt.pk, exc)
        stmt.refresh_from_db()
        _keep_alive_quietly(session, client)
        if wait > 0 and stmt.livy_id is not None and not stmt.is_terminal:
            _await_statement(_Reader(session, client, may_end=True, proved=proved), stmt, wait)
    return stmt


def session_scope_of(cell: Any) -> str:
    """The ``repl_scope`` code of ``cell`` runs in: its notebook's own REPL when the backend is
    Fabric in ``high_concurrency`` mode (a REPL per notebook, Fabric packing them into shared
    Livy sessions), else "" (the user's one session, shared by the console and notebooks)."""
    return notebook_scope(cell.notebook_id) if cell is not None else ""


def notebook_scope(notebook_pk: int | None) -> str:
    """The ``repl_scope`` notebook ``notebook_pk`` runs in (None: the console): its own REPL
    (``notebook:<pk>``) with Fabric in ``high_concurrency`` mode, else "" (the user's one
    session)."""
    cfg = current_config()
    if notebook_pk is None or cfg.LIVY_BACKEND != "fabric" or cfg.FABRIC_SESSION_MODE != "high_concurrency":
        return ""
    return repl_scope_for(notebook_pk)


def submit_run(user: Any, items: list[tuple[str, str, Any]], *, client: LivyClient,
               run: NotebookRun, injected_at: int | None = None) -> list[Statement]:
    """Queue the statements of a notebook ``run`` as :func:`submit` does, but all at once:
    ``items`` are ``(code, kind, cell)`` in run order. The user's session is had once (started
    if needed), the statements are saved ``queued`` together, and the first is sent at once
    when the session is ready (the rest follow one at a time: :func:`dispatch_queued`).
    The cells are of one notebook, so they share one REPL scope (:func:`session_scope_of`).
    Returns the statements in order. Raises as :func:`submit` does; then every item is kept
    (``failed`` with the reason, or ``queued`` on the live session when the user must sign
    in again), so nothing typed is lost. When none could be kept (no session row to keep
    them on: the user must sign in before any session exists) the run is ``failed`` with its
    ``stop_reason`` (the cells' code is still in the notebook).

    ``injected_at``: the index in ``items`` of the injected parameters statement, saved as
    the run's ``injected_statement`` with the statements (also when they are kept failed).

    The run is marked ``queued`` in the transaction that saves its statements: until then
    (while Livy starts the session) :func:`settle_run` concludes nothing, since a run with no
    statements yet is not a run whose statements all ended. A run cancelled meanwhile has
    its statements cancelled as they are saved (:func:`settle_run`), none is sent."""
    repl_scope = session_scope_of(items[0][2]) if items else ""
    try:
        session, _ = _ensure_session(user, client, repl_scope)
    except LivySignInRequired:
        row = active_session(user, repl_scope)
        live = row is not None and not row.is_terminal
        with transaction.atomic():
            kept = [Statement.objects.create(session=row, author=user, code=code, kind=kind, cell=cell, run=run)
                    for code, kind, cell in items] if live else []
            _mark_queued(run, kept, injected_at)
        if not live:
            stop_run(run, "sign in again, then run it again (no cell was run)")
        settle_run(run)
        raise
    except LivyError as exc:
        with transaction.atomic():
            failed = [_keep_failed_run(user, code, kind, exc, cell, run, repl_scope) for code, kind, cell in items]
            _mark_queued(run, failed, injected_at)
        if items and not any(failed):
            stop_run(run, f"no session could be started ({str(exc).rstrip('.')}); no cell was run")
        settle_run(run)
        raise
    with transaction.atomic():
        statements = [Statement.objects.create(session=session, author=user, code=code, kind=kind, cell=cell, run=run)
                      for code, kind, cell in items]
        _mark_queued(run, statements, injected_at)
    settle_run(run)  # cancelled while the session started: its statements are cancelled, none sent
    if statements and session.session_state.is_ready:
        try:
            dispatch_queued(session, client=client)
        except (LivyUnavailable, LivyThrottled) as exc:
            log.info("run %s stays queued: %s", run.pk, exc)
        _keep_alive_quietly(session, client)
        for stmt in statements[:1]:
            stmt.refresh_from_db()
    return statements


def _mark_queued(run: NotebookRun, statements: list[Statement | None], injected_at: int | None) -> None:
    """Record that ``run``'s ``statements`` are saved, and which is the injected one
    (``statements[injected_at]``); call in the transaction that saves them."""
    injected = statements[injected_at] if injected_at is not None and injected_at < len(statements) else None
    NotebookRun.objects.filter(pk=run.pk).update(queued=True, injected_statement=injected)
    run.queued, run.injected_statement = True, injected


def _keep_failed_run(user: Any, code: str, kind: str, exc: LivyError, cell: Any = None,
                     run: NotebookRun | None = None, repl_scope: str = "") -> Statement | None:
    """Save the code of a Run whose session could not be started as a ``failed`` statement
    on the user's latest session row (the one whose start failed), so it is not lost; returns
    it (None when the user has no session row)."""
    cfg = current_config()
    row = (
        SparkSession.objects.filter(owner=user, backend=cfg.LIVY_BACKEND, endpoint=cfg.LIVY_BASE_ENDPOINT,
                                    repl_scope=repl_scope)
        .order_by("-created_at", "-pk")
        .first()
    )
    if row is None:
        return None
    return Statement.objects.create(
        session=row, author=user, code=code, kind=kind, state=Statement.FAILED, cell=cell, run=run,
        error_name="SessionNotStarted", error_value=f"Your code was not run: {exc}", completed_at=timezone.now(),
    )


#: First pause (seconds) before reading a statement the Run answer waits for; each next pause
#: is :data:`WAIT_BACKOFF` times longer (10, 30, 90, 270, 810 ms: five reads in two seconds),
#: so a quick statement is seen within milliseconds and a long one costs a few reads.
WAIT_FIRST_INTERVAL = 0.01
WAIT_BACKOFF = 3.0


#: The pauses while a notebook run's statement is awaited with its next cell queued: first
#: :data:`CHAIN_FIRST_INTERVAL`, each next :data:`CHAIN_BACKOFF` times longer up to
#: :data:`CHAIN_MAX_INTERVAL` (5, 6, 8, 10, ... 50 ms), so a chain of quick cells loses little
#: time between one cell's end and the next one's send (``make bench-livy``: Run all of 20
#: trivial cells vs 20 direct REST statements).
CHAIN_FIRST_INTERVAL = 0.005
CHAIN_BACKOFF = 1.25
CHAIN_MAX_INTERVAL = 0.05


def _await_statement(reader: _Reader, stmt: Statement, wait: float) -> None:
    """Read ``stmt`` from Livy until it is terminal or ``wait`` seconds have passed. A Livy
    error ends the wait quietly: the page's polls take over. A statement of a notebook run is
    read more often (:data:`CHAIN_FIRST_INTERVAL`): the run's next cell waits for it."""
    session = reader.session
    deadline = time.monotonic() + wait
    chained = stmt.run_id is not None
    pause = CHAIN_FIRST_INTERVAL if chained else WAIT_FIRST_INTERVAL
    try:
        while not stmt.is_terminal and time.monotonic() + pause < deadline:
            time.sleep(pause)
            pause = min(pause * CHAIN_BACKOFF, CHAIN_MAX_INTERVAL) if chained else pause * WAIT_BACKOFF
            if not reader.read_statement(stmt):
                break
            if not chained:
                # A read just made: the page's next poll need not read Livy again at once.
                SparkSession.objects.filter(pk=session.pk).update(refreshed_at=timezone.now())
        if chained:
            SparkSession.objects.filter(pk=session.pk).update(refreshed_at=timezone.now())
        stmt.refresh_from_db()
        if stmt.is_terminal and not chained:
            # (A chain's caller settles the session once the chain stops: one write, not one per cell.)
            _settle_after_statements(reader, [stmt])
    except LivyError as exc:
        log.info("waiting for statement %s stopped: %s", stmt.pk, exc)


def keep_alive(session: SparkSession, *, client: LivyClient) -> bool:
    """Restart the server's idle timer of a ready session (``POST /sessions/{id}/reset-timeout``)
    if the backend has one (Fabric ends sessions idle for 20 minutes) and the last reset is
    older than ``LIVY_KEEPALIVE_INTERVAL`` seconds. Returns True when a reset was sent.

    Called when the user runs code, while the page polls, and by the open page's heartbeat,
    so a session lives as long as its user is active. Errors other than the session being
    gone are left to the caller.
    """
    if not (client.backend.supports_reset_timeout and session.livy_id and session.session_state.is_ready):
        return False
    threshold = timezone.now() - timedelta(seconds=current_config().LIVY_KEEPALIVE_INTERVAL)
    claimed = SparkSession.objects.filter(pk=session.pk).filter(
        Q(kept_alive_at__isnull=True) | Q(kept_alive_at__lte=threshold)
    ).update(kept_alive_at=timezone.now())
    if not claimed:
        return False
    try:
        client.reset_session_timeout(session.livy_id)
    except LivyNotFound:
        return False
    return True


def dispatch_queued(session: SparkSession, *, client: LivyClient) -> int:
    """Send the session's queued statements to Livy, oldest first; returns how many were sent
    (the send step of :func:`submit` and :func:`dispatch`).

    Each statement is claimed (``queued`` → ``sending``) by a conditional UPDATE before it
    is sent, so concurrent callers never send it twice. On a transient error (Livy
    unreachable, throttled) the statement goes back to ``queued`` and sending stops until the
    next dispatch; when Livy may have received it without answering, it stays ``sending``
    and a later refresh reconciles it with Livy's list; on any other refusal it becomes
    ``failed`` with Livy's message.
    """
    sent = 0
    sent_runs: set[int] = set()  # runs whose statement was just sent: their next one waits for it
    for stmt in session.statements.filter(state=Statement.QUEUED).order_by("pk"):
        if stmt.run_id in sent_runs:
            break
        # Claimed only while no earlier statement of the session waits or is being sent without
        # an answer yet: two dispatchers never send a later statement before an earlier one.
        earlier = Statement.objects.filter(session=session, pk__lt=OuterRef("pk")).filter(
            Q(state=Statement.QUEUED) | Q(state=Statement.SENDING, livy_id__isnull=True)
        )
        claim = Statement.objects.filter(pk=stmt.pk, state=Statement.QUEUED).filter(~Exists(earlier))
        if stmt.run_id is not None:
            # A run's statement goes only once every earlier one of the run ended OK: Livy runs
            # a session's statements FIFO and would run cell n+1 after cell n failed. And only
            # while its run is running: a cancelled or failed run sends nothing more.
            claim = claim.filter(~Exists(_run_blockers(stmt.run_id)),
                                 Exists(NotebookRun.objects.filter(pk=stmt.run_id, state=NotebookRun.RUNNING)))
        claimed = claim.update(state=Statement.SENDING, submitted_at=timezone.now())
        if not claimed and stmt.run_id is not None and stmt.run_id not in sent_runs:
            # Held back by its run: an earlier statement that failed cancels it (and the rest
            # of the run), and the next queued statement (of another run) may go.
            settle_run(stmt.run_id)
            if not Statement.objects.filter(pk=stmt.pk, state=Statement.QUEUED).exists():
                continue
        if not claimed:
            break
        try:
            livy = client.submit_statement(session.livy_id, stmt.code, stmt.kind)
        except LivyOutcomeUnknown:
            # Livy may have it: it stays 'sending' until a refresh looks (never resent blindly).
            raise
        except (LivyUnavailable, LivyThrottled, LivySignInRequired):
            Statement.objects.filter(pk=stmt.pk).update(state=Statement.QUEUED, submitted_at=None)
            raise
        except LivyHTTPError as exc:
            stmt.refresh_from_db()
            _fail(stmt, f"Livy refused the statement: {exc}")
            _save_statement(stmt, livy_id__isnull=True)
            continue
        except LivyProtocolError as exc:
            stmt.refresh_from_db()
            _fail(stmt, f"Livy took the statement but its answer could not be read ({exc}); it may have run.")
            _save_statement(stmt, livy_id__isnull=True)
            continue
        _apply_statement(stmt, livy)
        # Livy's answer is the truth, unless a reconciliation already tied the row to a statement.
        _save_statement(stmt, livy_id__isnull=True)
        sent += 1
        if stmt.run_id is not None and not _ended_ok(stmt):
            sent_runs.add(stmt.run_id)
    return sent


# ------------------------------------------------------------------------------ notebook runs
def _run_blockers(run_id: int) -> Any:
    """Statements of run ``run_id`` that keep its later statements from being sent: those
    not (yet) ended OK (``available`` without an error), earlier than the outer one."""
    return Statement.objects.filter(run_id=run_id, pk__lt=OuterRef("pk")).exclude(
        state=StatementState.AVAILABLE.value, error_name=""
    )


def _ended_ok(stmt: Statement) -> bool:
    return stmt.state == StatementState.AVAILABLE.value and not stmt.error_name


def settle_run(given: NotebookRun | int) -> NotebookRun:
    """Bring a running :class:`~livy.models.NotebookRun` up to date from its statements (no
    Livy call): when one ended not OK (an error output, ``failed``, ``cancelled``), its queued
    rest become ``cancelled`` with "Not run: cell N failed" and the run ``failed`` with
    ``failed_cell``; when all ended OK, ``succeeded``. When its session ended (the statement
    ``failed`` with ``SessionEnded``, :func:`livy.session_end.fail_open_statements`) the run
    is ``failed`` with ``stop_reason`` "the session ended during cell N" (or "before cell N
    ran" when that statement was never sent) and the statements never sent are "Not run". A run whose statements
    are not saved yet (``queued`` false: its session is starting) is left running. A finished
    run is returned as it is, except that statements of it still ``queued`` (saved after a
    Cancel all, while its session started) are cancelled: they never go to Livy and never
    hold up the session's later statements. Writes are conditional UPDATEs (safe in
    concurrent requests). ``given``: the run or its pk; an instance is read again first and
    returned updated."""
    if isinstance(given, NotebookRun):
        run = given
        run.refresh_from_db()
    else:
        run = NotebookRun.objects.get(pk=given)
    if run.state != NotebookRun.RUNNING:
        _cancel_unsent(run)
        return run
    if not run.queued:
        return run
    statements = list(run.statements.select_related("cell").order_by("pk"))
    bad = next((s for s in statements if s.is_terminal and not _ended_ok(s)), None)
    now = timezone.now()
    if bad is not None:
        number = bad.cell.position + 1 if bad.cell is not None else None
        what = f"cell {number}" if number is not None else "an earlier cell"
        reason = ""
        rest = run.statements.filter(state=Statement.QUEUED)
        if bad.error_name == SESSION_ENDED:
            # The session died (livy.session_end failed every open statement): not a failed cell.
            # Its statements never sent are "Not run", as after a failed cell.
            unsent = bad.livy_id is None and bad.submitted_at is None
            reason = f"the session ended before {what} ran" if unsent else f"the session ended during {what}"
            never_sent = Q(state=Statement.FAILED, error_name=SESSION_ENDED, livy_id__isnull=True,
                           submitted_at__isnull=True)
            rest = run.statements.filter(Q(state=Statement.QUEUED) | never_sent).filter(
                pk__gte=bad.pk if unsent else bad.pk + 1)
        rest.update(
            state=StatementState.CANCELLED.value, error_name="NotRun",
            error_value=f"Not run: {reason or what + ' failed'}.", completed_at=now,
        )
        if NotebookRun.objects.filter(pk=run.pk, state=NotebookRun.RUNNING).update(
                state=NotebookRun.FAILED, failed_cell=bad.cell, stop_reason=reason, finished_at=now):
            log.info("notebook run %s failed at statement %s", run.pk, bad.pk)
    elif all(s.is_terminal for s in statements):
        NotebookRun.objects.filter(pk=run.pk, state=NotebookRun.RUNNING).update(
            state=NotebookRun.SUCCEEDED, finished_at=now)
    run.refresh_from_db()
    return run


def _cancel_unsent(run: NotebookRun) -> None:
    """Cancel the statements still ``queued`` of the finished ``run`` ("Not run: ...")."""
    left = run.statements.filter(state=Statement.QUEUED)
    if not left.exists():
        return
    if run.state == NotebookRun.CANCELLED:
        why = "the run was cancelled"
    elif run.failed_cell is not None:
        why = f"cell {run.failed_cell.position + 1} failed"
    else:
        why = run.stop_reason or "the run had ended"
    left.update(state=StatementState.CANCELLED.value, error_name="NotRun", error_value=f"Not run: {why}.",
                completed_at=timezone.now())


def stop_run(run: NotebookRun, reason: str) -> NotebookRun:
    """End a running ``run`` as ``failed`` without a failed cell, saying why (``reason``, its
    ``stop_reason``: "sign in again, ..."); its queued statements are cancelled ("Not run:
    <reason>."). A finished run is left as it is (conditional UPDATE)."""
    NotebookRun.objects.filter(pk=run.pk, state=NotebookRun.RUNNING).update(
        state=NotebookRun.FAILED, stop_reason=reason[:300], finished_at=timezone.now())
    run.refresh_from_db()
    _cancel_unsent(run)
    return run


def settle_runs(session: SparkSession) -> None:
    """:func:`settle_run` for every running run with a statement on ``session``."""
    for run_id in (NotebookRun.objects.filter(state=NotebookRun.RUNNING, statements__session=session)
                   .values_list("pk", flat=True).distinct()):
        settle_run(run_id)


def cancel_run(run: NotebookRun, *, client: LivyClient, actor: Any = None) -> NotebookRun:
    """Cancel a run: it becomes ``cancelled``, its queued statements ``cancelled`` ("Not
    run: the run was cancelled") and its running ones are cancelled on Livy (:func:`cancel`).
    A finished run is left as it is. Raises :class:`LivyError` if Livy cannot be reached for
    a running statement (the queued ones are cancelled already)."""
    return cancel_runs([run], client=client, actor=actor)[0]


def cancel_runs(runs: list[NotebookRun], *, client: LivyClient, actor: Any = None) -> list[NotebookRun]:
    """:func:`cancel_run` for several runs (Cancel all on a notebook page): every running run
    is marked ``cancelled`` and its queued statements cancelled first, so none of them can be
    sent while Livy is asked to cancel the running ones; then the statements of every
    ``cancelled`` run in ``runs`` still open on Livy are cancelled there (so a Cancel all
    again, after Livy could not be reached, asks Livy again). Raises the first
    :class:`LivyError` met once every such statement was tried."""
    now = timezone.now()
    for run in runs:
        if NotebookRun.objects.filter(pk=run.pk, state=NotebookRun.RUNNING).update(
                state=NotebookRun.CANCELLED, finished_at=now):
            run.statements.filter(state=Statement.QUEUED).update(
                state=StatementState.CANCELLED.value, error_name="NotRun",
                error_value="Not run: the run was cancelled.", completed_at=now,
            )
    first_error: LivyError | None = None
    for run in runs:
        run.refresh_from_db()
        if run.state != NotebookRun.CANCELLED:
            continue  # finished before: left as it is
        for stmt in run.statements.filter(state__in=_open_values()):
            try:
                cancel(stmt, client=client, actor=actor)
            except LivyError as exc:
                first_error = first_error or exc
    if first_error is not None:
        raise first_error
    return runs


def cancel(stmt: Statement, *, client: LivyClient, actor: Any = None) -> Statement:
    """Cancel a statement. A queued one is cancelled here; a running one is asked to cancel on
    Livy and moves to ``cancelling`` until a refresh reads ``cancelled``. ``actor``: the user
    asking (None: the owner; see :func:`poll` for what an administrator's request may end).
    Raises :class:`LivyError` if Livy cannot be reached."""
    if stmt.state == Statement.QUEUED:
        done = Statement.objects.filter(pk=stmt.pk, state=Statement.QUEUED).update(
            state=StatementState.CANCELLED.value, completed_at=timezone.now()
        )
        stmt.refresh_from_db()
        if done:
            return stmt
    if stmt.is_terminal or stmt.livy_id is None:
        return stmt
    session = stmt.session
    reader = _Reader(session, client, may_end=_is_owner(session, actor) or not client.backend.user_tokens)
    if not reader.check().ours or session.is_terminal:
        stmt.refresh_from_db()
        return stmt
    if not reader.read_statement(stmt) or stmt.is_terminal:
        # Finished meanwhile, or Livy's statement under our ids is not ours: nothing to cancel.
        stmt.refresh_from_db()
        return stmt
    try:
        client.cancel_statement(session.livy_id, stmt.livy_id)
    except LivyNotFound:
        _fail(stmt, "Livy no longer knows this statement.")
        stmt.save()
        return stmt
    stmt.state = StatementState.CANCELLING.value
    stmt.save(update_fields=["state"])
    return stmt


# --------------------------------------------------------------------------------- helpers
def _claim_refresh(session: SparkSession, *, force: bool = False) -> bool:
    """Take the right to refresh ``session`` now (a conditional UPDATE on ``refreshed_at``;
    ``force``: whatever the last refresh)."""
    now = timezone.now()
    rows = SparkSession.objects.filter(pk=session.pk)
    if not force:
        threshold = now - timedelta(seconds=current_config().LIVY_REFRESH_MIN_INTERVAL)
        rows = rows.filter(Q(refreshed_at__isnull=True) | Q(refreshed_at__lte=threshold))
    claimed = rows.update(refreshed_at=now)
    if claimed:
        session.refreshed_at = now
    return bool(claimed) or force


def _keep_alive_quietly(session: SparkSession, client: LivyClient) -> None:
    """:func:`keep_alive`, whose failure is logged, never shown: the user's action succeeded."""
    try:
        keep_alive(session, client=client)
    except LivySignInRequired:
        raise
    except LivyError as exc:
        log.info("keep-alive of session %s failed: %s", session.pk, exc)


#: Pages of 100 read when looking a session up by name (Apache lists oldest first).
NAME_LOOKUP_PAGES = 20


def _find_session_by_name(client: LivyClient, name: str) -> LivySession | None:
    """The session called ``name`` (names are unique per start), reading up to
    :data:`NAME_LOOKUP_PAGES` pages of ``GET /sessions``; None if absent or unreadable."""
    try:
        for page in range(NAME_LOOKUP_PAGES):
            sessions = client.list_sessions(page * 100, 100)
            found = next((s for s in sessions if s.name == name), None)
            if found is not None or len(sessions) < 100:
                return found
    except LivyError:
        return None
    return None


#: Seconds after Livy's ``completed`` stamp (or, when Livy sends none, after the row was first
#: seen ``available`` without output) during which such a statement is still taken as running
#: (see :func:`_output_pending`).
OUTPUT_LAG_SECONDS = 10.0


def _output_pending(livy: LivyStatement, now: datetime | None = None, seen_at: datetime | None = None) -> bool:
    """True when Livy says ``available`` but the output is not there yet. Livy's REPL sets a
    statement's output before its state, yet the copy it sends to the server is serialised
    field by field in name order (Kryo: ``completed``, ..., ``output``, ..., ``state``), so a
    read during the switch can carry ``available`` with ``output`` null and ``completed`` 0
    (seen on a real Livy 0.9: ``%table`` shown finished and empty for good). Such a statement
    is read again; one still without output ``OUTPUT_LAG_SECONDS`` after its ``completed``
    stamp is finished with no output (a server that answers so for good). Fabric's
    ``StatementResponse`` has no ``completed`` at all: there the clock is ours, ``seen_at``
    (when the row was first seen so; None: not yet, so still pending)."""
    if livy.state != StatementState.AVAILABLE or livy.output is not None:
        return False
    since = livy.completed or seen_at
    if since is None:
        return True
    return ((now or timezone.now()) - since).total_seconds() < OUTPUT_LAG_SECONDS


def _finished(livy: LivyStatement, stmt: Statement | None = None) -> bool:
    """True when Livy's statement is terminal with everything it will carry (its output);
    ``stmt``: its row, whose ``available_seen_at`` is the clock when Livy sends no stamp."""
    return livy.state.is_terminal and not _output_pending(livy, seen_at=stmt.available_seen_at if stmt else None)


def _apply_statement(stmt: Statement, livy: LivyStatement) -> None:
    """Copy Livy's statement into ``stmt`` in memory; one whose output is still on its way
    (:func:`_output_pending`) stays ``running``, so the next read fills it in. The first
    such read without Livy's ``completed`` stamp (Fabric) sets ``available_seen_at``."""
    stmt.livy_id = livy.id
    if livy.state == StatementState.AVAILABLE and livy.output is None and livy.completed is None:
        stmt.available_seen_at = stmt.available_seen_at or timezone.now()
    pending = _output_pending(livy, seen_at=stmt.available_seen_at)
    stmt.state = (StatementState.RUNNING if pending else livy.state).value[:32]
    stmt.progress = livy.progress
    if livy.started:
        stmt.started_at = livy.started
    if livy.output is not None:
        stmt.output = livy.output.as_json()
        if livy.output.status == "error":
            stmt.error_name = (livy.output.ename or "Error")[:300]
            stmt.error_value = livy.output.evalue or ""
            stmt.traceback = "".join(
                line if line.endswith("\n") else line + "\n" for line in livy.output.traceback
            )
            if livy.state == StatementState.AVAILABLE:
                # Livy reports a failed statement as available with an error output.
                stmt.state = StatementState.ERROR.value
    if livy.state.is_terminal and not pending:
        stmt.progress = 1.0 if livy.state == StatementState.AVAILABLE else stmt.progress
        stmt.completed_at = livy.completed or stmt.completed_at or timezone.now()


def _fail(stmt: Statement, reason: str) -> None:
    stmt.state = Statement.FAILED
    stmt.error_name = stmt.error_name or "LivyError"
    stmt.error_value = stmt.error_value or reason
    stmt.completed_at = stmt.completed_at or timezone.now()


def _reconcile_submissions(session: SparkSession, client: LivyClient) -> None:
    """Settle statements left ``sending`` longer than any send can take (no answer came,
    or the process died mid-send). Livy's list decides: the newest Livy statement with the
    same code that no row claims, and that is newer than the statements sent before this one,
    is adopted; when there is none the statement becomes ``failed`` with a message saying it
    may not have run. Nothing is ever sent again automatically: Livy may register a
    statement late, and running a user's code twice is worse than asking them to rerun it."""
    limit = timezone.now() - timedelta(seconds=longest_send_seconds())
    stale = list(session.statements.filter(state=Statement.SENDING, submitted_at__lt=limit).order_by("pk"))
    if not stale:
        return
    rows = list(session.statements.exclude(livy_id=None).values_list("pk", "livy_id"))
    claimed = {livy_id for _, livy_id in rows}
    unclaimed = [s for s in client.list_statements(session.livy_id) if s.id not in claimed]
    for stmt in stale:
        floor = max((livy_id for pk, livy_id in rows if pk < stmt.pk), default=-1)
        match = next((s for s in unclaimed if s.code == stmt.code and s.id > floor), None)
        if match is None:
            Statement.objects.filter(pk=stmt.pk, state=Statement.SENDING, livy_id=None).update(
                state=Statement.FAILED,
                error_name="SubmissionUnconfirmed",
                error_value="Livy did not confirm this statement and does not list it: it may not have run. "
                "Run it again if you need its result.",
                completed_at=timezone.now(),
            )
            continue
        unclaimed.remove(match)
        _apply_statement(stmt, match)
        _save_statement(stmt, state=Statement.SENDING, livy_id__isnull=True)


#: Fields a Livy read updates on a statement row.
_STATEMENT_SYNCED_FIELDS = ("livy_id", "state", "progress", "output", "error_name", "error_value", "traceback",
                            "started_at", "completed_at", "available_seen_at")


def _save_statement(stmt: Statement, **conditions: Any) -> bool:
    """Write the Livy-derived fields of ``stmt`` if the row still meets ``conditions``."""
    values = {name: getattr(stmt, name) for name in _STATEMENT_SYNCED_FIELDS}
    return bool(Statement.objects.filter(pk=stmt.pk, **conditions).update(**values))


def complete(session: SparkSession, code: str, kind: str, cursor: int, *, client: LivyClient) -> list[str]:
    """Completions Spark's REPL offers for the word before ``cursor`` (a character offset into
    ``code``), from ``POST /sessions/{id}/completion``. Empty when the backend has no such
    endpoint (Fabric) or the session is not idle (a busy REPL would answer only after the
    running code). Raises :class:`LivyError` when Livy cannot be used. Writes only what
    reading the session shows (it may have ended)."""
    if not (client.backend.supports_completion and session.livy_id and session.session_state is SessionState.IDLE):
        return []
    if not check_session(session, client, may_end=False).ours:
        return []
    return client.complete(session.livy_id, code, kind, cursor)


def session_log_tail(session: SparkSession, lines: int, *, client: LivyClient) -> list[str]:
    """The last ``lines`` lines of the session's Livy log (``GET /sessions/{id}/log``).

    Raises :class:`LivyNotFound` once Livy has forgotten the session, and other
    :class:`LivyError`\\ s when it cannot be reached. Returns [] without any Livy call on a
    backend without that operation (``supports_log`` false: Fabric's swagger has none; the
    page then says where the log is, see :func:`session_log_elsewhere`).
    """
    if not client.backend.supports_log:
        return []
    if not check_session(session, client, may_end=False).ours:
        raise LivyNotFound("Livy no longer has this session, so its log is gone.", status=404)
    total = client.get_session_log(session.livy_id, 0, 0).total
    return client.get_session_log(session.livy_id, max(0, total - lines), lines).lines


def session_log_elsewhere(session: SparkSession) -> str:
    """Where the log of ``session`` is when its backend has no log operation (Fabric: its
    Livy swagger has no ``GET /sessions/{id}/log``; the Livy and driver logs are in the
    Fabric portal's Monitoring hub, per "Apache Spark application detail monitoring",
    learn.microsoft.com/fabric/data-engineering/spark-detail-monitoring). Empty when the
    backend has one. The text names the Livy id and Spark application id to search for."""
    backend = BACKEND_CLASSES.get(session.backend)
    if backend is None or backend.supports_log:
        return ""
    repl = session.repl
    if repl is not None:
        ids = f"shared Livy session {repl.session_id}, REPL {repl.repl_id}"
    else:
        ids = f"Livy id {session.livy_id}" if session.livy_id else "its name"
    if session.app_id:
        ids += f", Spark application {session.app_id}"
    return (
        "Fabric's Livy API has no session log, so none is shown here. The Livy and driver logs are in the "
        f"Fabric portal: Monitor (Monitoring hub) → this session ({session.name}; {ids}) → Logs."
    )
