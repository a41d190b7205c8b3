"""Creating, finding and revoking personal access tokens (:class:`api.models.ApiToken`).

A token reads ``lwt_`` followed by 43 URL-safe characters (32 random bytes, from
:mod:`secrets`); the prefix lets secret scanners and the API tell it from an Entra JWT.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from api.models import ApiToken
from livy.clients import current_config

#: Every personal token starts with this.
TOKEN_PREFIX = "lwt_"
#: ``last_used_at`` is written only when older than this (seconds): a busy pipeline's
#: requests do not each cost a database write.
LAST_USE_RESOLUTION = 60
#: Life of a token when none is asked for, in days (capped by ``API_TOKEN_MAX_DAYS``).
DEFAULT_DAYS = 90
#: Longest token name.
MAX_NAME = 100


def digest(token: str) -> str:
    """Hex SHA-256 of ``token``: what is stored and looked up."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def issue(user: Any, name: str, *, days: int | None = None) -> tuple[ApiToken, str]:
    """Create a token for ``user`` named ``name`` (stripped, at most :data:`MAX_NAME`
    characters), valid ``days`` days (default :data:`DEFAULT_DAYS`). Returns the row and the
    token, which is never stored and cannot be shown again.

    Raises ``ValueError`` for an empty name or ``days`` outside 1..``API_TOKEN_MAX_DAYS``."""
    name = (name or "").strip()
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"A token needs a name of 1 to {MAX_NAME} characters.")
    longest = current_config().API_TOKEN_MAX_DAYS
    days = min(DEFAULT_DAYS, longest) if days is None else days
    if not 1 <= days <= longest:
        raise ValueError(f"A token lives 1 to {longest} days (API_TOKEN_MAX_DAYS).")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user, name=name, prefix=token[:10], digest=digest(token),
        expires_at=timezone.now() + timedelta(days=days),
    )
    return row, token


def find(token: str) -> ApiToken | None:
    """The usable token row for ``token`` (not revoked, not expired, its user active), with
    its user loaded, or None. Records the use (see :data:`LAST_USE_RESOLUTION`)."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    now = timezone.now()
    row = (
        ApiToken.objects.select_related("user")
        .filter(digest=digest(token), revoked_at__isnull=True, expires_at__gt=now, user__is_active=True)
        .first()
    )
    if row is None:
        return None
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() >= LAST_USE_RESOLUTION:
        stale = Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - timedelta(seconds=LAST_USE_RESOLUTION))
        ApiToken.objects.filter(stale, pk=row.pk).update(last_used_at=now)
        row.last_used_at = now
    return row


def revoke(row: ApiToken, *, by: Any) -> bool:
    """Revoke ``row`` (recording who did); False when it was already revoked."""
    done = ApiToken.objects.filter(pk=row.pk, revoked_at__isnull=True).update(
        revoked_at=timezone.now(), revoked_by=by
    )
    row.refresh_from_db()
    return bool(done)
