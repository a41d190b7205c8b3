"""The session and statement lifecycle: the only module that changes session and statement
rows. Views call these functions; these call the Livy client they are given.

Rules:

* A row is written before the Livy call it stands for, and updated from Livy's answer.
* A user has at most one *active* session per backend (a partial unique constraint); their
  notebook reuses it while Livy says it is alive, and a new one is started when it is gone.
* A statement submitted while its session is still starting is ``queued`` and sent when the
  session becomes ready, in submission order. Claims on rows are conditional ``UPDATE``\\ s, so
  several processes or tabs never send the same statement twice.
* Refreshing from Livy happens only while something is not terminal, and at most once per
  ``LIVY_REFRESH_MIN_INTERVAL`` seconds per session however many tabs poll.

Errors: functions raise :class:`livy.remote.errors.LivyError` subclasses when Livy cannot be used;
views turn them into messages. Nothing the user typed is lost: a statement that could not
be sent stays ``queued`` (transient errors) or becomes ``failed`` with the reason.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from livy.clients import current_config
from livy.models import SparkSession, Statement
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
from livy.states import BUSY_SESSION_VALUES, statement_is_terminal
from myapp.config import AppConfig

log = logging.getLogger(__name__)

#: Seconds on top of the request timeouts below before a send with no answer is settled.
SUBMIT_GRACE_SECONDS = 30
#: A send may take this many request timeouts in the worst case (connect and read are timed
#: separately, a token fetch comes first, a 401 retries once): only after that is a
#: ``sending`` statement (or a start without a Livy id) looked at again.
RECONCILE_AFTER_TIMEOUTS = 4
#: Shown when Livy answers 404 for a session we still had as alive.
SESSION_GONE = (
    "Livy no longer knows this session (it was stopped, timed out, or Livy restarted): its variables are gone. "
    "Run your code again to start a new session."
)
#: Start of the reason of a session row whose create call Livy refused or never got.
START_FAILED = "Livy could not start the session: "
#: Shown when Livy's session under our id is not ours (Livy restarted and reused the id).
SESSION_REPLACED = (
    "Livy no longer has this session: the session now under its id belongs to someone else "
    "(Livy restarted and numbers sessions from 0 again). Its variables are gone; run your code again "
    "to start a new session."
)


def session_spec(cfg: AppConfig | None = None) -> SessionSpec:
    """The spec of a new session: ``LIVY_SESSION_NAME_PREFIX`` + a UTC timestamp down to the
    microsecond, kind ``pyspark``, ``conf`` from ``LIVY_SPARK_CONF``, ``pyFiles`` from
    ``LIVY_SPARK_DEPENDENCIES``."""
    cfg = cfg or current_config()
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
    return SessionSpec(
        name=f"{cfg.LIVY_SESSION_NAME_PREFIX}{stamp}",
        kind="pyspark",
        conf=dict(cfg.LIVY_SPARK_CONF),
        py_files=list(cfg.LIVY_SPARK_DEPENDENCIES),
    )


# -------------------------------------------------------------------------------- sessions
def _retire_elsewhere(user: Any, cfg: AppConfig) -> None:
    """Close the user's sessions left active on another endpoint of this backend (the
    configuration changed since they started), so a new one may become active."""
    for row in SparkSession.objects.filter(owner=user, backend=cfg.LIVY_BACKEND, active=True).exclude(
        endpoint=cfg.LIVY_BASE_ENDPOINT
    ):
        _retire(row, "The Livy endpoint changed since this session started.", state=SessionState.DEAD)
        _fail_open_statements(row)


def ensure_session(user: Any, *, client: LivyClient, cfg: AppConfig | None = None) -> SparkSession:
    """The user's live session, started now if there is none (or the last one ended).

    A reused session is checked on Livy first (one GET); one Livy has forgotten is closed and
    replaced. The row is created first; if another request created one at the same moment,
    that one is returned. The Livy create call returns at once with the session ``starting``.
    Raises :class:`LivyError` if Livy refuses or cannot be reached (the row then records
    the error and is no longer active).
    """
    cfg = cfg or current_config()
    _retire_elsewhere(user, cfg)
    row = active_session(user, cfg=cfg)
    if row is not None and not row.is_terminal:
        if row.livy_id:
            # Health check: Livy may have ended the session (timeout, restart) since last seen,
            # or given its id to someone else's session after a restart.
            _verified(row, client)
        else:
            _close_if_start_abandoned(row)
        if row.is_terminal:
            _fail_open_statements(row)
    if row is not None and not row.is_terminal:
        return row
    if row is not None:
        _retire(row)

    spec = session_spec(cfg)
    try:
        with transaction.atomic():
            row = _reopen_failed_start(user, spec, cfg) or SparkSession.objects.create(
                owner=user,
                backend=cfg.LIVY_BACKEND,
                endpoint=cfg.LIVY_BASE_ENDPOINT,
                name=spec.name,
                kind=spec.kind,
                state=SessionState.NOT_STARTED.value,
                active=True,
            )
    except IntegrityError:
        # Another request of this user won the race: use its session.
        winner = active_session(user, cfg=cfg)
        if winner is None:  # pragma: no cover - retired between the two statements
            raise
        return winner

    try:
        livy = client.create_session(spec)
    except LivyOutcomeUnknown as exc:
        found = _find_session_by_name(client, spec.name)
        if found is None:
            _retire(row, f"{START_FAILED}{exc}", state=SessionState.ERROR)
            raise
        livy = found
    except LivyError as exc:
        _retire(row, f"{START_FAILED}{exc}", state=SessionState.ERROR)
        _fail_open_statements(row)
        raise
    _apply_session(row, livy)
    if not _save_if_active(row):
        # Stopped while Livy was starting it: do not leave a Spark session nobody tracks.
        try:
            client.delete_session(livy.id)
        except LivyError:
            log.warning("session %s stopped while starting; Livy session %s not deleted", row.pk, livy.id)
        raise LivyError("The session was stopped while it was starting.")
    if cfg.LIVY_SESSION_INIT_CODE.strip():
        Statement.objects.create(session=row, author=user, code=cfg.LIVY_SESSION_INIT_CODE, kind=row.kind)
    log.info("user %s started Livy session %s (%s)", user.pk, row.livy_id, row.name)
    return row


def _reopen_failed_start(user: Any, spec: SessionSpec, cfg: AppConfig) -> SparkSession | None:
    """The user's latest session row, made active again for a new start, when it is one whose
    start failed before Livy gave it an id: repeated Runs against a Livy that cannot start a
    session keep one ``error`` row (holding the failed statements), not one per click."""
    latest = (
        SparkSession.objects.filter(owner=user, backend=cfg.LIVY_BACKEND, endpoint=cfg.LIVY_BASE_ENDPOINT)
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
    :func:`_is_ours`); one Livy no longer knows, or that now belongs to someone else, is
    closed here without touching Livy. Raises :class:`LivyError` when Livy cannot be reached
    (the row stays as it was, so the user can try again).
    """
    if session.livy_id and not session.is_terminal:
        try:
            livy: LivySession | None = client.get_session(session.livy_id)
        except LivyNotFound:
            livy = None  # gone, or hidden from this caller (Fabric): the DELETE below says which
        if livy is not None and not _is_ours(session, livy):
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


