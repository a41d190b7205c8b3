"""The errors of the Livy client. Every one is a :class:`LivyError`; ``str(err)`` is a
message fit to show a user (it never holds a token or an endpoint credential).

Which HTTP answer becomes which error is decided in :mod:`livy.remote.client`.
"""

from __future__ import annotations

from typing import Any


class LivyError(Exception):
    """Base of every error the client raises. ``str(err)`` is a message fit for a user."""


class LivyUnavailable(LivyError):
    """Livy could not be reached: connection refused, DNS failure, or a timeout."""


class LivyOutcomeUnknown(LivyUnavailable):
    """A request that changes something (POST, DELETE) reached Livy, or may have, but no
    answer came back (read timeout, dropped connection): it may or may not have been
    carried out. Never resend blindly: look first (see ``livy.lifecycle``)."""


class LivyHTTPError(LivyError):
    """Livy answered with an error status.

    Attributes: ``status`` (int), ``body`` (decoded JSON or text), ``request_id`` (str or
    None: Fabric's ``requestId``, to quote to support).
    """

    def __init__(self, message: str, *, status: int, body: Any = None, request_id: str | None = None):
        super().__init__(message)
        self.status = status
        self.body = body
        self.request_id = request_id


class LivyProtocolError(LivyError):
    """Livy answered, but the answer does not have the shape its REST API describes (for
    example a statement whose ``output.data`` is not an object)."""


class LivyNotFound(LivyHTTPError):
    """404: the session or statement does not exist (any more) on the Livy server."""


class LivyThrottled(LivyHTTPError):
    """429 (or Fabric's 430): too many requests. ``retry_after`` is seconds or None."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any):
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class LivyAuthError(LivyHTTPError):
    """401/403: the credentials were refused (e.g. a Fabric token without the right scope)."""


class LivySignInRequired(LivyError):
    """No usable token for the signed-in user: they must sign in again (interactive).

    Raised by delegated token providers when MSAL cannot get a token silently, and by the
    client for a 401 from a backend whose tokens are the user's own.
    """


