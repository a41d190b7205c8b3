"""What differs between Livy servers: base URL, auth header, paging, request bodies, errors.

:class:`LivyClient <livy.remote.client.LivyClient>` asks its backend for each of these, so adding a
server (Fabric's Livy API) means adding a backend class, not branches in the client.
"""

from __future__ import annotations

import json
from typing import Any, Protocol
from urllib.parse import urlsplit

from livy.remote.types import BatchSpec, LivySession, ReplHandle, SessionSpec, hc_session_from_json

#: Status codes after which a GET is tried again (Livy behind a gateway, Fabric throttling).
RETRY_STATUSES = (429, 502, 503, 504)


class TokenProvider(Protocol):
    """Gives bearer tokens for Fabric (see :mod:`livy.remote.tokens`).

    ``user_tokens`` is True when the tokens are the signed-in user's own (a refusal means
    "sign in again"); ``access_token()`` returns the token or raises a
    :class:`~livy.remote.errors.LivyError`; ``token_rejected()`` is told that the server
    refused the last token (HTTP 401) and returns True when a fresh one may be tried once.
    """

    user_tokens: bool

    def access_token(self) -> str: ...

    def token_rejected(self) -> bool: ...


def display_endpoint(base_url: str) -> str:
    """``base_url`` as users may see it: scheme, host and port only. User info
    (``user:password@``), path, query and fragment are left out, so an endpoint credential
    never reaches a page or a log line. Never raises: an unreadable port is left out (the
    configuration check reports it), an unparsable URL is shown as a placeholder."""
    try:
        parts = urlsplit(base_url)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        return "(invalid URL)"
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:  # not a number, or out of range
        port = ""
    return f"{parts.scheme}://{host}{port}" if parts.scheme else host