def refresh(session: SparkSession, *, client: LivyClient, force: bool = False,
            actor: Any = None, read_only: bool = False, dispatch: bool = False,
            verify: bool = False, wait: float = 0.0) -> SparkSession:
    """Bring the session and its unfinished statements up to date from Livy, with no more
    Livy calls than the answer needs:

    * nothing at all when everything is terminal, the session idle with no statement left
      open, or another request refreshed this session less than
      ``LIVY_REFRESH_MIN_INTERVAL`` seconds ago (unless ``force``);
    * one ``GET /sessions/{id}`` while the session starts (or is busy with nothing of ours
      open), which also proves the session is still ours (:func:`_is_ours`);
    * one ``GET .../statements/{sid}`` per running statement (its ``code`` proves it is
      ours), the session read every ``LIVY_SESSION_CHECK_INTERVAL`` seconds besides (a
      session that died leaves its statements ``running``), and one session read when the
      last of them finishes (idle or busy again).

    A session Livy no longer knows, or that is no longer ours, becomes ``dead`` and its
    unfinished statements ``failed``. Raises :class:`LivyError` when Livy cannot be reached;
    rows are left as they were.

    Code is sent only with ``dispatch`` (a POST by the owner, allowed to run code): then
    queued statements go out once the session is ready, and the session's idle timer is
    reset (Fabric). A GET poll calls this without ``dispatch`` and only reads.

    ``actor`` is the user looking; when it is not the owner (an administrator), the refresh
    only reads, and with per-user tokens (Fabric) a 404 is not taken as the session being
    gone, since it may only be hidden from the actor. ``read_only`` reads the same way for
    any caller (the reaper). ``verify`` reads an idle session too (a full page load: Livy
    may have ended it, or restarted, while nobody looked). ``wait`` (seconds, with
    ``dispatch``) holds the answer until the first statement it sent finishes, as a Run does.
    """
    if not (needs_refresh(session) or (verify and session.livy_id and not session.is_terminal)):
        return session
    if session.endpoint != current_config().LIVY_BASE_ENDPOINT:
        # Its Livy is no longer the configured one: its ids mean nothing to this server.
        return session
    if not force and not _claim_refresh(session):
        session.refresh_from_db()
        return session

    owner_acting = not read_only and (actor is None or actor.pk == session.owner_id)
    may_retire = owner_acting or not client.backend.user_tokens
    running = list(open_statements(session).filter(livy_id__isnull=False))
    queued = open_statements(session).filter(livy_id__isnull=True).exists()
    verified = False
    if session.livy_id and not session.is_terminal:
        if verify or not session.is_ready or not running or (dispatch and queued) or _session_check_due(session):
            verified = _verified(session, client, retire=may_retire) is not None
    elif not session.is_terminal:
        _close_if_start_abandoned(session)

    if session.is_terminal:
        _fail_open_statements(session)
        return session

    if owner_acting and session.is_ready and verified:
        # Settling unconfirmed sends only reads Livy's list: any owner's refresh may do it.
        _reconcile_submissions(session, client)
    if dispatch and owner_acting and session.is_ready and verified:
        before = {stmt.pk for stmt in running}
        dispatch_queued(session, client=client)
        _keep_alive_quietly(session, client)
        running = list(open_statements(session).filter(livy_id__isnull=False))
        sent = [stmt for stmt in running if stmt.pk not in before]
        if wait > 0 and sent:
            # Just sent, as a Run would have: wait for the first of them, then read the rest.
            _await_statement(session, sent[0], client, wait)
            running = list(open_statements(session).filter(livy_id__isnull=False))
            if not running:
                return session
    if running and session.livy_id:
        for stmt in running:
            if not _read_statement(session, stmt, client, may_retire=may_retire):
                return session
        _settle_after_statements(session, running, client, may_retire=may_retire)
    return session


