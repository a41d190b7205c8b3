"""What differs between Livy servers: base URL, auth header, paging, request bodies, errors.

:class:`LivyClient <livy.client.LivyClient>` asks its backend for each of these, so adding a
server (Fabric's Livy API) means adding a backend class, not branches in the client.
"""

from __future__ import annotations

from typing import Any

from livy.client import SessionSpec


class LivyBackend:
    """Apache Livy's conventions; subclasses override what their server does differently.

    ``base_url`` is the REST root without a trailing slash, e.g. ``http://127.0.0.1:8998``.
    """

    #: Value stored in ``SparkSession.backend``.
    name = "apache"
    #: Statuses that mean "slow down" (read with ``Retry-After``).
    throttle_statuses: tuple[int, ...] = (429,)

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")

    @property
    def display_url(self) -> str:
        """The endpoint as shown in messages to users."""
        return self.base_url

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` (relative, e.g. ``sessions/3/statements``)."""
        return f"{self.base_url}/{path.lstrip('/')}"

    def auth_headers(self) -> dict[str, str]:
        """Headers for every request. Apache Livy: ``X-Requested-By``, which Livy requires on
        POST/DELETE when ``livy.server.csrf-protection.enabled`` is on and ignores otherwise."""
        return {"X-Requested-By": "livy-web"}

    def page_params(self, offset: int, size: int) -> dict[str, int]:
        """Query parameters of a page of ``GET /sessions`` (Apache: ``from`` and ``size``)."""
        return {"from": offset, "size": size}

    def session_items(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        """The session objects in a ``GET /sessions`` answer (Apache: ``sessions``)."""
        return list(body.get("sessions") or [])

    def session_body(self, spec: SessionSpec) -> dict[str, Any]:
        """The ``POST /sessions`` body (Apache Livy CreateSession: ``name``, ``kind``, ``conf``,
        ``pyFiles``, ``proxyUser``); empty values are left out so Livy's defaults apply."""
        body: dict[str, Any] = {"name": spec.name, "kind": spec.kind}
        if spec.conf:
            body["conf"] = dict(spec.conf)
        if spec.py_files:
            body["pyFiles"] = list(spec.py_files)
        if spec.proxy_user:
            body["proxyUser"] = spec.proxy_user
        return body

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


class ApacheLivyBackend(LivyBackend):
    """A self-hosted Apache Livy server (0.7 or later)."""


def build_backend(config: Any) -> LivyBackend:
    """The backend for ``config.LIVY_BACKEND`` at ``config.LIVY_BASE_ENDPOINT``.

    Raises ``ValueError`` for a backend this version cannot serve (the system checks report
    it before any request gets here).
    """
    if config.LIVY_BACKEND == "apache":
        return ApacheLivyBackend(config.LIVY_BASE_ENDPOINT)
    raise ValueError(f"LIVY_BACKEND={config.LIVY_BACKEND!r} is not supported by this version")
