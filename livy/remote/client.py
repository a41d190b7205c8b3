"""HTTP client for the Livy REST API of interactive sessions. Knows HTTP, nothing of Django.

Follows Apache Livy's REST API (docs/rest-api.md of apache/incubator-livy, 0.8/0.9):

==============================================  =========================================
call                                            method
==============================================  =========================================
``GET /sessions?from=&size=``                   :meth:`LivyClient.list_sessions`
``POST /sessions``                              :meth:`LivyClient.create_session`
``GET /sessions/{id}``                          :meth:`LivyClient.get_session`
``GET /sessions/{id}/log?from=&size=``          :meth:`LivyClient.get_session_log`
``DELETE /sessions/{id}``                       :meth:`LivyClient.delete_session`
``POST /sessions/{id}/statements``              :meth:`LivyClient.submit_statement`
``GET /sessions/{id}/statements``               :meth:`LivyClient.list_statements`
``GET /sessions/{id}/statements/{sid}``         :meth:`LivyClient.get_statement`
``POST /sessions/{id}/statements/{sid}/cancel`` :meth:`LivyClient.cancel_statement`
``POST /sessions/{id}/completion``              :meth:`LivyClient.complete`
``GET /version``                                :meth:`LivyClient.get_version`
``GET /batches?from=&size=``                    :meth:`LivyClient.list_batches`
``POST /batches``                               :meth:`LivyClient.create_batch`
``GET /batches/{id}``                           :meth:`LivyClient.get_batch`
``GET /batches/{id}/log?from=&size=``           :meth:`LivyClient.get_batch_log`
``DELETE /batches/{id}``                        :meth:`LivyClient.delete_batch`
==============================================  =========================================

What differs between Apache Livy and Fabric's Livy API (URLs, auth header, id type, request
bodies) belongs to a :class:`livy.remote.backends.LivyBackend`, never to branches here. With
Fabric's high-concurrency sessions (:class:`~livy.remote.backends.FabricHighConcurrencyBackend`)
the session calls go to ``/highConcurrencySessions[/{id}]`` and the statement calls to
``/highConcurrencySessions/{sessionId}/repls/{replId}/statements[/{sid}[/cancel]]``, the
session id being a :class:`~livy.remote.types.ReplHandle` as text.

Retries: idempotent GETs are retried by urllib3's :class:`~urllib3.util.Retry` on connection
errors and on 429/502/503/504, with exponential backoff that honours ``Retry-After`` (up to
:data:`RETRY_AFTER_CAP` seconds, past which the 429 reaches the caller as
:class:`LivyThrottled`); a read timeout is not retried. POSTs and DELETEs are retried only
when the connection could not be made at all (the request never reached Livy); when one may
have reached Livy without an answer, :class:`LivyOutcomeUnknown` says so, and nothing is
ever created twice.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    InvalidHeader,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util import Retry

from livy.remote.backends import RETRY_STATUSES, LivyBackend
from livy.remote.errors import (
    LivyAuthError,
    LivyError,
    LivyHTTPError,
    LivyNotFound,
    LivyOutcomeUnknown,
    LivyProtocolError,
    LivySignInRequired,
    LivyThrottled,
    LivyUnavailable,
)
from livy.remote.types import BatchLog, BatchSpec, LivyBatch, LivySession, LivyStatement, SessionLog, SessionSpec

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Longest ``Retry-After`` (seconds) the client waits out by itself inside one call.
RETRY_AFTER_CAP = 5.0
#: Retries of a GET (connection errors and retryable statuses together).
GET_RETRIES = 3
#: Backoff factor of urllib3's Retry: sleeps of 0 s, 1 s, 2 s between attempts (urllib3 2.x
#: does not sleep before the first retry).
BACKOFF_FACTOR = 0.5


# ---------------------------------------------------------------------------------- client
class _CappedRetry(Retry):
    """urllib3 Retry that gives up (returning the response) when Retry-After is longer than
    :data:`RETRY_AFTER_CAP`, so a web request never sleeps for minutes on a throttled call,
    and that does not retry read timeouts."""

    def increment(  # type: ignore[override]
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> Retry:
        if isinstance(error, ReadTimeoutError):
            # Livy took the request and stayed silent for a whole timeout: say so now rather
            # than after four timeouts. (Dropped connections are still retried.)
            raise error
        if response is not None:
            wait = self.get_retry_after(response)
            if wait is not None and wait > RETRY_AFTER_CAP:
                raise MaxRetryError(_pool, url or "", reason=None)
        return super().increment(method, url, response, error, _pool, _stacktrace)


def _retry_after_seconds(value: str | None) -> float | None:
    """Seconds a ``Retry-After`` header asks for (delta-seconds or an HTTP date, RFC 9110
    §10.2.3), parsed by urllib3's :meth:`Retry.parse_retry_after` (the rule its retries
    follow): 0 for a date in the past, None when the header is absent or unreadable."""
    if not value or not value.strip():
        return None
    try:
        return float(Retry(total=0).parse_retry_after(value))
    except InvalidHeader:
        return None


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


def _parsed(parse: Callable[[dict[str, Any]], T], body: Any) -> T:
    """``parse(body)``, with any shape error (a missing key, a wrong type) raised as
    :class:`LivyProtocolError`: a malformed answer is Livy's fault, never a crash of ours."""
    if not isinstance(body, dict):
        raise LivyProtocolError(f"Livy answered with a {type(body).__name__} where an object was expected.")
    try:
        return parse(body)
    except LivyProtocolError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError) as exc:
        raise LivyProtocolError(f"Livy's answer does not have the expected shape ({exc!r}).") from None