def _settle_after_statements(session: SparkSession, finished: list[Statement], client: LivyClient, *,
                             may_retire: bool) -> None:
    """Once none of the session's statements runs any more, bring the session's state up to
    date with as few Livy calls as possible: a statement that ended ``available`` or
    ``error`` means the REPL finished, so the session is idle again (no call); after a
    cancel, driver-side code may still run (Livy keeps the session ``busy``), so the session
    is read."""
    if open_statements(session).filter(livy_id__isnull=False).exists():
        return
    cancelled = any(
        s.state == StatementState.CANCELLED.value for s in Statement.objects.filter(pk__in=[f.pk for f in finished])
    )
    if cancelled:
        _verified(session, client, retire=may_retire)
        if session.is_terminal:
            _fail_open_statements(session)
        return
    if SparkSession.objects.filter(
        pk=session.pk, name=session.name, active=True, state__in=BUSY_SESSION_VALUES
    ).update(state=SessionState.IDLE.value):
        session.state = SessionState.IDLE.value


def _session_check_due(session: SparkSession) -> bool:
    """True when the session was last read (or written) more than
    ``LIVY_SESSION_CHECK_INTERVAL`` seconds ago: a session that dies under a running
    statement leaves that statement ``running`` on Livy, so reading statements alone would
    never notice."""
    interval = current_config().LIVY_SESSION_CHECK_INTERVAL
    return session.updated_at is None or (timezone.now() - session.updated_at).total_seconds() >= interval


