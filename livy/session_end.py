"""What happens when a Livy session dies: how the app notices, and the one thing it then does.

A Livy session ends behind the app's back when someone deletes it, Spark's driver dies, Livy's
idle timeout fires, or Livy restarts (it then forgets every session and numbers new ones from 0
again, so our id may name another user's session). The app notices only when it reads Livy,
in one of these detectors, all in this module:

* :func:`check_session` (``GET /sessions/{id}``): a 404 means *gone* (:data:`SESSION_GONE`),
  a session under our id with another name means *replaced* (:data:`SESSION_REPLACED`); a
  session that is ours is copied into the row by :func:`record_session`.
* :func:`record_session`: Livy says the session is ``dead``, ``error``, ``killed`` or
  ``success``; the reason is Livy's own (``phase_error``) or the last 20 lines of its log.
* :func:`end_if_statement_not_ours`: Livy's statement under our ids has other code, so the
  session under our id is someone else's (replaced).
* :func:`close_if_start_abandoned`: a row never got a Livy id long after its create call
  (the process died mid-call).
* :func:`retire_elsewhere`: the row's Livy is no longer the configured endpoint.

A read of a running statement comes first and tells most deaths by itself (Apache Livy answers
404 once the session is deleted and 400 "Session isn't active" once it ended); only then is the
session read (:mod:`livy.lifecycle`, ``_Reader.read_statement``).

Every detector calls :func:`end_session`, the only place a session *ends*: the row is closed
(``active`` false, a terminal state, ``ended_at``, the reason in ``error_message`` unless one is
already there) and its unfinished statements become ``failed`` with ``SessionEnded`` and the
session's state, so nothing shows as running any more and each keeps its code for a Re-run.
Nothing is sent to Livy: the session is gone, or it is someone else's. A viewer who may only
read (an administrator with per-user Fabric tokens, to whom a 404 may only mean "hidden") does
not end it (``may_end`` false). The page then shows the reason in the session bar, and the
user's next Run starts a new session (:func:`livy.lifecycle.ensure_session`).

A user's Stop is not a death: :func:`livy.lifecycle.stop_session` deletes the session and
cancels its statements.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from livy.models import SparkSession, Statement
from livy.remote.client import LivyClient
from livy.remote.errors import LivyHTTPError, LivyNotFound, LivyProtocolError
from livy.remote.states import SessionState
from livy.remote.types import LivySession, LivyStatement, ReplHandle
from livy.selectors import open_statements
from myapp.config import current_config

log = logging.getLogger(__name__)

#: Shown when Livy answers 404 for a session we still had as alive.
SESSION_GONE = (
    "Livy no longer knows this session (it was stopped, timed out, or Livy restarted): its variables are gone. "
    "Run your code again to start a new session."
)
#: Shown when Livy's session under our id is not ours (Livy restarted and reused the id).
SESSION_REPLACED = (
    "Livy no longer has this session: the session now under its id belongs to someone else "
    "(Livy restarted and numbers sessions from 0 again). Its variables are gone; run your code again "
    "to start a new session."
)
#: Start of the reason of a session row whose create call Livy refused or never got.
START_FAILED = "Livy could not start the session: "
#: ``error_name`` of a statement left open when its session ended (:func:`fail_open_statements`).
SESSION_ENDED = "SessionEnded"
#: Shown when a row's create call never got an answer (the process died mid-call).
START_INTERRUPTED = "Starting the session was interrupted before Livy answered."
#: Shown when the configured Livy endpoint is no longer the row's.
ENDPOINT_CHANGED = "The Livy endpoint changed since this session started."

#: Seconds on top of the request timeouts below before a send with no answer is settled.
SUBMIT_GRACE_SECONDS = 30
#: A send may take this many request timeouts in the worst case (connect and read are timed
#: separately, a token fetch comes first, a 401 retries once): only after that is a
#: ``sending`` statement (or a start without a Livy id) looked at again.
RECONCILE_AFTER_TIMEOUTS = 4


def longest_send_seconds() -> float:
    """How long a create or send to Livy can take at worst, in seconds (see
    :data:`RECONCILE_AFTER_TIMEOUTS`): past this, no request for it can still be in flight."""
    return RECONCILE_AFTER_TIMEOUTS * current_config().LIVY_REQUESTS_TIMEOUT + SUBMIT_GRACE_SECONDS


# ------------------------------------------------------------------------------ the ending
def end_session(row: SparkSession, reason: str = "", *, state: SessionState | None = None) -> bool:
    """End ``row``: close it (``active`` false, ``state`` if given, ``ended_at``, ``reason``
    unless the row already has one) and fail its unfinished statements (``failed``,
    ``SessionEnded``, naming the session's state). ``row`` is updated in memory too.

    Returns False, changing nothing, when the row was reopened for a new start meanwhile (its
    name changed): a stale object never ends a live session."""
    row.active = False
    if state is not None:
        row.state = state.value
    if reason and not row.error_message:
        row.error_message = reason
    row.ended_at = row.ended_at or timezone.now()
    with transaction.atomic():
        closed = SparkSession.objects.filter(pk=row.pk, name=row.name).update(
            active=False, state=row.state, error_message=row.error_message, ended_at=row.ended_at,
            updated_at=timezone.now(),
        )
        if closed:
            fail_open_statements(row)
    return bool(closed)


def fail_open_statements(session: SparkSession) -> None:
    """Fail the statements of an ended ``session`` that are not terminal (``SessionEnded``)."""
    reason = f"The session ended ({session.state}) before this statement finished."
    open_statements(session).update(
        state=Statement.FAILED, error_name=SESSION_ENDED, error_value=reason, completed_at=timezone.now()
    )


# ------------------------------------------------------------------------------ detectors
class Seen(enum.Enum):
    """What ``GET /sessions/{id}`` showed about a row's Livy session."""

    OURS = "ours"  #: Livy has it, with our id and name
    GONE = "gone"  #: 404: Livy no longer knows it (or, per-user tokens, hides it from this caller)
    REPLACED = "replaced"  #: the session under our id has another name: someone else's
    NOT_YET = "not yet"  #: just created on a server slow to show new sessions (Fabric): no verdict


@dataclass(frozen=True)
class SessionCheck:
    """The fact :func:`check_session` established: ``seen`` and, when ours, Livy's session."""

    seen: Seen
    livy: LivySession | None = None

    @property
    def ours(self) -> bool:
        """True when Livy's session under our id is ours (id and name)."""
        return self.seen is Seen.OURS


def is_ours(row: SparkSession, livy: LivySession) -> bool:
    """Livy's session is the row's only if both the id and the name match: Apache Livy
    numbers sessions from 0 again after a restart (session recovery is off by default), so an
    id alone may name another user's new session. Names are unique per start
    (:func:`livy.lifecycle.session_spec`).

    A Fabric high-concurrency REPL (``livy.repl`` set) has no name in Fabric's answer: it is
    ours only if its high-concurrency id and, once stored, its ``sessionId``/``replId`` pair
    match the row's (:meth:`~livy.remote.types.ReplHandle.same_repl`)."""
    if livy.repl is not None:
        try:
            stored = ReplHandle.parse(row.livy_id)
        except LivyProtocolError:
            return False
        return livy.repl.same_repl(stored)
    return livy.id == row.livy_id and livy.name == row.name


def check_session(row: SparkSession, client: LivyClient, *, may_end: bool) -> SessionCheck:
    """Read the row's session from Livy (``GET /sessions/{id}``) and say what it is.

    Ours: its state is copied into the row (:func:`record_session`, which ends the row when
    Livy says the session ended). Gone (404) or replaced (another name): the row is ended with
    :data:`SESSION_GONE` or :data:`SESSION_REPLACED` when ``may_end``. A 404 or 5xx within
    ``LIVY_SESSION_CREATE_GRACE`` seconds of the start on a server slow to show new sessions
    (Fabric) is :attr:`Seen.NOT_YET` and changes nothing. Raises other
    :class:`~livy.remote.errors.LivyError`\\ s (Livy unreachable, refused) unchanged."""
    try:
        livy = client.get_session(row.livy_id)
    except LivyNotFound:
        if _in_creation_grace(row, client):
            return SessionCheck(Seen.NOT_YET)
        if may_end:
            end_session(row, SESSION_GONE, state=SessionState.DEAD)
        return SessionCheck(Seen.GONE)
    except LivyHTTPError as exc:
        if not (exc.status >= 500 and _in_creation_grace(row, client)):
            raise
        return SessionCheck(Seen.NOT_YET)
    if not is_ours(row, livy):
        log.warning("Livy session %s is no longer ours (name %r, expected %r): closing row %s",
                    row.livy_id, livy.name, row.name, row.pk)
        if may_end:
            end_session(row, SESSION_REPLACED, state=SessionState.DEAD)
        return SessionCheck(Seen.REPLACED)
    record_session(row, livy)
    return SessionCheck(Seen.OURS, livy)


def record_session(row: SparkSession, livy: LivySession) -> bool:
    """Copy Livy's answer for the row's own session into ``row`` and save it, unless the row
    was closed meanwhile (a Stop during the Livy call wins; ``row`` is then reloaded). When
    Livy says the session ended, the row is ended (:func:`end_session`) with Livy's reason or,
    for ``error`` and ``dead``, the last 20 lines of Livy's log. Returns whether it was
    written. Raises :class:`LivyProtocolError` for a session id longer than any Livy id."""
    _apply_session(row, livy)
    with transaction.atomic():
        if not _save_if_active(row):
            return False
        if livy.state.is_terminal:
            reason = ""
            if livy.state in (SessionState.ERROR, SessionState.DEAD):
                tail = "\n".join(livy.log[-20:])
                reason = f"The session ended in state {livy.state.value}." + (f"\n{tail}" if tail else "")
            end_session(row, reason, state=livy.state)
    return True


def end_if_statement_not_ours(session: SparkSession, stmt: Statement, livy: LivyStatement, *,
                              may_end: bool) -> bool:
    """Livy's statement under our ids must carry our code; otherwise Livy restarted and the
    session under our id is someone else's: the session is ended (:data:`SESSION_REPLACED`,
    when ``may_end``) and True returned, nothing of theirs copied. False when it is ours."""
    if livy.code == stmt.code:
        return False
    if may_end:
        end_session(session, SESSION_REPLACED, state=SessionState.DEAD)
    return True


def close_if_start_abandoned(row: SparkSession) -> None:
    """A row that never got a Livy id long after its create call must have been cut off
    (the process died mid-call): end it so the user's next run starts afresh."""
    age = (timezone.now() - row.created_at).total_seconds()
    if age > longest_send_seconds():
        end_session(row, START_INTERRUPTED, state=SessionState.ERROR)


def retire_elsewhere(user: Any) -> None:
    """End the user's sessions left active on another endpoint of this backend (the
    configuration changed since they started), so a new one may become active."""
    cfg = current_config()
    for row in SparkSession.objects.filter(owner=user, backend=cfg.LIVY_BACKEND, active=True).exclude(
        endpoint=cfg.LIVY_BASE_ENDPOINT
    ):
        end_session(row, ENDPOINT_CHANGED, state=SessionState.DEAD)


# -------------------------------------------------------------------------- row bookkeeping
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


def _in_creation_grace(row: SparkSession, client: LivyClient) -> bool:
    """True while a just-created session may still be invisible to its server (Fabric)."""
    if not client.backend.early_errors_expected:
        return False
    age = (timezone.now() - row.created_at).total_seconds()
    return age < current_config().LIVY_SESSION_CREATE_GRACE


def _apply_session(row: SparkSession, livy: LivySession) -> None:
    """Copy Livy's session into ``row`` in memory (the ending itself is :func:`end_session`'s)."""
    if len(livy.id) > SparkSession._meta.get_field("livy_id").max_length:
        raise LivyProtocolError("Livy answered with a session id longer than any Livy id.")
    if livy.repl is None or livy.repl.complete or ":" not in row.livy_id:
        row.livy_id = livy.id  # a REPL's answer without its pair (ending) keeps the stored one
    row.state = livy.state.value[:32]
    if livy.state.is_ready and row.ready_at is None:
        row.ready_at = timezone.now()
    row.phase = (livy.phase or "")[:64]
    if livy.phase_error and not row.error_message:
        row.error_message = livy.phase_error
    row.app_id = (livy.app_id or row.app_id)[:200]
    row.spark_ui_url = _web_link(livy.spark_ui_url) or row.spark_ui_url
    row.driver_log_url = _web_link(livy.driver_log_url) or row.driver_log_url


def _web_link(url: str | None) -> str:
    """``url`` if it is an http(s) link that fits the row (Livy's answer is shown as a link),
    else ""."""
    if not url or len(url) > 1000 or not url.lower().startswith(("http://", "https://")):
        return ""
    return url
