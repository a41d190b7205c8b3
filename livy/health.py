"""Is Livy reachable, and which version is it? Asked by the notebook on load (so a newcomer
sees at once whether Livy answers, without waiting for a Run) and by ``/healthz``.

One answer is kept for :data:`STATUS_TTL` seconds in Django's cache (per endpoint), so open
pages do not turn into a stream of Livy calls. Reads only; writes no row.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.cache import cache

from livy.remote.client import LivyClient
from livy.remote.errors import LivyError, LivyHTTPError

#: Seconds one reachability answer is reused.
STATUS_TTL = 10.0


@dataclass(frozen=True)
class LivyStatus:
    """``reachable`` (bool), ``version`` (``0.9.0-incubating``, or "" when the server does
    not say: Fabric has no ``/version``), ``endpoint`` (scheme, host and port: no
    credentials) and ``problem`` (a message for users when not reachable, else "")."""

    reachable: bool
    version: str
    endpoint: str
    problem: str = ""


def livy_status(client: LivyClient, *, use_cache: bool = True) -> LivyStatus:
    """Ask the server: Apache Livy's ``GET /version``; for a backend without it (Fabric) the
    status is not probed (a token is needed and every call costs), and the endpoint is
    reported reachable until a call says otherwise."""
    backend = client.backend
    endpoint = backend.display_url
    if not backend.supports_version:
        return LivyStatus(True, "", endpoint)
    key = f"livy-status:{backend.name}:{backend.base_url}"
    if use_cache:
        cached = cache.get(key)
        if isinstance(cached, LivyStatus):
            return cached
    try:
        status = LivyStatus(True, client.get_version(), endpoint)
    except LivyHTTPError as exc:
        # It answered: reachable, though this server has no version endpoint.
        status = LivyStatus(exc.status < 500, "", endpoint, "" if exc.status < 500 else str(exc))
    except LivyError as exc:
        status = LivyStatus(False, "", endpoint, str(exc))
    cache.set(key, status, STATUS_TTL)
    return status