def _read_statement(session: SparkSession, stmt: Statement, client: LivyClient, *, may_retire: bool) -> bool:
    """Read one running statement into its row. Livy's statement under our ids must have our
    code, else Livy restarted and the session under our id is someone else's: the session
    is closed (returns False, nothing of theirs is copied). Before an output or a final
    state is copied, the session itself is proved ours (id and name, :func:`_verified`) once
    in the request, since two users may run the same code. A missing statement or an answer
    of the wrong shape fails that statement alone, with the reason. Rows are written only
    while the statement is still open (a Stop meanwhile wins)."""
    try:
        livy = client.get_statement(session.livy_id, stmt.livy_id)
    except LivyNotFound:
        # Either the session is gone (Livy restarted) or only the statement: ask the session.
        if _verified(session, client, retire=may_retire) is None:
            if session.is_terminal:
                _fail_open_statements(session)
            return False
        _fail(stmt, "Livy no longer knows this statement.")
        _save_statement(stmt, state__in=_open_values())
        return True
    except LivyProtocolError as exc:
        _fail(stmt, f"Livy's answer for this statement could not be read: {exc}")
        _save_statement(stmt, state__in=_open_values())
        return True
    if livy.code != stmt.code:
        if may_retire:
            _retire(session, SESSION_REPLACED, state=SessionState.DEAD)
            _fail_open_statements(session)
        return False
    if (livy.output is not None or livy.state.is_terminal) and not _verified_now(session):
        if _verified(session, client, retire=may_retire) is None:
            if session.is_terminal:
                _fail_open_statements(session)
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


def _verified_now(session: SparkSession) -> bool:
    """True when :func:`_verified` proved ``session`` ours earlier in this request (the flag
    lives on this in-memory object only)."""
    return bool(getattr(session, "_verified_in_request", False))


# ------------------------------------------------------------------------------ statements
def submit(user: Any, code: str, *, client: LivyClient, kind: str = "pyspark", wait: float = 0.0,
           cfg: AppConfig | None = None, cell: Any = None) -> Statement:
    """Run ``code`` as a statement of ``kind`` (``pyspark``, ``sql`` or ``spark``: Livy 0.5+
    runs any kind in any session) in the user's session, starting one if needed.

    The statement is saved ``queued`` and sent at once when the session is ready, otherwise
    by a later :func:`refresh` once it is; if Livy is unreachable or throttling at that
    moment it stays queued and the next refresh sends it.

    ``wait`` (seconds) holds the answer until the statement finishes, reading it from Livy
    every 10 ms at first and backing off to 100 ms: a quick statement comes back finished,
    so the page needs no poll at all (``LIVY_RUN_WAIT``).

    Raises :class:`LivyError` when no session could be had: the code is then kept as a
    ``failed`` statement with the reason, on the session row whose start failed, so it
    shows in the history with a Re-run. Raises :class:`LivySignInRequired` when the user's
    token has run out (the statement is kept queued on their live session, if they have one).

    ``cell``: the notebook :class:`~livy.models.Cell` the code comes from, saved as the
    statement's ``cell`` (also on a kept failed or queued statement).
    """
    cfg = cfg or current_config()
    try:
        session = ensure_session(user, client=client, cfg=cfg)
    except LivySignInRequired:
        # Keep the code queued on the live session; it is sent once the user is back.
        row = active_session(user, cfg=cfg)
        if row is not None and not row.is_terminal:
            Statement.objects.create(session=row, author=user, code=code, kind=kind, cell=cell)
        raise
    except LivyError as exc:
        _keep_failed_run(user, code, kind, exc, cfg, cell)
        raise
    stmt = Statement.objects.create(session=session, author=user, code=code, kind=kind, cell=cell)
    if session.session_state.is_ready:
        try:
            dispatch_queued(session, client=client)
        except (LivyUnavailable, LivyThrottled) as exc:
            log.info("statement %s stays queued: %s", stmt.pk, exc)
        stmt.refresh_from_db()
        _keep_alive_quietly(session, client)
        if wait > 0 and stmt.livy_id is not None and not stmt.is_terminal:
            _await_statement(session, stmt, client, wait)
    return stmt


