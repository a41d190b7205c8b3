"""HTTP client for the Livy REST API of interactive sessions. Knows HTTP, nothing of Django.

Follows Apache Livy's REST API (docs/rest-api.md of apache/incubator-livy, 0.8/0.9):

==============================================  =========================================
call                                            method
==============================================  =========================================
``GET /sessions?from=&size=``                   :meth:`LivyClient.list_sessions`
``POST /sessions``                              :meth:`LivyClient.create_session`
``GET /sessions/{id}``                          :meth:`LivyClient.get_session`
``GET /sessions/{id}/state``                    :meth:`LivyClient.get_session_state`
``GET /sessions/{id}/log?from=&size=``          :meth:`LivyClient.get_session_log`
``DELETE /sessions/{id}``                       :meth:`LivyClient.delete_session`
``POST /sessions/{id}/statements``              :meth:`LivyClient.submit_statement`
``GET /sessions/{id}/statements``               :meth:`LivyClient.list_statements`
``GET /sessions/{id}/statements/{sid}``         :meth:`LivyClient.get_statement`
``POST /sessions/{id}/statements/{sid}/cancel`` :meth:`LivyClient.cancel_statement`
==============================================  =========================================

What differs between Apache Livy and Fabric's Livy API (URLs, auth header, id type, request
bodies) belongs to a :class:`livy.backends.LivyBackend`, never to branches here.

Retries: idempotent GETs are retried by urllib3's :class:`~urllib3.util.Retry` on connection
errors and on 429/502/503/504, with exponential backoff that honours ``Retry-After`` (up to
:data:`RETRY_AFTER_CAP` seconds, past which the 429 reaches the caller as
:class:`LivyThrottled`); a read timeout is not retried. POSTs and DELETEs are retried only
when the connection could not be made at all (the request never reached Livy); when one may
have reached Livy without an answer, :class:`LivyOutcomeUnknown` says so, and nothing is
ever created twice.
"""

from __future__ import annotations

import email.utils
import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from enum import Enum
from typing import TYPE_CHECKING, Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError, ReadTimeoutError
from urllib3.util import Retry

if TYPE_CHECKING:
    from livy.backends import LivyBackend

log = logging.getLogger(__name__)

#: Longest ``Retry-After`` (seconds) the client waits out by itself inside one call.
RETRY_AFTER_CAP = 5.0
#: Retries of a GET (connection errors and retryable statuses together).
GET_RETRIES = 3
#: Backoff factor of urllib3's Retry: sleeps of 0 s, 1 s, 2 s between attempts (urllib3 2.x
#: does not sleep before the first retry).
BACKOFF_FACTOR = 0.5
#: Status codes after which a GET is tried again (Livy behind a gateway, Fabric throttling).
RETRY_STATUSES = (429, 502, 503, 504)


# ---------------------------------------------------------------------------------- states
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
        return self in _TERMINAL_SESSION_STATES

    @property
    def is_ready(self) -> bool:
        """The session accepts statements right away (idle, or busy running others)."""
        return self in (SessionState.IDLE, SessionState.BUSY, SessionState.RUNNING)


_TERMINAL_SESSION_STATES = frozenset(
    {SessionState.ERROR, SessionState.DEAD, SessionState.KILLED, SessionState.SUCCESS}
)


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
        return self in (StatementState.AVAILABLE, StatementState.ERROR, StatementState.CANCELLED)


# ---------------------------------------------------------------------------------- errors
class LivyError(Exception):
    """Base of every error the client raises. ``str(err)`` is a message fit for a user."""


class LivyUnavailable(LivyError):
    """Livy could not be reached: connection refused, DNS failure, or a timeout."""


class LivyOutcomeUnknown(LivyUnavailable):
    """A request that changes something (POST, DELETE) reached Livy, or may have, but no
    answer came back (read timeout, dropped connection): it may or may not have been
    carried out. Never resend blindly: look first (see ``livy.services``)."""