def _list_of(value: Any) -> list[Any]:
    """``value`` if it is a JSON array, [] when absent; a :class:`LivyProtocolError` otherwise."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise LivyProtocolError("Livy's log is not a JSON array.")
    return value


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
        """``GET /sessions``: up to ``size`` sessions starting at ``offset``; [] without a call
        on a backend whose sessions cannot be listed (Fabric high-concurrency: no such operation)."""
        if not self.backend.supports_session_list:
            return []
        body = self._request("GET", "sessions", params=self.backend.page_params(offset, size))
        items = _parsed(self.backend.session_items, body)
        if not isinstance(items, list):
            raise LivyProtocolError("Livy's list of sessions is not a JSON array.")
        return [_parsed(LivySession.from_json, item) for item in items]

    def create_session(self, spec: SessionSpec) -> LivySession:
        """``POST /sessions``; Livy answers 201 (Apache) or 202 (Fabric) at once, with the
        session in ``not_started``/``starting``. Never retried once the request was sent."""
        body = self._request("POST", self.backend.sessions_path(), json=self.backend.session_body(spec))
        return _parsed(self.backend.session_from_json, body)

    def get_session(self, session_id: str) -> LivySession:
        """``GET /sessions/{id}``. Raises :class:`LivyNotFound` for an unknown id."""
        return _parsed(self.backend.session_from_json, self._request("GET", self.backend.session_path(session_id)))

    def get_session_log(self, session_id: str, offset: int = 0, size: int = 100) -> SessionLog:
        """``GET /sessions/{id}/log``: ``size`` lines from line ``offset`` (Livy's ``from``)."""
        body = self._request("GET", f"sessions/{session_id}/log", params={"from": offset, "size": size})
        return _parsed(
            lambda b: SessionLog(
                session_id=str(b.get("id", session_id)),
                offset=int(b.get("from", offset)),
                total=int(b.get("total", 0)),
                lines=[str(line) for line in b.get("log") or []],
            ),
            body,
        )

    def delete_session(self, session_id: str) -> None:
        """``DELETE /sessions/{id}``: kill the session and its Spark application."""
        self._request("DELETE", self.backend.session_path(session_id))

    def reset_session_timeout(self, session_id: str) -> None:
        """``POST /sessions/{id}/reset-timeout`` (Fabric: answers 204): restart the idle timer
        after which the service ends the session (20 minutes on Fabric)."""
        self._request("POST", f"sessions/{session_id}/reset-timeout")

    # -- statements -------------------------------------------------------------------
    def submit_statement(self, session_id: str, code: str, kind: str | None = None) -> LivyStatement:
        """``POST /sessions/{id}/statements`` with ``code`` (and ``kind`` when given)."""
        body = self._request(
            "POST", self.backend.statements_path(session_id), json=self.backend.statement_body(code, kind)
        )
        return _parsed(LivyStatement.from_json, body)

    def list_statements(self, session_id: str) -> list[LivyStatement]:
        """``GET /sessions/{id}/statements``: every statement of the session."""
        body = self._request("GET", self.backend.statements_path(session_id))
        items = body.get("statements") or []
        if not isinstance(items, list):
            raise LivyProtocolError("Livy's list of statements is not a JSON array.")
        return [_parsed(LivyStatement.from_json, item) for item in items]

    def get_statement(self, session_id: str, statement_id: int) -> LivyStatement:
        """``GET /sessions/{id}/statements/{sid}``."""
        path = f"{self.backend.statements_path(session_id)}/{statement_id}"
        return _parsed(LivyStatement.from_json, self._request("GET", path))

    def cancel_statement(self, session_id: str, statement_id: int) -> None:
        """``POST /sessions/{id}/statements/{sid}/cancel``: Livy answers ``{"msg": "canceled"}``
        and the statement moves to ``cancelling`` then ``cancelled``."""
        self._request("POST", f"{self.backend.statements_path(session_id)}/{statement_id}/cancel")

    def complete(self, session_id: str, code: str, kind: str, cursor: int) -> list[str]:
        """``POST /sessions/{id}/completion`` with ``code``, ``kind`` and ``cursor`` (a
        character offset into ``code``): Livy's REPL answers ``{"candidates": [...]}``, the
        completions of the word before the cursor (Apache Livy 0.5+; Fabric has no such
        endpoint, see ``backend.supports_completion``). Raises :class:`LivyProtocolError`
        when the answer has no list of strings."""
        body = self._request(
            "POST", f"sessions/{session_id}/completion", json={"code": code, "kind": kind, "cursor": cursor}
        )
        candidates = body.get("candidates")
        if not isinstance(candidates, list):
            raise LivyProtocolError("Livy answered the completion request without a list of candidates.")
        return [str(c) for c in candidates]

    def get_version(self) -> str:
        """``GET /version`` (Apache Livy): the server's version, e.g. ``0.9.0-incubating``."""
        version = self._request("GET", "version").get("version")
        if not isinstance(version, str):
            raise LivyProtocolError("Livy answered GET /version without a version.")
        return version

    # -- batches ----------------------------------------------------------------------
    def list_batches(self, offset: int = 0, size: int = 100) -> list[LivyBatch]:
        """``GET /batches`` (Fabric: ``$top``/``$skip``, ``items``): up to ``size`` batches
        from ``offset``."""
        body = self._request("GET", "batches", params=self.backend.page_params(offset, size))
        items = _parsed(self.backend.batch_items, body)
        if not isinstance(items, list):
            raise LivyProtocolError("Livy's list of batches is not a JSON array.")
        return [_parsed(LivyBatch.from_json, item) for item in items]

    def create_batch(self, spec: BatchSpec) -> LivyBatch:
        """``POST /batches`` with :meth:`LivyBackend.batch_body`; Apache Livy answers 201 with
        the batch ``starting``, Fabric 202 with its acquisition phase. Never retried once
        sent (:class:`LivyOutcomeUnknown` when no answer came)."""
        body = self._request("POST", "batches", json=self.backend.batch_body(spec))
        return _parsed(LivyBatch.from_json, body)

    def get_batch(self, batch_id: str) -> LivyBatch:
        """``GET /batches/{id}``. Raises :class:`LivyNotFound` for an unknown id (Apache Livy
        forgets finished batches after ``livy.server.session.state-retain.sec``)."""
        return _parsed(LivyBatch.from_json, self._request("GET", f"batches/{batch_id}"))

    def get_batch_log(self, batch_id: str, offset: int | None = 0, size: int = 100) -> BatchLog:
        """``GET /batches/{id}/log`` (Apache Livy only): ``size`` lines from line ``offset``
        (Livy's ``from``); ``offset`` None gives the last ``size`` lines, ``size`` -1 every
        line Livy holds (it keeps the last ``livy.cache-log.size`` lines of spark-submit)."""
        params: dict[str, int] = {"size": size}
        if offset is not None:
            params["from"] = offset
        body = self._request("GET", f"batches/{batch_id}/log", params=params)
        return _parsed(
            lambda b: BatchLog(
                batch_id=str(b.get("id", batch_id)),
                offset=int(b.get("from", offset or 0)),
                total=int(b.get("total", 0)),
                lines=[str(line) for line in _list_of(b.get("log"))],
            ),
            body,
        )

    def delete_batch(self, batch_id: str) -> None:
        """``DELETE /batches/{id}``: kill the batch's Spark application (Apache Livy then
        forgets the batch; Fabric cancels it)."""
        self._request("DELETE", f"batches/{batch_id}")

    # -- plumbing ---------------------------------------------------------------------
    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        response = self._send(method, path, **kwargs)
        if response.status_code == 401 and self.backend.user_tokens and self.backend.token_rejected():
            # A token the cache still holds was refused (revoked, or a claims challenge):
            # it was dropped; one more try with a freshly redeemed one. The request was not
            # processed, so even a POST may be sent again.
            response = self._send(method, path, **kwargs)
        # Not response.url: it would carry user info (user:password@) of the endpoint.
        log.debug("%s %s/%s -> %s", method, self.backend.display_url, path.lstrip("/"), response.status_code)
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