def _keep_failed_run(user: Any, code: str, kind: str, exc: LivyError, cfg: AppConfig, cell: Any = None) -> None:
    """Save the code of a Run whose session could not be started as a ``failed`` statement
    on the user's latest session row (the one whose start failed), so it is not lost."""
    row = (
        SparkSession.objects.filter(owner=user, backend=cfg.LIVY_BACKEND, endpoint=cfg.LIVY_BASE_ENDPOINT)
        .order_by("-created_at", "-pk")
        .first()
    )
    if row is None:
        return
    Statement.objects.create(
        session=row, author=user, code=code, kind=kind, state=Statement.FAILED, cell=cell,
        error_name="SessionNotStarted", error_value=f"Your code was not run: {exc}", completed_at=timezone.now(),
    )


#: First pause (seconds) before reading a statement the Run answer waits for; each next pause
#: is :data:`WAIT_BACKOFF` times longer (10, 30, 90, 270, 810 ms: five reads in two seconds),
#: so a quick statement is seen within milliseconds and a long one costs a few reads.
WAIT_FIRST_INTERVAL = 0.01
WAIT_BACKOFF = 3.0


def _await_statement(session: SparkSession, stmt: Statement, client: LivyClient, wait: float) -> None:
    """Read ``stmt`` from Livy until it is terminal or ``wait`` seconds have passed. A Livy
    error ends the wait quietly: the page's polls take over."""
    deadline = time.monotonic() + wait
    pause = WAIT_FIRST_INTERVAL
    try:
        while not stmt.is_terminal and time.monotonic() + pause < deadline:
            time.sleep(pause)
            pause *= WAIT_BACKOFF
            if not _read_statement(session, stmt, client, may_retire=True):
                break
            # A read just made: the page's next poll need not read Livy again at once.
            SparkSession.objects.filter(pk=session.pk).update(refreshed_at=timezone.now())
        stmt.refresh_from_db()
        if stmt.is_terminal:
            _settle_after_statements(session, [stmt], client, may_retire=True)
    except LivyError as exc:
        log.info("waiting for statement %s stopped: %s", stmt.pk, exc)


