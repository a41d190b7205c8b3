"""The states a statement or session *row* can be in: Livy's own (:mod:`livy.remote.states`)
plus three of ours for statements Livy has not (yet) confirmed.

Our statement states have their own enum, :class:`OwnStatementState`, with names that do not
collide with Livy's or Fabric's (Fabric's *session* state ``submitting`` is not our
``sending``). Code asks the predicates here (``statement_is_*``), or the rows' properties
built on them (``Statement.is_queued``, ``is_cancelling``...), and the badge tones
(:func:`session_tone`, :func:`statement_tone`) instead of comparing state strings; templates
use those properties (``livy/_statement.html``), queries the value sets below.
"""

from __future__ import annotations

from enum import Enum

from livy.remote.states import (
    BUSY_SESSION_STATES,
    RUNNING_STATEMENT_STATES,
    TERMINAL_STATEMENT_STATES,
    SessionState,
    StatementState,
)


class OwnStatementState(str, Enum):
    """Statement states of this app, before or without Livy.

    * ``queued``: saved, waiting for its session to be ready (sent in submission order);
    * ``sending``: claimed by one request and being sent; if no answer comes, Livy's
      statement list later decides whether it arrived;
    * ``failed``: never reached Livy, was lost with its session, or Livy's answer could not
      be used; ``error_name``/``error_value`` say why.
    """

    QUEUED = "queued"
    SENDING = "sending"
    FAILED = "failed"


#: Statement row states that are final (Livy's terminal states and our ``failed``).
TERMINAL_STATEMENT_VALUES: tuple[str, ...] = tuple(
    sorted(s.value for s in TERMINAL_STATEMENT_STATES)
) + (OwnStatementState.FAILED.value,)
#: Statement row states in which Livy is (or may be) running the code.
RUNNING_STATEMENT_VALUES: tuple[str, ...] = tuple(sorted(s.value for s in RUNNING_STATEMENT_STATES))
#: Session row states in which the session runs code.
BUSY_SESSION_VALUES: tuple[str, ...] = tuple(sorted(s.value for s in BUSY_SESSION_STATES))


def statement_is_terminal(value: str) -> bool:
    """True when a statement row in state ``value`` will not change state again."""
    return value in TERMINAL_STATEMENT_VALUES


def statement_is_running(value: str) -> bool:
    """True while Livy runs (or may run) the statement: waiting, running or cancelling."""
    return value in RUNNING_STATEMENT_VALUES


def statement_is_queued(value: str) -> bool:
    """True for our ``queued``: saved, waiting for its session to be ready."""
    return value == OwnStatementState.QUEUED.value


def statement_is_sending(value: str) -> bool:
    """True for our ``sending``: claimed by one request and being sent to Livy."""
    return value == OwnStatementState.SENDING.value


def statement_is_cancelling(value: str) -> bool:
    """True for Livy's ``cancelling``: asked to cancel, still running (Python code on the
    driver cannot be interrupted; Livy keeps the session busy until it ends)."""
    return value == StatementState.CANCELLING.value


def statement_is_error(value: str) -> bool:
    """True for Livy's ``error`` and our ``failed``."""
    return value in (StatementState.ERROR.value, OwnStatementState.FAILED.value)


#: Badge tones: ``ok``, ``error``, ``running``, ``ended`` and ``waiting`` (CSS ``badge-<tone>``).
_SESSION_TONES = {
    SessionState.IDLE: "ok",
    SessionState.ERROR: "error",
    SessionState.DEAD: "error",
    SessionState.BUSY: "running",
    SessionState.RUNNING: "running",
    SessionState.STARTING: "running",
    SessionState.SUBMITTING: "running",
    SessionState.RECOVERING: "running",
    SessionState.SHUTTING_DOWN: "running",
    SessionState.KILLED: "ended",
    SessionState.SUCCESS: "ended",
}
_STATEMENT_TONES = {
    StatementState.AVAILABLE.value: "ok",
    StatementState.ERROR.value: "error",
    OwnStatementState.FAILED.value: "error",
    StatementState.RUNNING.value: "running",
    StatementState.CANCELLING.value: "running",
    OwnStatementState.SENDING.value: "running",
    StatementState.CANCELLED.value: "ended",
}


def session_tone(value: str) -> str:
    """Badge tone of a session row state (unknown states: ``waiting``)."""
    return _SESSION_TONES.get(SessionState(value), "waiting")


def statement_tone(value: str) -> str:
    """Badge tone of a statement row state (``queued``, ``waiting`` and unknown: ``waiting``)."""
    return _STATEMENT_TONES.get(value, "waiting")
