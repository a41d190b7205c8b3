"""Livy's objects as typed, immutable values: sessions, statements and their output, log
pages, and the spec of a session to create.

Field names follow Livy's REST API (docs/rest-api.md of apache/incubator-livy) in Python
spelling (``appId`` → ``app_id``); Fabric's ``SessionResponse`` is read into the same types.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from livy.remote.errors import LivyProtocolError
from livy.remote.states import SessionState, StatementState


def _object(value: Any, what: str) -> dict[str, Any]:
    """``value`` if it is a JSON object (or absent: an empty one), else :class:`LivyProtocolError`."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise LivyProtocolError(f"Livy's {what} is not a JSON object (got {type(value).__name__}).")
    return value


def _list(value: Any, what: str) -> list[Any]:
    """``value`` if it is a JSON array (or absent: an empty one), else :class:`LivyProtocolError`."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise LivyProtocolError(f"Livy's {what} is not a JSON array (got {type(value).__name__}).")
    return value


def _text(value: Any) -> str | None:
    """A string field of Livy's answer: None when absent, else its text."""
    return None if value is None else str(value)


def _epoch_ms(value: Any) -> datetime | None:
    """Livy writes statement ``started``/``completed`` as epoch milliseconds, 0 or -1 if unset."""
    if isinstance(value, (int, float)) and value > 0:
        return datetime.fromtimestamp(value / 1000, tz=UTC)
    return None


@dataclass(frozen=True)
class ReplHandle:
    """A Fabric high-concurrency session: one REPL (``repl_id``) in a shared Livy session
    (``session_id``), known by its high-concurrency id ``hc_id`` (Fabric's swagger,
    ``HighConcurrencySessionResponse``). ``session_id`` and ``replId`` are absent until the
    REPL is ``Idle``. Statement URLs use ``session_id`` + ``repl_id``; get and delete use
    ``hc_id``.

    As text (:meth:`text`, the row's ``livy_id``): ``hc_id`` alone, or
    ``hc_id:session_id:repl_id`` once the pair is known (GUIDs never hold a colon)."""

    hc_id: str
    session_id: str | None = None
    repl_id: str | None = None

    @property
    def complete(self) -> bool:
        """True once the pair (``session_id``, ``repl_id``) is known: statements may be sent."""
        return bool(self.session_id and self.repl_id)

    def text(self) -> str:
        """The handle as one string (see the class docstring)."""
        return f"{self.hc_id}:{self.session_id}:{self.repl_id}" if self.complete else self.hc_id

    @classmethod
    def parse(cls, text: str) -> ReplHandle:
        """The handle written by :meth:`text`; raises :class:`LivyProtocolError` for any other."""
        parts = text.split(":")
        if len(parts) == 1 and parts[0]:
            return cls(parts[0])
        if len(parts) == 3 and all(parts):
            return cls(*parts)
        raise LivyProtocolError(f"{text!r} is not a high-concurrency session handle.")

    def same_repl(self, stored: ReplHandle) -> bool:
        """True when this answer is the REPL ``stored`` names: the same high-concurrency id and,
        when both carry it, the same ``session_id``/``repl_id`` pair (Fabric leaves the pair
        out outside ``Idle``, e.g. while ``Deleting``: such an answer is judged by the id)."""
        if self.hc_id != stored.hc_id:
            return False
        if stored.complete and self.complete:
            return (self.session_id, self.repl_id) == (stored.session_id, stored.repl_id)
        return True


@dataclass(frozen=True)
class LivySession:
    """One interactive session as Livy describes it.

    ``id`` is a string whatever the backend (Apache: an integer, Fabric: a GUID).
    ``app_info`` holds ``sparkUiUrl`` / ``driverLogUrl`` when the cluster manager knows them.
    """

    id: str
    state: SessionState
    name: str | None = None
    kind: str | None = None
    app_id: str | None = None
    app_info: dict[str, Any] = field(default_factory=dict)
    proxy_user: str | None = None
    log: list[str] = field(default_factory=list)
    phase: str | None = None
    phase_error: str | None = None
    #: Fabric high-concurrency sessions only: the REPL this answer describes.
    repl: ReplHandle | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def spark_ui_url(self) -> str | None:
        return self.app_info.get("sparkUiUrl") or None

    @property
    def driver_log_url(self) -> str | None:
        return self.app_info.get("driverLogUrl") or None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> LivySession:
        """Read Apache Livy's session object, or Fabric's ``SessionResponse``.

        Fabric may answer with only ``fabricSessionStateInfo`` (``queued``,
        ``libraryPackaging``, ``acquiringSession``, ``cancelling``, ``cancelled``, ``error``)
        while it acquires Spark compute: that becomes ``phase`` (and ``phase_error``), and the
        session counts as ``starting``; an ``error`` or ``cancelled`` phase ends it.
        """
        info = _object(body.get("fabricSessionStateInfo"), "fabricSessionStateInfo")
        phase = _text(info.get("state"))
        state = body.get("state")
        if not state:
            state = {"error": "error", "cancelled": "killed"}.get(phase or "", "starting" if phase else "not_started")
        return cls(
            id=str(body["id"]),
            state=SessionState(str(state)),
            phase=phase,
            phase_error=_text(info.get("errorMessage")),
            name=_text(body.get("name")),
            kind=_text(body.get("kind")),
            app_id=_text(body.get("appId")),
            app_info={k: v for k, v in _object(body.get("appInfo"), "appInfo").items() if isinstance(v, str) and v},
            proxy_user=_text(body.get("proxyUser")),
            log=[str(line) for line in _list(body.get("log"), "session log")],
            raw=body,
        )