def keep_alive(session: SparkSession, *, client: LivyClient, cfg: AppConfig | None = None) -> bool:
    """Restart the server's idle timer of a ready session (``POST /sessions/{id}/reset-timeout``)
    if the backend has one (Fabric ends sessions idle for 20 minutes) and the last reset is
    older than ``LIVY_KEEPALIVE_INTERVAL`` seconds. Returns True when a reset was sent.

    Called when the user runs code, while the page polls, and by the open page's heartbeat,
    so a session lives as long as its user is active. Errors other than the session being
    gone are left to the caller.
    """
    cfg = cfg or current_config()
    if not (client.backend.supports_reset_timeout and session.livy_id and session.session_state.is_ready):
        return False
    threshold = timezone.now() - timedelta(seconds=cfg.LIVY_KEEPALIVE_INTERVAL)
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
    """Send the session's queued statements to Livy, oldest first; returns how many were sent.

    Each statement is claimed (``queued`` → ``sending``) by a conditional UPDATE before it
    is sent, so concurrent callers never send it twice. On a transient error (Livy
    unreachable, throttled) the statement goes back to ``queued`` and sending stops until the
    next refresh; when Livy may have received it without answering, it stays ``sending``
    and :func:`refresh` reconciles it with Livy's list; on any other refusal it becomes
    ``failed`` with Livy's message.
    """
    sent = 0
    for stmt in session.statements.filter(state=Statement.QUEUED).order_by("pk"):
        # Claimed only while no earlier statement of the session waits or is being sent without
        # an answer yet: two dispatchers never send a later statement before an earlier one.
        earlier = Statement.objects.filter(session=session, pk__lt=OuterRef("pk")).filter(
            Q(state=Statement.QUEUED) | Q(state=Statement.SENDING, livy_id__isnull=True)
        )
        claimed = Statement.objects.filter(pk=stmt.pk, state=Statement.QUEUED).filter(~Exists(earlier)).update(
            state=Statement.SENDING, submitted_at=timezone.now()
        )
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
        stmt.refresh_from_db()
        sent += 1
    return sent


def cancel(stmt: Statement, *, client: LivyClient, actor: Any = None) -> Statement:
    """Cancel a statement. A queued one is cancelled here; a running one is asked to cancel on
    Livy and moves to ``cancelling`` until a refresh reads ``cancelled``. Raises
    :class:`LivyError` if Livy cannot be reached."""
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
    may_retire = actor is None or actor.pk == session.owner_id or not client.backend.user_tokens
    if _verified(session, client, retire=may_retire) is None:
        stmt.refresh_from_db()
        return stmt
    if not _read_statement(session, stmt, client, may_retire=may_retire) or stmt.is_terminal:
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
def _longest_send_seconds() -> float:
    """How long a create or send to Livy can take at worst, in seconds (see
    :data:`RECONCILE_AFTER_TIMEOUTS`): past this, no request for it can still be in flight."""
    return RECONCILE_AFTER_TIMEOUTS * current_config().LIVY_REQUESTS_TIMEOUT + SUBMIT_GRACE_SECONDS


def _claim_refresh(session: SparkSession) -> bool:
    """Take the right to refresh ``session`` now (a conditional UPDATE on ``refreshed_at``)."""
    now = timezone.now()
    threshold = now - timedelta(seconds=current_config().LIVY_REFRESH_MIN_INTERVAL)
    claimed = SparkSession.objects.filter(pk=session.pk).filter(
        Q(refreshed_at__isnull=True) | Q(refreshed_at__lte=threshold)
    ).update(refreshed_at=now)
    if claimed:
        session.refreshed_at = now
    return bool(claimed)


def _keep_alive_quietly(session: SparkSession, client: LivyClient) -> None:
    """:func:`keep_alive`, whose failure is logged, never shown: the user's action succeeded."""
    try:
        keep_alive(session, client=client)
    except LivySignInRequired:
        raise
    except LivyError as exc:
        log.info("keep-alive of session %s failed: %s", session.pk, exc)


#: Fields a Livy read updates on a session row (never ``owner``, ``name``, timestamps of ours).
_SYNCED_FIELDS = ("livy_id", "state", "phase", "app_id", "spark_ui_url", "driver_log_url",
                  "error_message", "active", "ended_at", "ready_at")


def _save_if_active(row: SparkSession) -> bool:
    """Write what Livy said into ``row`` unless the row was closed meanwhile (a Stop that ran
    during the Livy call wins); then reload it. Returns whether it was written."""
    values = {name: getattr(row, name) for name in _SYNCED_FIELDS}
    now = timezone.now()
    written = SparkSession.objects.filter(pk=row.pk, active=True).update(**values, updated_at=now)
    if written:
        row.updated_at = now
    else:
        row.refresh_from_db()
    return bool(written)


