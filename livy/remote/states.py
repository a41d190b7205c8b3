"""Livy's session and statement states, and the sets that decide what a state means.

Values follow Apache Livy's REST API (``SessionState`` and ``StatementState`` in
docs/rest-api.md of apache/incubator-livy, 0.8/0.9) and Fabric's Livy API swagger
(a copy is ``tests/contract/fabric-livy-swagger.json``: Fabric adds ``submitting``/``not_submitted`` to
sessions and writes ``Error`` with a capital). The enums are *open*: a value a newer server
invents is kept as a pseudo-member (``known`` is False) instead of raising.

Nothing else in the project decides whether a state is terminal, ready or running: ask
:func:`SessionState.is_terminal` and friends, or the frozensets below.
"""

from __future__ import annotations

from enum import Enum
from typing import Any


class _OpenEnum(str, Enum):
    """A str enum that accepts values it does not know (future Livy versions, Fabric).

    Lookup is case-insensitive (Fabric writes ``Error``); an unknown value becomes a
    pseudo-member whose ``known`` is False instead of raising ``ValueError``.
    """

    @classmethod
    def _aliases(cls) -> dict[str, str]:
        return {}

    @classmethod
    def _missing_(cls, value: object) -> Any:
        if not isinstance(value, str):
            return None
        lowered = value.strip().lower()
        lowered = cls._aliases().get(lowered, lowered)
        for member in cls:
            if member.value == lowered:
                return member
        pseudo = str.__new__(cls, lowered)
        pseudo._name_ = lowered.upper()
        pseudo._value_ = lowered
        return pseudo

    @property
    def known(self) -> bool:
        """False for a value this version of the enum does not list."""
        return self._name_ in type(self).__members__


class SessionState(_OpenEnum):
    """Livy session states (Apache Livy ``SessionState``; Fabric adds a few)."""

    NOT_STARTED = "not_started"
    STARTING = "starting"
    RECOVERING = "recovering"
    IDLE = "idle"
    RUNNING = "running"
    BUSY = "busy"
    SHUTTING_DOWN = "shutting_down"
    ERROR = "error"
    DEAD = "dead"
    KILLED = "killed"
    SUCCESS = "success"
    # Fabric's Livy API only:
    SUBMITTING = "submitting"
    NOT_SUBMITTED = "not_submitted"

    @property
    def is_terminal(self) -> bool:
        """The session will never run code again."""
        return self in TERMINAL_SESSION_STATES

    @property
    def is_ready(self) -> bool:
        """The session accepts statements right away (idle, or busy running others)."""
        return self in READY_SESSION_STATES


class StatementState(_OpenEnum):
    """Livy statement states; ``canceled`` (some servers) is read as ``cancelled``."""

    WAITING = "waiting"
    RUNNING = "running"
    AVAILABLE = "available"
    ERROR = "error"
    CANCELLING = "cancelling"
    CANCELLED = "cancelled"

    @classmethod
    def _aliases(cls) -> dict[str, str]:
        return {"canceled": "cancelled", "canceling": "cancelling"}

    @property
    def is_terminal(self) -> bool:
        """The statement has its final state (its output may still be filled in after a cancel)."""
        return self in TERMINAL_STATEMENT_STATES

    @property
    def is_running(self) -> bool:
        """Livy is (or may be) running the code."""
        return self in RUNNING_STATEMENT_STATES


#: Sessions that will never run code again.
TERMINAL_SESSION_STATES = frozenset(
    {SessionState.ERROR, SessionState.DEAD, SessionState.KILLED, SessionState.SUCCESS}
)
#: Sessions that accept statements now.
READY_SESSION_STATES = frozenset({SessionState.IDLE, SessionState.BUSY, SessionState.RUNNING})
#: Sessions running code.
BUSY_SESSION_STATES = frozenset({SessionState.BUSY, SessionState.RUNNING})
#: Statements with their final state.
TERMINAL_STATEMENT_STATES = frozenset(
    {StatementState.AVAILABLE, StatementState.ERROR, StatementState.CANCELLED}
)
#: Statements Livy is (or may be) running.
RUNNING_STATEMENT_STATES = frozenset(
    {StatementState.WAITING, StatementState.RUNNING, StatementState.CANCELLING}
)