#: Fabric's ``HighConcurrencySessionState`` as Livy session states (the swagger's enum).
HC_STATES = {
    "notstarted": "not_started",
    "acquiringhighconcurrencysession": "starting",
    "idle": "idle",
    "dead": "dead",
    "killed": "killed",
    "failed": "error",
    "deleting": "shutting_down",
}


def hc_session_from_json(body: dict[str, Any]) -> LivySession:
    """Read Fabric's ``HighConcurrencySessionResponse`` into a :class:`LivySession` whose
    ``id`` is the :class:`ReplHandle` text and ``repl`` the handle. States map through
    :data:`HC_STATES` (``Failed`` is ``error``; an unknown one is kept as it is);
    ``AcquiringHighConcurrencySession`` (or ``fabricSessionStateInfo.state``) is the
    ``phase``, ``fabricSessionStateInfo.errorMessage`` the ``phase_error``. The answer has
    no ``name``: identity is the handle (see :meth:`ReplHandle.same_repl`)."""
    info = _object(body.get("fabricSessionStateInfo"), "fabricSessionStateInfo")
    raw_state = str(body.get("state") or "NotStarted")
    state = HC_STATES.get(raw_state.lower(), raw_state)
    phase = _text(info.get("state"))
    if phase is None and raw_state.lower() == "acquiringhighconcurrencysession":
        phase = "acquiringHighConcurrencySession"
    handle = ReplHandle(str(body["id"]), _text(body.get("sessionId")) or None, _text(body.get("replId")) or None)
    return LivySession(
        id=handle.text(),
        state=SessionState(state),
        phase=phase if not SessionState(state).is_ready else None,
        phase_error=_text(info.get("errorMessage")),
        repl=handle,
        raw=body,
    )


@dataclass(frozen=True)
class StatementOutput:
    """A statement's ``output``: ``status`` ``ok`` with ``data`` by MIME type, or ``error``
    with ``ename``, ``evalue`` and ``traceback`` (a list of lines)."""

    status: str
    execution_count: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    ename: str | None = None
    evalue: str | None = None
    traceback: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> StatementOutput:
        return cls(
            status=str(body.get("status") or "").lower(),
            execution_count=body.get("execution_count"),
            data=dict(_object(body.get("data"), "output.data")),
            ename=body.get("ename"),
            evalue=body.get("evalue"),
            traceback=[str(line) for line in _list(body.get("traceback"), "output.traceback")],
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "execution_count": self.execution_count,
            "data": self.data,
            "ename": self.ename,
            "evalue": self.evalue,
            "traceback": self.traceback,
        }


@dataclass(frozen=True)
class LivyStatement:
    """One statement. ``progress`` is 0.0–1.0; ``started``/``completed`` are UTC or None."""

    id: int
    state: StatementState
    code: str = ""
    output: StatementOutput | None = None
    progress: float = 0.0
    started: datetime | None = None
    completed: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> LivyStatement:
        """Read Livy's statement object. Raises :class:`LivyProtocolError` when it does not
        have the documented shape (no integer ``id``, an ``output`` or ``output.data`` that
        is not an object, a ``progress`` that is not a number)."""
        try:
            statement_id = int(body["id"])
            progress = float(body.get("progress") or 0.0)
        except (KeyError, TypeError, ValueError) as exc:
            raise LivyProtocolError(f"Livy's statement has no valid id or progress ({exc!r}).") from None
        output = body.get("output")
        return cls(
            id=statement_id,
            state=StatementState(str(body.get("state") or "waiting")),
            code=str(body.get("code") or ""),
            output=StatementOutput.from_json(_object(output, "statement output")) if output is not None else None,
            progress=progress,
            started=_epoch_ms(body.get("started")),
            completed=_epoch_ms(body.get("completed")),
            raw=body,
        )


@dataclass(frozen=True)
class SessionLog:
    """A page of a session's log: ``lines`` starting at line ``offset`` of ``total``."""

    session_id: str
    offset: int
    total: int
    lines: list[str]