def _close_if_start_abandoned(row: SparkSession) -> None:
    """A row that never got a Livy id long after its create call must have been cut off
    (the process died mid-call): close it so the user's next run starts afresh."""
    age = (timezone.now() - row.created_at).total_seconds()
    if age > _longest_send_seconds():
        _retire(row, "Starting the session was interrupted before Livy answered.", state=SessionState.ERROR)


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


def _is_ours(row: SparkSession, livy: LivySession) -> bool:
    """Livy's session is the row's only if both the id and the name match: Apache Livy
    numbers sessions from 0 again after a restart (session recovery is off by default), so an
    id alone may name another user's new session. Names are unique per start
    (:func:`session_spec`)."""
    return livy.id == row.livy_id and livy.name == row.name


def _verified(row: SparkSession, client: LivyClient, *, retire: bool = True) -> LivySession | None:
    """Read the session from Livy (``GET /sessions/{id}``) and, if it is still ours
    (:func:`_is_ours`), copy its state into ``row`` and save it (unless closed meanwhile);
    returns Livy's session, or None when it is gone or someone else's. Then the row becomes
    ``dead`` with the reason (if ``retire``), unless it was just created on a server that is
    slow to show new sessions (then a 404 or 5xx is ignored for
    ``LIVY_SESSION_CREATE_GRACE`` seconds)."""
    try:
        livy = client.get_session(row.livy_id)
    except LivyNotFound:
        if retire and not _in_creation_grace(row, client):
            _retire(row, SESSION_GONE, state=SessionState.DEAD)
        return None
    except LivyHTTPError as exc:
        if not (exc.status >= 500 and _in_creation_grace(row, client)):
            raise
        return None
    if not _is_ours(row, livy):
        log.warning("Livy session %s is no longer ours (name %r, expected %r): closing row %s",
                    row.livy_id, livy.name, row.name, row.pk)
        if retire:
            _retire(row, SESSION_REPLACED, state=SessionState.DEAD)
        return None
    _apply_session(row, livy)
    _save_if_active(row)
    row._verified_in_request = True
    return livy


def _in_creation_grace(row: SparkSession, client: LivyClient) -> bool:
    """True while a just-created session may still be invisible to its server (Fabric)."""
    if not client.backend.early_errors_expected:
        return False
    age = (timezone.now() - row.created_at).total_seconds()
    return age < current_config().LIVY_SESSION_CREATE_GRACE


def _apply_session(row: SparkSession, livy: LivySession) -> None:
    if len(livy.id) > SparkSession._meta.get_field("livy_id").max_length:
        raise LivyProtocolError("Livy answered with a session id longer than any Livy id.")
    row.livy_id = livy.id
    row.state = livy.state.value[:32]
    if livy.state.is_ready and row.ready_at is None:
        row.ready_at = timezone.now()
    row.phase = (livy.phase or "")[:64]
    if livy.phase_error and not row.error_message:
        row.error_message = livy.phase_error
    row.app_id = (livy.app_id or row.app_id)[:200]
    row.spark_ui_url = _web_link(livy.spark_ui_url) or row.spark_ui_url
    row.driver_log_url = _web_link(livy.driver_log_url) or row.driver_log_url
    if livy.state.is_terminal:
        row.active = False
        row.ended_at = row.ended_at or timezone.now()
        if not row.error_message and livy.state in (SessionState.ERROR, SessionState.DEAD):
            tail = "\n".join(livy.log[-20:])
            row.error_message = f"The session ended in state {livy.state.value}." + (f"\n{tail}" if tail else "")


def _web_link(url: str | None) -> str:
    """``url`` if it is an http(s) link that fits the row (Livy's answer is shown as a link),
    else ""."""
    if not url or len(url) > 1000 or not url.lower().startswith(("http://", "https://")):
        return ""
    return url


