"""Errors of the API as ``application/problem+json`` (RFC 9457, "Problem Details for HTTP
APIs"): ``type``, ``title``, ``status``, ``detail`` and ``instance`` (the request path).

``type`` is ``about:blank`` when the status says it all (RFC 9457, section 4.2.1), else one
of :data:`PROBLEM_TYPES` (``tag:`` URIs, RFC 4151: stable names, not links). Nothing here
ever puts a token, a stack trace or an endpoint credential in an answer.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from django.http import HttpRequest, HttpResponse

PROBLEM_JSON = "application/problem+json"
#: The ``type`` of each problem this API names, by slug.
_TAG = "tag:livy-web,2026:problem/"
PROBLEM_TYPES = {
    slug: _TAG + slug
    for slug in (
        "invalid-request",  # 400: the body is not JSON, not UTF-8, or too large
        "invalid-token",  # 401: a token that was given but is not accepted
        "token-required",  # 401: no token
        "sign-in-required",  # 401: Fabric wants the user's own sign-in again
        "forbidden",  # 403: the caller lacks the permission
        "not-found",  # 404
        "conflict",  # 409
        "validation-failed",  # 422: fields of the wrong type, unknown fields, ...
        "throttled",  # 429: this API's rate, or Livy's
        "livy-error",  # 502: Livy refused or answered nonsense
        "livy-unavailable",  # 503: Livy cannot be reached
        "auth-unavailable",  # 503: Entra ID's keys cannot be read to check a token
    )
}


def problem(status: int, detail: str = "", *, slug: str | None = None, title: str | None = None,
            request: HttpRequest | None = None, headers: dict[str, str] | None = None,
            **extensions: Any) -> HttpResponse:
    """A problem+json response with ``status``; ``title`` defaults to the status phrase and
    ``type`` to ``about:blank`` (or the type of ``slug``). ``extensions`` are added as
    members (e.g. ``errors`` for 422)."""
    phrase = HTTPStatus(status).phrase
    body: dict[str, Any] = {
        "type": PROBLEM_TYPES[slug] if slug else "about:blank",
        "title": title or phrase,
        "status": status,
        "detail": detail or phrase + ".",
    }
    if request is not None:
        body["instance"] = request.path
    body.update(extensions)
    response = HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def bearer_challenge(error: str | None = None, description: str = "") -> str:
    """``WWW-Authenticate`` for a 401 (RFC 6750, section 3): ``Bearer`` alone when no token was
    sent, with ``error="invalid_token"`` when one was refused."""
    if not error:
        return 'Bearer realm="api"'
    text = description.replace('"', "'").replace("\\", "/")
    return f'Bearer realm="api", error="{error}", error_description="{text}"'


def is_problem(response: HttpResponse) -> bool:
    return str(response.get("Content-Type", "")).startswith(PROBLEM_JSON)
