"""``GET /healthz``: can this web process serve? For load balancers and monitoring; no
sign-in, never cached, nothing secret in the answer::

    {"status": "ok" | "degraded" | "error",
     "database": "ok" | "error",
     "livy": {"probed": true, "reachable": true, "version": "0.9.0-incubating"}}

* ``database``: a trivial query. When it fails the answer is **503** with ``status`` "error":
  this process cannot serve pages.
* ``livy``: Apache Livy's ``GET /version`` (:func:`livy.health.livy_status`: one answer per
  :data:`livy.health.STATUS_TTL` seconds, here with a short timeout and no retries). Livy
  unreachable gives ``status`` "degraded" and still **200**: the web tier works (users sign in,
  read their history and are told Livy is down), so a load balancer must not take it out of
  rotation for that; alert on "degraded" instead.
* Fabric is not probed (``probed`` false, ``reachable`` null): with delegated tokens there is
  no user token outside a request, and Fabric has no version endpoint.

Neither the Livy endpoint nor any error text is in the answer (they may name hosts or carry
credentials); database failures are logged.
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from django.db import DatabaseError, connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from livy.clients import livy_client
from livy.health import livy_status
from livy.remote.client import LivyClient
from myapp.config import current_config

log = logging.getLogger(__name__)

#: Seconds the Livy probe waits for an answer (a health check must answer quickly).
LIVY_PROBE_TIMEOUT = 3.0
NOT_PROBED: dict[str, Any] = {"probed": False, "reachable": None, "version": ""}


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except DatabaseError as exc:
        log.warning("health check: the database cannot be queried: %s", type(exc).__name__)
        return False
    return True


def _livy() -> dict[str, Any]:
    cfg = current_config()
    try:
        configured = livy_client(None, cfg)
    except ValueError:  # Fabric with delegated tokens: no user, no token
        return dict(NOT_PROBED)
    if not configured.backend.supports_version:
        return dict(NOT_PROBED)
    with requests.Session() as http:  # no retries: one quick attempt
        client = LivyClient(configured.backend, timeout=min(LIVY_PROBE_TIMEOUT, cfg.LIVY_REQUESTS_TIMEOUT), http=http)
        status = livy_status(client)
    return {"probed": True, "reachable": status.reachable, "version": status.version}


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """The health answer described in the module docstring (GET or HEAD, no sign-in)."""
    database = _database_ok()
    livy = _livy()
    if not database:
        status, code = "error", 503
    elif livy["reachable"] is False:
        status, code = "degraded", 200
    else:
        status, code = "ok", 200
    return JsonResponse({"status": status, "database": "ok" if database else "error", "livy": livy}, status=code)