def _apply_statement(stmt: Statement, livy: LivyStatement) -> None:
    stmt.livy_id = livy.id
    stmt.state = livy.state.value[:32]
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
    if livy.state.is_terminal:
        stmt.progress = 1.0 if livy.state == StatementState.AVAILABLE else stmt.progress
        stmt.completed_at = livy.completed or stmt.completed_at or timezone.now()


def _fail(stmt: Statement, reason: str) -> None:
    stmt.state = Statement.FAILED
    stmt.error_name = stmt.error_name or "LivyError"
    stmt.error_value = stmt.error_value or reason
    stmt.completed_at = stmt.completed_at or timezone.now()


def _fail_open_statements(session: SparkSession) -> None:
    reason = f"The session ended ({session.state}) before this statement finished."
    now = timezone.now()
    open_statements(session).update(
        state=Statement.FAILED, error_name="SessionEnded", error_value=reason, completed_at=now
    )


def _reconcile_submissions(session: SparkSession, client: LivyClient) -> None:
    """Settle statements left ``sending`` longer than any send can take (no answer came,
    or the process died mid-send). Livy's list decides: the newest Livy statement with the
    same code that no row claims, and that is newer than the statements sent before this one,
    is adopted; when there is none the statement becomes ``failed`` with a message saying it
    may not have run. Nothing is ever sent again automatically: Livy may register a
    statement late, and running a user's code twice is worse than asking them to rerun it."""
    limit = timezone.now() - timedelta(seconds=_longest_send_seconds())
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
                            "started_at", "completed_at")


def _save_statement(stmt: Statement, **conditions: Any) -> bool:
    """Write the Livy-derived fields of ``stmt`` if the row still meets ``conditions``."""
    values = {name: getattr(stmt, name) for name in _STATEMENT_SYNCED_FIELDS}
    return bool(Statement.objects.filter(pk=stmt.pk, **conditions).update(**values))


def _retire(row: SparkSession, reason: str = "", state: SessionState | None = None) -> None:
    """Close ``row`` (with ``state`` and ``reason``), unless it was reopened for a new start
    meanwhile (its name changed): a stale object never closes a live session."""
    row.active = False
    if state is not None:
        row.state = state.value
    if reason and not row.error_message:
        row.error_message = reason
    row.ended_at = row.ended_at or timezone.now()
    SparkSession.objects.filter(pk=row.pk, name=row.name).update(
        active=False, state=row.state, error_message=row.error_message, ended_at=row.ended_at,
        updated_at=timezone.now(),
    )


def complete(session: SparkSession, code: str, kind: str, cursor: int, *, client: LivyClient) -> list[str]:
    """Completions Spark's REPL offers for the word before ``cursor`` (a character offset into
    ``code``), from ``POST /sessions/{id}/completion``. Empty when the backend has no such
    endpoint (Fabric) or the session is not idle (a busy REPL would answer only after the
    running code). Raises :class:`LivyError` when Livy cannot be used. Writes nothing."""
    if not (client.backend.supports_completion and session.livy_id and session.session_state is SessionState.IDLE):
        return []
    if _verified(session, client, retire=False) is None:
        return []
    return client.complete(session.livy_id, code, kind, cursor)


def session_log_tail(session: SparkSession, lines: int, *, client: LivyClient) -> list[str]:
    """The last ``lines`` lines of the session's Livy log (``GET /sessions/{id}/log``).

    Raises :class:`LivyNotFound` once Livy has forgotten the session, and other
    :class:`LivyError`\\ s when it cannot be reached.
    """
    if _verified(session, client, retire=False) is None:
        raise LivyNotFound("Livy no longer has this session, so its log is gone.", status=404)
    total = client.get_session_log(session.livy_id, 0, 0).total
    return client.get_session_log(session.livy_id, max(0, total - lines), lines).lines