class LivyBackend:
    """What every Livy REST server shares, and what each backend must decide.

    The shared part is the REST shape of interactive sessions (``sessions/{id}/statements``,
    statement bodies, ``{"msg": ...}`` errors, 429 with ``Retry-After``). Everything that
    differs between servers (the ``name``, auth headers, paging, the session body, the optional
    endpoints) is declared by each subclass: :class:`ApacheLivyBackend` and
    :class:`FabricLivyBackend`. The capability flags here are the conservative ones (an
    optional endpoint is not assumed), so a new backend turns on only what its server has.

    ``base_url`` is the REST root without a trailing slash, e.g. ``http://127.0.0.1:8998``.
    """

    #: Value of ``LIVY_BACKEND`` and of ``SparkSession.backend``.
    name: str = ""
    #: Statuses that mean "slow down" (read with ``Retry-After``).
    throttle_statuses: tuple[int, ...] = (429,)
    #: Statuses after which a GET is retried (see :mod:`livy.remote.client`).
    retry_statuses: tuple[int, ...] = RETRY_STATUSES
    #: True when requests carry the signed-in user's own token (a 401 means: sign in again).
    user_tokens = False
    #: True when the server has ``POST /sessions/{id}/reset-timeout``.
    supports_reset_timeout = False
    #: A 404 or 5xx for a session just created means "not visible yet", not "gone".
    early_errors_expected = False
    #: The server has ``POST /sessions/{id}/completion``.
    supports_completion = False
    #: The server has ``GET /version``.
    supports_version = False
    #: The server has ``GET /sessions/{id}/log``.
    supports_log = False
    #: A statement read of a session that ended fails: Apache Livy answers 400 "Session isn't
    #: active" (``InteractiveSession.getStatement`` requires an active session) and 404 once it
    #: is deleted, so reading a running statement also tells whether its session died.
    statement_read_tells_session_end = False
    #: Statement kinds the server runs in one session (Livy 0.5+: any kind in any session;
    #: Fabric's ``StatementRequest.kind`` is a free string, its docs list the same three).
    statement_kinds: tuple[str, ...] = ("pyspark", "sql", "spark")
    #: ``FABRIC_SESSION_MODE``: ``standard`` (a Livy session per user) or ``high_concurrency``
    #: (a REPL in a shared Livy session, :class:`FabricHighConcurrencyBackend`).
    session_mode = "standard"
    #: The server lists sessions (``GET /sessions``), so a create without an answer can be
    #: looked up by name and adopted.
    supports_session_list = True

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")

    @property
    def display_url(self) -> str:
        """The endpoint as shown in messages to users: scheme, host and port, no credentials
        (see :func:`display_endpoint`)."""
        return display_endpoint(self.base_url)

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (relative, e.g. ``sessions/3/statements``)."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def auth_headers(self) -> dict[str, str]:
        """Headers for every request (none by default)."""
        return {}

    def token_rejected(self) -> bool:
        """The server refused our token (401). Return True if a fresh one may be tried."""
        return False

    def page_params(self, offset: int, size: int) -> dict[str, int]:
        """Query parameters of a page of ``GET /sessions`` (each backend says)."""
        raise NotImplementedError

    # Where a session lives, by the ``id`` Livy gave it (the row's ``livy_id``).
    def sessions_path(self) -> str:
        """The collection a session is created in: ``sessions``."""
        return "sessions"

    def session_path(self, session_id: str) -> str:
        """``sessions/{id}``: read and delete."""
        return f"sessions/{session_id}"

    def statements_path(self, session_id: str) -> str:
        """``sessions/{id}/statements``: submit, list, and (``/{sid}``, ``/{sid}/cancel``) read and cancel."""
        return f"sessions/{session_id}/statements"

    def session_from_json(self, body: dict[str, Any]) -> LivySession:
        """A session answer read into :class:`LivySession`."""
        return LivySession.from_json(body)

    def session_items(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The session objects in a ``GET /sessions`` answer (each backend says)."""
        raise NotImplementedError

    def session_body(self, spec: SessionSpec) -> dict[str, Any]:
        """The ``POST /sessions`` body for ``spec`` (each backend says)."""
        raise NotImplementedError

    def statement_body(self, code: str, kind: str | None) -> dict[str, Any]:
        """The ``POST /sessions/{id}/statements`` body: ``code`` and, when given, ``kind``."""
        body: dict[str, Any] = {"code": code}
        if kind:
            body["kind"] = kind
        return body

    def error_detail(self, body: Any) -> tuple[str, str | None]:
        """A readable message and a request id (None here) from an error body.

        Apache Livy writes ``{"msg": "..."}``; a proxy in front of it may send text or HTML.
        """
        if isinstance(body, dict):
            return str(body.get("msg") or body.get("message") or body)[:500], None
        return str(body or "").strip()[:500], None


    def batch_body(self, spec: BatchSpec) -> dict[str, Any]:
        """The ``POST /batches`` body (Apache Livy's batch request: ``file``, ``className``,
        ``args``, ``pyFiles``, ``files``, ``jars``, ``archives``, ``conf``, ``name`` and the
        driver/executor sizes); empty values are left out so Livy's defaults apply. This is
        the exact request the Jobs page shows."""
        body: dict[str, Any] = {"name": spec.name, "file": spec.file}
        optional: dict[str, Any] = {
            "className": spec.class_name,
            "args": list(spec.args),
            "pyFiles": list(spec.py_files),
            "files": list(spec.files),
            "jars": list(spec.jars),
            "archives": list(spec.archives),
            "conf": dict(spec.conf),
            "driverMemory": spec.driver_memory,
            "driverCores": spec.driver_cores,
            "executorMemory": spec.executor_memory,
            "executorCores": spec.executor_cores,
            "numExecutors": spec.num_executors,
        }
        body.update({key: value for key, value in optional.items() if value not in (None, "", [], {})})
        return body

    def batch_items(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The batch objects in a ``GET /batches`` answer (Apache: ``sessions``)."""
        return list(body.get("sessions") or [])


class ApacheLivyBackend(LivyBackend):
    """A self-hosted Apache Livy server (0.7 or later), as its REST API describes it
    (docs/rest-api.md of apache/incubator-livy, 0.8/0.9). No token: Livy's own
    authentication (Kerberos, a proxy) is outside this app; the server has the optional
    endpoints ``/completion`` (0.5+), ``/version`` and ``/sessions/{id}/log``, and no
    ``reset-timeout`` (``livy.server.session.timeout`` counts from the last statement)."""

    name = "apache"
    supports_completion = True
    supports_version = True
    supports_log = True
    statement_read_tells_session_end = True

    def auth_headers(self) -> dict[str, str]:
        """``X-Requested-By``, which Livy requires on POST/DELETE when
        ``livy.server.csrf-protection.enabled`` is on and ignores otherwise."""
        return {"X-Requested-By": "livy-web"}

    def page_params(self, offset: int, size: int) -> dict[str, int]:
        """``from`` and ``size``."""
        return {"from": offset, "size": size}

    def session_items(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The ``sessions`` array."""
        return list(body.get("sessions") or [])

    def session_body(self, spec: SessionSpec) -> dict[str, Any]:
        """Apache Livy's CreateSession: ``name``, ``kind``, ``conf``, ``pyFiles``,
        ``proxyUser``; empty values are left out so Livy's defaults apply."""
        body: dict[str, Any] = {"name": spec.name, "kind": spec.kind}
        if spec.conf:
            body["conf"] = dict(spec.conf)
        if spec.py_files:
            body["pyFiles"] = list(spec.py_files)
        if spec.proxy_user:
            body["proxyUser"] = spec.proxy_user
        return body


class FabricLivyBackend(LivyBackend):
    """Microsoft Fabric's Livy API for a lakehouse
    (``https://api.fabric.microsoft.com/v1/workspaces/<ws>/lakehouses/<lh>/livyapi/versions/2023-12-01``),
    as described by the official swagger (a copy is ``tests/contract/fabric-livy-swagger.json``).

    Differences from Apache Livy, all from that description and Fabric's Livy API docs:
    an Entra ID bearer token on every request (from ``token_provider``); session ids are
    GUID strings; ``POST /sessions`` answers 202; ``SessionRequest`` has no ``kind`` (the
    statement carries it) and no ``pyFiles``; ``conf`` values are strings; ``GET /sessions``
    pages with ``$top``/``$skip`` and lists ``items``; errors are
    ``{errorCode, message, requestId, moreDetails}``; 430 (capacity busy) is throttling like 429;
    ``POST /sessions/{id}/reset-timeout`` restarts the 20-minute idle timer.
    """

    name = "fabric"
    throttle_statuses = (429, 430)
    retry_statuses = RETRY_STATUSES + (430,)
    supports_reset_timeout = True
    early_errors_expected = True
    supports_completion = False
    #: Not described by Fabric's swagger: the session is read beside running statements.
    statement_read_tells_session_end = False
    supports_version = False
    supports_log = False

    def __init__(self, base_url: str, token_provider: TokenProvider, *, user_tokens: bool = True):
        super().__init__(base_url)
        self.token_provider = token_provider
        self.user_tokens = user_tokens

    def auth_headers(self) -> dict[str, str]:
        """``Authorization: Bearer <token>``; raises :class:`livy.remote.errors.LivySignInRequired`
        when the provider cannot get a token without the user."""
        return {"Authorization": f"Bearer {self.token_provider.access_token()}"}

    def token_rejected(self) -> bool:
        """Have the provider drop the refused token and redeem a fresh one next time (once)."""
        return self.token_provider.token_rejected()

    def page_params(self, offset: int, size: int) -> dict[str, int]:
        return {"$top": size, "$skip": offset}

    def session_items(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        return list(body.get("items") or body.get("sessions") or [])

    def session_body(self, spec: SessionSpec) -> dict[str, Any]:
        """``SessionRequest``: ``name`` and ``conf`` (values as strings: non-strings are
        JSON-encoded, e.g. ``spark.fabric.environmentDetails``). No sizes are sent unless the
        user put them in ``conf``, so the session stays on the workspace's starter pool.
        ``py_files`` become ``spark.submit.pyFiles`` (Spark's own key for ``--py-files``), as
        the API has no ``pyFiles`` field; a user-set ``spark.submit.pyFiles`` wins."""
        conf = {key: value if isinstance(value, str) else json.dumps(value) for key, value in spec.conf.items()}
        if spec.py_files:
            conf.setdefault("spark.submit.pyFiles", ",".join(spec.py_files))
        body: dict[str, Any] = {"name": spec.name}
        if conf:
            body["conf"] = conf
        return body

    def batch_body(self, spec: BatchSpec) -> dict[str, Any]:
        """Fabric's ``BatchRequest`` (the same fields as Apache Livy's, ``pyFiles`` included),
        ``conf`` values as strings."""
        body = super().batch_body(spec)
        if "conf" in body:
            body["conf"] = {k: v if isinstance(v, str) else json.dumps(v) for k, v in body["conf"].items()}
        return body

    def batch_items(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """``LivySparkActivityList.items``."""
        return list(body.get("items") or [])

    def error_detail(self, body: Any) -> tuple[str, str | None]:
        """``errorCode: message`` (plus ``moreDetails``) and ``requestId``, which users quote
        to Microsoft support."""
        if isinstance(body, dict) and ("errorCode" in body or "message" in body):
            parts = [f"{body.get('errorCode', 'Error')}: {body.get('message', '')}".strip()]
            for more in body.get("moreDetails") or []:
                if isinstance(more, dict):
                    parts.append(f"{more.get('errorCode', '')}: {more.get('message', '')}".strip(": "))
            return "; ".join(p for p in parts if p)[:800], body.get("requestId")
        return super().error_detail(body)


class FabricHighConcurrencyBackend(FabricLivyBackend):
    """Fabric's high-concurrency sessions (``FABRIC_SESSION_MODE=high_concurrency``): each
    "session" of the app is one REPL acquired with ``POST /highConcurrencySessions``, packed
    by Fabric into a shared Livy session (Microsoft documents up to 5 REPLs per Livy session,
    variables isolated between REPLs; "High concurrency mode in Apache Spark for Fabric" and
    the Livy API's high-concurrency sessions, as the swagger describes them).

    The session id the lifecycle holds is a :class:`~livy.remote.types.ReplHandle` as text:
    get and delete go to ``highConcurrencySessions/{id}`` (the high-concurrency id),
    statements to ``highConcurrencySessions/{sessionId}/repls/{replId}/statements`` (the
    underlying Livy session id and the REPL id). The swagger has no list of high-concurrency
    sessions and no ``reset-timeout`` for them, so neither is used: an acquire that got no
    answer cannot be adopted (it is never repeated automatically) and the idle timer is
    Fabric's own. Deleting our REPL never deletes the shared Livy session (Fabric ends the
    Spark application when its last REPL goes, as Microsoft's dbt adapter observed).

    ``session_tag``: ``sessionTag``, Fabric's packing hint (REPLs with one tag are packed
    together where possible; acquires are not idempotent and rapid ones may land in several
    Livy sessions)."""

    session_mode = "high_concurrency"
    supports_reset_timeout = False
    supports_session_list = False

    def __init__(self, base_url: str, token_provider: TokenProvider, *, user_tokens: bool = True,
                 session_tag: str = ""):
        super().__init__(base_url, token_provider, user_tokens=user_tokens)
        self.session_tag = session_tag

    def sessions_path(self) -> str:
        """``highConcurrencySessions``: each POST acquires one REPL."""
        return "highConcurrencySessions"

    def session_path(self, session_id: str) -> str:
        """``highConcurrencySessions/{high-concurrency id}``."""
        return f"highConcurrencySessions/{ReplHandle.parse(session_id).hc_id}"

    def statements_path(self, session_id: str) -> str:
        """``highConcurrencySessions/{sessionId}/repls/{replId}/statements``; raises
        :class:`~livy.remote.errors.LivyProtocolError` before the REPL is ``Idle`` (no pair yet)."""
        handle = ReplHandle.parse(session_id)
        if not handle.complete:
            from livy.remote.errors import LivyProtocolError

            raise LivyProtocolError("The REPL is not ready yet: Fabric has not told its session and REPL ids.")
        return f"highConcurrencySessions/{handle.session_id}/repls/{handle.repl_id}/statements"

    def session_from_json(self, body: dict[str, Any]) -> LivySession:
        """``HighConcurrencySessionResponse`` (see :func:`~livy.remote.types.hc_session_from_json`)."""
        return hc_session_from_json(body)

    def session_body(self, spec: SessionSpec) -> dict[str, Any]:
        """``HighConcurrencySessionRequest``: the ``SessionRequest`` fields plus ``sessionTag``."""
        body = super().session_body(spec)
        if self.session_tag:
            body["sessionTag"] = self.session_tag
        return body


def build_backend(name: str, base_url: str, token_provider: TokenProvider | None = None, *,
                  session_mode: str = "standard", session_tag: str = "") -> LivyBackend:
    """The backend called ``name`` (``LIVY_BACKEND``: ``apache`` or ``fabric``) at ``base_url``.

    Fabric needs ``token_provider`` (see :mod:`livy.remote.tokens`); raises ``ValueError``
    without one, or for an unknown ``name``. ``session_mode`` (``FABRIC_SESSION_MODE``)
    ``high_concurrency`` gives :class:`FabricHighConcurrencyBackend` with ``session_tag``;
    Apache Livy ignores both.
    """
    if name == ApacheLivyBackend.name:
        return ApacheLivyBackend(base_url)
    if name == FabricLivyBackend.name:
        if token_provider is None:
            raise ValueError("the Fabric backend needs a token provider")
        if session_mode == FabricHighConcurrencyBackend.session_mode:
            return FabricHighConcurrencyBackend(base_url, token_provider, user_tokens=token_provider.user_tokens,
                                                session_tag=session_tag)
        return FabricLivyBackend(base_url, token_provider, user_tokens=token_provider.user_tokens)
    raise ValueError(f"unknown LIVY_BACKEND={name!r}")


#: Backend classes by ``LIVY_BACKEND`` value, for what is known without building one.
BACKEND_CLASSES: dict[str, type[LivyBackend]] = {"apache": ApacheLivyBackend, "fabric": FabricLivyBackend}