class LivyHTTPError(LivyError):
    """Livy answered with an error status.

    Attributes: ``status`` (int), ``body`` (decoded JSON or text), ``request_id`` (str or
    None: Fabric's ``requestId``, to quote to support).
    """

    def __init__(self, message: str, *, status: int, body: Any = None, request_id: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = body
        self.request_id = request_id


class LivyNotFound(LivyHTTPError):
    """404: the session or statement does not exist (any more) on the Livy server."""


class LivyThrottled(LivyHTTPError):
    """429 (or Fabric's 430): too many requests. ``retry_after`` is seconds or None."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class LivyAuthError(LivyHTTPError):
    """401/403: the credentials were refused (e.g. a Fabric token without the right scope)."""


class LivySignInRequired(LivyError):
    """No usable token for the signed-in user: they must sign in again (interactive).

    Raised by delegated token providers when MSAL cannot get a token silently, and by the
    client for a 401 from a backend whose tokens are the user's own.
    """


# ------------------------------------------------------------------------------ data types
def _epoch_ms(value: Any) -> datetime | None:
    """Livy writes statement ``started``/``completed`` as epoch milliseconds, 0 or -1 if unset."""
    if isinstance(value, (int, float)) and value > 0:
        return datetime.fromtimestamp(value / 1000, tz=timezone.utc)
    return None


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
        info = body.get("fabricSessionStateInfo") or {}
        phase = info.get("state")
        state = body.get("state")
        if not state:
            state = {"error": "error", "cancelled": "killed"}.get(phase or "", "starting" if phase else "not_started")
        return cls(
            id=str(body["id"]),
            state=SessionState(state),
            phase=phase,
            phase_error=info.get("errorMessage"),
            name=body.get("name"),
            kind=body.get("kind"),
            app_id=body.get("appId"),
            app_info={k: v for k, v in (body.get("appInfo") or {}).items() if v},
            proxy_user=body.get("proxyUser"),
            log=list(body.get("log") or []),
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
            data=dict(body.get("data") or {}),
            ename=body.get("ename"),
            evalue=body.get("evalue"),
            traceback=[str(line) for line in body.get("traceback") or []],
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
        output = body.get("output")
        return cls(
            id=int(body["id"]),
            state=StatementState(body.get("state") or "waiting"),
            code=body.get("code") or "",
            output=StatementOutput.from_json(output) if isinstance(output, dict) else None,
            progress=float(body.get("progress") or 0.0),
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


# ---------------------------------------------------------------------------------- client
class _CappedRetry(Retry):
    """urllib3 Retry that gives up (returning the response) when Retry-After is longer than
    :data:`RETRY_AFTER_CAP`, so a web request never sleeps for minutes on a throttled call,
    and that does not retry read timeouts."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):  # type: ignore[override]
        if isinstance(error, ReadTimeoutError):
            # Livy took the request and stayed silent for a whole timeout: say so now rather
            # than after four timeouts. (Dropped connections are still retried.)
            raise error
        if response is not None:
            wait = self.get_retry_after(response)
            if wait is not None and wait > RETRY_AFTER_CAP:
                raise MaxRetryError(_pool, url or "", reason=None)  # type: ignore[arg-type]
        return super().increment(method, url, response, error, _pool, _stacktrace)


def _retry_after_seconds(value: str | None) -> float | None:
    """Parse a Retry-After header: delta-seconds or an HTTP date (RFC 9110 §10.2.3)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _never_sent(exc: BaseException) -> bool:
    """True when the connection itself failed (refused, DNS, connect timeout), so the request
    cannot have reached the server; False when it may have (read timeout, reset after send)."""
    seen: set[int] = set()
    stack: list[Any] = [exc]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if isinstance(current, (NewConnectionError, ConnectTimeoutError, requests.ConnectTimeout)):
            return True
        if isinstance(current, BaseException):
            stack.extend([getattr(current, "reason", None), current.__cause__, current.__context__, *current.args])
    return False


def build_http_session(retry_statuses: tuple[int, ...] = RETRY_STATUSES) -> requests.Session:
    """A :class:`requests.Session` with the retry rules of this module mounted; GETs are
    retried on ``retry_statuses`` (the backend's: Fabric adds 430)."""
    retry = _CappedRetry(
        total=GET_RETRIES,
        connect=GET_RETRIES,
        read=GET_RETRIES,
        status=GET_RETRIES,
        backoff_factor=BACKOFF_FACTOR,
        status_forcelist=retry_statuses,
        allowed_methods=frozenset({"GET"}),
        respect_retry_after_header=True,
        raise_on_status=False,
    )
    http = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    http.mount("http://", adapter)
    http.mount("https://", adapter)
    return http


class LivyClient:
    """One method per Livy REST call; typed results; :class:`LivyError` subclasses on failure.

    ``backend`` decides URLs, headers and bodies; ``timeout`` is seconds per HTTP request
    (``LIVY_REQUESTS_TIMEOUT``). Create one per request or task: the client holds no user
    state beyond what its backend (and that backend's token provider) carries.
    """

    def __init__(self, backend: LivyBackend, *, timeout: float, http: requests.Session | None = None):
        self.backend = backend
        self.timeout = timeout
        self.http = http or build_http_session(backend.retry_statuses)

    # -- sessions ---------------------------------------------------------------------
    def list_sessions(self, offset: int = 0, size: int = 100) -> list[LivySession]:
        """``GET /sessions``: up to ``size`` sessions starting at ``offset``."""
        body = self._request("GET", "sessions", params=self.backend.page_params(offset, size))
        return [LivySession.from_json(item) for item in self.backend.session_items(body)]

    def create_session(self, spec: SessionSpec) -> LivySession:
        """``POST /sessions``; Livy answers 201 (Apache) or 202 (Fabric) at once, with the
        session in ``not_started``/``starting``. Never retried once the request was sent."""
        body = self._request("POST", "sessions", json=self.backend.session_body(spec))
        return LivySession.from_json(body)

    def get_session(self, session_id: str) -> LivySession:
        """``GET /sessions/{id}``. Raises :class:`LivyNotFound` for an unknown id."""
        return LivySession.from_json(self._request("GET", f"sessions/{session_id}"))

    def get_session_state(self, session_id: str) -> SessionState:
        """``GET /sessions/{id}/state``: the state alone (a cheaper poll)."""
        return SessionState(self._request("GET", f"sessions/{session_id}/state").get("state", ""))

    def get_session_log(self, session_id: str, offset: int = 0, size: int = 100) -> SessionLog:
        """``GET /sessions/{id}/log``: ``size`` lines from line ``offset`` (Livy's ``from``)."""
        body = self._request("GET", f"sessions/{session_id}/log", params={"from": offset, "size": size})
        return SessionLog(
            session_id=str(body.get("id", session_id)),
            offset=int(body.get("from", offset)),
            total=int(body.get("total", 0)),
            lines=list(body.get("log") or []),
        )

    def delete_session(self, session_id: str) -> None:
        """``DELETE /sessions/{id}``: kill the session and its Spark application."""
        self._request("DELETE", f"sessions/{session_id}")

    def reset_session_timeout(self, session_id: str) -> None:
        """``POST /sessions/{id}/reset-timeout`` (Fabric: answers 204): restart the idle timer
        after which the service ends the session (20 minutes on Fabric)."""
        self._request("POST", f"sessions/{session_id}/reset-timeout")

    # -- statements -------------------------------------------------------------------
    def submit_statement(self, session_id: str, code: str, kind: str | None = None) -> LivyStatement:
        """``POST /sessions/{id}/statements`` with ``code`` (and ``kind`` when given)."""
        body = self._request(
            "POST", f"sessions/{session_id}/statements", json=self.backend.statement_body(code, kind)
        )
        return LivyStatement.from_json(body)

    def list_statements(self, session_id: str) -> list[LivyStatement]:
        """``GET /sessions/{id}/statements``: every statement of the session."""
        body = self._request("GET", f"sessions/{session_id}/statements")
        return [LivyStatement.from_json(item) for item in body.get("statements") or []]

    def get_statement(self, session_id: str, statement_id: int) -> LivyStatement:
        """``GET /sessions/{id}/statements/{sid}``."""
        return LivyStatement.from_json(
            self._request("GET", f"sessions/{session_id}/statements/{statement_id}")
        )

    def cancel_statement(self, session_id: str, statement_id: int) -> None:
        """``POST /sessions/{id}/statements/{sid}/cancel``: Livy answers ``{"msg": "canceled"}``
        and the statement moves to ``cancelling`` then ``cancelled``."""
        self._request("POST", f"sessions/{session_id}/statements/{statement_id}/cancel")

    # -- plumbing ---------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._send(method, path, **kwargs)
        if response.status_code == 401 and self.backend.user_tokens and self.backend.token_rejected():
            # A token the cache still holds was refused (revoked, or a claims challenge):
            # it was dropped; one more try with a freshly redeemed one. The request was not
            # processed, so even a POST may be sent again.
            response = self._send(method, path, **kwargs)
        log.debug("%s %s -> %s", method, response.url, response.status_code)
        if response.status_code in (502, 504) and method != "GET":
            # A gateway's answer: Livy behind it may or may not have carried the request out.
            raise LivyOutcomeUnknown(
                f"Livy at {self.backend.display_url} did not confirm the request "
                f"(HTTP {response.status_code} from a gateway); it may or may not have been carried out."
            )
        if response.status_code >= 400:
            raise self._error(response)
        if not response.content:
            return {}
        try:
            body = response.json()
        except ValueError as exc:
            raise LivyHTTPError(
                f"Livy answered {method} {path} with a body that is not JSON.",
                status=response.status_code,
                body=response.text[:2000],
            ) from exc
        return body if isinstance(body, dict) else {"items": body}

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One HTTP exchange (with urllib3's retries for GETs), failures mapped to LivyError."""
        url = self.backend.url(path)
        where = self.backend.display_url
        try:
            headers = {"Accept": "application/json", **self.backend.auth_headers()}
            return self.http.request(method, url, headers=headers, timeout=self.timeout, **kwargs)
        except LivyError:
            raise
        except requests.RequestException as exc:
            if method != "GET" and not _never_sent(exc):
                raise LivyOutcomeUnknown(
                    f"Livy at {where} did not confirm the request ({type(exc).__name__}); "
                    "it may or may not have been carried out."
                ) from exc
            if isinstance(exc, requests.Timeout) and not isinstance(exc, requests.ConnectTimeout):
                raise LivyUnavailable(f"Livy at {where} did not answer within {self.timeout:g} s.") from exc
            raise LivyUnavailable(f"Livy at {where} cannot be reached.") from exc

    def _error(self, response: requests.Response) -> LivyError:
        try:
            body: Any = response.json()
        except ValueError:
            body = response.text[:2000]
        detail, request_id = self.backend.error_detail(body)
        status = response.status_code
        if request_id:
            detail = f"{detail} (request id {request_id})"
        kwargs = {"status": status, "body": body, "request_id": request_id}
        if status == 404:
            return LivyNotFound(f"Not found on Livy: {detail or response.reason}", **kwargs)
        if status in self.backend.throttle_statuses:
            retry_after = _retry_after_seconds(response.headers.get("Retry-After"))
            wait = f" Try again in {retry_after:.0f} s." if retry_after is not None else ""
            what = f"HTTP {status}: {detail}" if detail else f"HTTP {status}"
            return LivyThrottled(f"Livy is busy ({what}).{wait}", retry_after=retry_after, **kwargs)
        if status == 401 and self.backend.user_tokens:
            return LivySignInRequired(f"Your sign-in has expired ({detail or 'HTTP 401'}). Sign in again.")
        if status in (401, 403):
            return LivyAuthError(f"Livy refused the credentials (HTTP {status}): {detail}", **kwargs)
        return LivyHTTPError(f"Livy answered HTTP {status}: {detail or response.reason}", **kwargs)
