"""Who calls the API: ``Authorization: Bearer <token>``, where the token is a personal access
token (``lwt_…``, :mod:`api.tokens`) or an Entra ID access token for this API
(:mod:`api.entra`; only when ``TENANT_ID`` and ``CLIENT_ID`` are set). Browser sessions do not
authenticate the API, so it has no CSRF surface.

Failures are :class:`Unauthenticated` (401, with ``WWW-Authenticate: Bearer``) or
:class:`AuthServiceUnavailable` (503: Entra's keys cannot be read); the API turns them into
problems (:mod:`api.routes`). Tokens are never logged.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from django.core.cache import cache
from django.http import HttpRequest
from ninja.security import HttpBearer
from ninja.throttling import BaseThrottle

from api import entra, tokens
from livy.clients import current_config


@dataclass(frozen=True)
class Principal:
    """The caller: the Django ``user``, how they proved it (``scheme``: ``token`` or
    ``entra``) and ``key``, the identity the throttle counts (a token row, or an Entra object
    id), never the token itself."""

    user: Any
    scheme: str
    key: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.key}"


class Unauthenticated(Exception):
    """401. ``error`` is RFC 6750's ``invalid_token`` when a token was sent and refused
    (None: no token); ``str(exc)`` is the reason."""

    def __init__(self, detail: str, error: str | None = "invalid_token"):
        super().__init__(detail)
        self.error = error


class AuthServiceUnavailable(Exception):
    """503: the token cannot be checked now (Entra's keys unreadable); ``retry_after`` in
    seconds (0: unknown)."""

    def __init__(self, detail: str, retry_after: float = 0.0):
        super().__init__(detail)
        self.retry_after = retry_after


class BearerAuth(HttpBearer):
    """ninja's bearer scheme (``bearerAuth`` in the OpenAPI description)."""

    openapi_description = (
        "A personal access token (lwt_…, from the API tokens page or `manage.py create_api_token`) or an "
        "Entra ID access token for this API (scope api://<client id>/.default for a service principal)."
    )

    def __call__(self, request: HttpRequest) -> Principal:
        header = request.headers.get(self.header, "")
        if not header:
            raise Unauthenticated("This API needs an Authorization: Bearer token.", error=None)
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise Unauthenticated("The Authorization header must be 'Bearer <token>'.")
        return self.authenticate(request, token.strip())

    def authenticate(self, request: HttpRequest, token: str) -> Principal:
        if token.startswith(tokens.TOKEN_PREFIX):
            row = tokens.find(token)
            if row is None:
                raise Unauthenticated("The personal access token is unknown, expired or revoked.")
            return Principal(row.user, "token", str(row.pk))
        cfg = current_config()
        if not entra.looks_like_jwt(token):
            raise Unauthenticated("The token is neither a personal access token nor a JWT.")
        if not cfg.entra_enabled:
            raise Unauthenticated("Entra ID is not configured on this server: use a personal access token.")
        try:
            claims = entra.validate(token, cfg)
        except entra.TokenRejected as exc:
            raise Unauthenticated(str(exc)) from None
        except entra.EntraUnavailable as exc:
            raise AuthServiceUnavailable(str(exc), retry_after=exc.retry_after) from None
        try:
            user = entra.user_for(claims)
        except entra.TokenRejected as exc:
            raise Unauthenticated(str(exc)) from None
        if not user.is_active:
            raise Unauthenticated("This account is disabled.")
        return Principal(user, "entra", str(claims["oid"]))


_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(rate: str) -> tuple[int, int]:
    """``"600/min"`` → ``(600, 60)``: requests and the window in seconds (``API_THROTTLE_RATE``)."""
    count, _, period = rate.partition("/")
    return int(count), _PERIODS[period[0]]


class TokenRateThrottle(BaseThrottle):
    """``API_THROTTLE_RATE`` requests per caller (:attr:`Principal.key`) per fixed window, counted
    in Django's cache with atomic ``add``/``incr`` (safe across threads; per process with the
    default local-memory cache). The wait of a refused request is the rest of its window."""

    _state = threading.local()

    def allow_request(self, request: HttpRequest) -> bool:
        principal = getattr(request, "auth", None)
        if not isinstance(principal, Principal):
            return True
        count, window = parse_rate(current_config().API_THROTTLE_RATE)
        now = time.time()
        slot = int(now // window)
        key = f"api-throttle:{principal}:{window}:{slot}"
        cache.add(key, 0, timeout=window + 1)
        try:
            used = cache.incr(key)
        except ValueError:  # evicted between add and incr
            cache.set(key, 1, timeout=window + 1)
            used = 1
        self._state.wait = (slot + 1) * window - now
        return used <= count

    def wait(self) -> float | None:
        return max(1.0, float(getattr(self._state, "wait", 1.0)))
