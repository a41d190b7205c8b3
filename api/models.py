"""Personal access tokens of the API.

Only a SHA-256 digest of a token is stored: the token itself is shown once, when it is
created (:func:`api.tokens.issue`), and cannot be read back. Tokens are 256-bit random
strings, so a fast digest is enough (no password hashing: there is nothing to brute-force
from a dictionary).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ApiToken(models.Model):
    """A personal access token of one user: ``Authorization: Bearer lwt_…`` acts as that user,
    with their permissions, until ``expires_at`` or until it is revoked.

    ``prefix`` is the start of the token (``lwt_`` and 6 characters), shown in lists so people
    can tell their tokens apart; ``digest`` is the hex SHA-256 of the whole token.
    ``last_used_at`` is written at most once a minute (:data:`api.tokens.LAST_USE_RESOLUTION`).
    """

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "API token"
        indexes = [models.Index(fields=["user", "revoked_at"])]

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    name = models.CharField(max_length=100)
    prefix = models.CharField(max_length=16, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_expired(self) -> bool:
        return self.expires_at <= timezone.now()

    @property
    def is_usable(self) -> bool:
        """Neither revoked nor expired."""
        return self.revoked_at is None and not self.is_expired

    @property
    def status(self) -> str:
        """``active``, ``expired`` or ``revoked``, as the tokens page shows it."""
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.is_expired else "active"