@dataclass(frozen=True)
class SessionSpec:
    """What to ask for when creating a session (Livy's CreateSession body, in our terms).

    ``conf`` is Spark configuration; ``py_files`` are URIs the Livy server can read;
    ``proxy_user`` is Livy's ``proxyUser`` (impersonation), None to leave it unset.
    """

    name: str
    kind: str = "pyspark"
    conf: dict[str, Any] = field(default_factory=dict)
    py_files: list[str] = field(default_factory=list)
    proxy_user: str | None = None




# ------------------------------------------------------------------------------------ batches
#: Batch states of Apache Livy (``SessionState`` of a batch: ``starting``, ``running``,
#: ``success``, ``dead``, ``killed``; ``not_started`` and ``recovering`` too), read into
#: :class:`SessionState`. Fabric's ``fabricBatchStateInfo`` phases come before them.
_BATCH_PHASE_STATES = {"error": "dead", "cancelled": "killed", "expired": "dead"}


@dataclass(frozen=True)
class BatchSpec:
    """What to send as ``POST /batches`` (Livy's batch request, in our terms).

    ``file`` is the main file (a ``.py``, or a ``.jar`` with ``class_name``); ``py_files``,
    ``files``, ``jars`` and ``archives`` are URIs or paths the Livy server (or Fabric) can
    read; ``args`` are passed to the main file exactly as given; ``conf`` is Spark
    configuration. Memory sizes are Spark's (``512m``, ``2g``); cores and
    ``num_executors`` are counts; None leaves Livy's default.
    """

    name: str
    file: str
    class_name: str | None = None
    args: list[str] = field(default_factory=list)
    py_files: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    jars: list[str] = field(default_factory=list)
    archives: list[str] = field(default_factory=list)
    conf: dict[str, str] = field(default_factory=dict)
    driver_memory: str | None = None
    driver_cores: int | None = None
    executor_memory: str | None = None
    executor_cores: int | None = None
    num_executors: int | None = None


@dataclass(frozen=True)
class LivyBatch:
    """One batch as Livy describes it (``GET /batches/{id}``), or Fabric's ``BatchResponse``.

    ``id`` is a string (Apache: an integer, Fabric: a GUID). ``log`` is the short log Livy
    sends with the batch (Apache: the last lines of spark-submit's output; Fabric: ``log[]``).
    ``phase``/``phase_error`` are Fabric's ``fabricBatchStateInfo`` (``queued``,
    ``libraryPackaging``, ``submitting``, ``cancelling``, ``cancelled``, ``error`` with its
    ``errorMessage``); ``errors`` are Fabric's ``errorInfo`` messages.
    """

    id: str
    state: SessionState
    name: str | None = None
    app_id: str | None = None
    app_info: dict[str, Any] = field(default_factory=dict)
    log: list[str] = field(default_factory=list)
    phase: str | None = None
    phase_error: str | None = None
    errors: list[str] = field(default_factory=list)
    raw: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def spark_ui_url(self) -> str | None:
        return self.app_info.get("sparkUiUrl") or None

    @property
    def driver_log_url(self) -> str | None:
        return self.app_info.get("driverLogUrl") or None

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> LivyBatch:
        """Read Apache Livy's batch object or Fabric's ``BatchResponse``. Without a ``state``
        (Fabric while it acquires compute) the batch counts as ``starting``; a phase of
        ``error``/``expired`` makes it ``dead``, ``cancelled`` makes it ``killed``."""
        info = _object(body.get("fabricBatchStateInfo"), "fabricBatchStateInfo")
        phase = _text(info.get("state"))
        state = body.get("state") or body.get("livyState")  # livyState: Fabric's list items
        if phase in _BATCH_PHASE_STATES:
            state = _BATCH_PHASE_STATES[phase]
        elif not state:
            state = "starting" if phase else "not_started"
        errors = []
        for item in _list(body.get("errorInfo"), "errorInfo"):
            if isinstance(item, dict) and item.get("message"):
                code = f"{item['errorCode']}: " if item.get("errorCode") else ""
                errors.append(f"{code}{item['message']}")
        return cls(
            id=str(body["id"]),
            state=SessionState(str(state)),
            name=_text(body.get("name")),
            app_id=_text(body.get("appId")),
            app_info={k: v for k, v in _object(body.get("appInfo"), "appInfo").items() if isinstance(v, str) and v},
            log=[str(line) for line in _list(body.get("log"), "batch log")],
            phase=phase,
            phase_error=_text(info.get("errorMessage")),
            errors=errors,
            raw=body,
        )


@dataclass(frozen=True)
class BatchLog:
    """A page of a batch's log (``GET /batches/{id}/log``): ``lines`` from line ``offset``
    of ``total`` lines Livy holds."""

    batch_id: str
    offset: int
    total: int
    lines: list[str]
