"""Sign-in throttling with django-axes: who is the client, and what is counted.

Failures of local (password) sign-ins are counted per user name and per client address
(``AXES_LOCKOUT_PARAMETERS``): ``AXES_FAILURE_LIMIT`` failures for either one lock password
sign-in for ``AXES_COOLOFF_MINUTES``. An attempt without a user name counts for its address
only: counting it under an empty user name would add up such attempts from every address.

Entra ID sign-ins are outside the lockout (``AXES_WHITELIST_CALLABLE``): Microsoft has already
authenticated the user, there is no password to guess here, and behind a proxy that does not
pass the client address (``TRUSTED_PROXY_COUNT=0``) every client shares one address, so an
address lockout from a few wrong local passwords would otherwise refuse everyone's Entra sign-in.
"""

from __future__ import annotations

from typing import Any

from axes.helpers import get_client_username
from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """The client's address: ``REMOTE_ADDR``, or behind ``TRUSTED_PROXY_COUNT`` proxies the
    address the outermost of them appended to ``X-Forwarded-For`` (the entries to its left
    come from the client and can be forged)."""
    remote = str(request.META.get("REMOTE_ADDR") or "")
    count = settings.CONFIG.TRUSTED_PROXY_COUNT
    if count:
        forwarded = [part.strip() for part in str(request.META.get("HTTP_X_FORWARDED_FOR", "")).split(",")]
        forwarded = [part for part in forwarded if part]
        if len(forwarded) >= count:
            return forwarded[-count]
    return remote


def lockout_parameters(request_or_attempt: Any, credentials: dict[str, Any] | None = None) -> list[list[str]]:
    """``AXES_LOCKOUT_PARAMETERS``: by user name and, separately, by client address; by
    address only when the attempt names no user."""
    if isinstance(request_or_attempt, HttpRequest):
        username = get_client_username(request_or_attempt, credentials)
    else:  # an AccessAttempt row
        username = getattr(request_or_attempt, "username", None)
    return [["username"], ["ip_address"]] if username else [["ip_address"]]


def is_entra_sign_in(request: HttpRequest | None, credentials: dict[str, Any] | None = None) -> bool:
    """``AXES_WHITELIST_CALLABLE``: an Entra ID sign-in (``authenticate(request, token=...)``,
    no user name) is neither refused by a lockout nor counted as a failure. The sign-in form
    passes only a user name and a password, so it cannot claim to be one."""
    return bool(credentials and credentials.get("token") and not credentials.get("username"))
