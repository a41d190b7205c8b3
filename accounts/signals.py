"""Sign-in audit lines in the log (logger ``accounts.signals``): every sign-in, every failed
one (local password or Entra ID) and every lockout, with the user name and the client
address. Never a password or a token: Django's ``user_login_failed`` carries the credentials
with those already masked, and only the user name is read from them."""

from __future__ import annotations

import logging
from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.dispatch import receiver

from accounts.throttling import client_ip

log = logging.getLogger(__name__)


def _address(request: Any) -> str:
    return (client_ip(request) if request is not None else "") or "unknown address"


def _name(value: Any) -> str:
    """A user name as logged: quoted (``repr``, so no line breaks get in) and cut short."""
    return repr(str(value)[:150]) if value else "(no user name)"


@receiver(user_login_failed, dispatch_uid="accounts.log_sign_in_failure")
def log_sign_in_failure(sender: Any, credentials: dict[str, Any], request: Any = None, **kwargs: Any) -> None:
    how = "Entra ID sign-in" if "token" in credentials else "sign-in"
    log.warning("%s failed for user %s from %s", how, _name(credentials.get("username")), _address(request))


@receiver(user_logged_in, dispatch_uid="accounts.log_sign_in")
def log_sign_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    log.info("user %s signed in from %s", _name(user.get_username()), _address(request))


@receiver(user_locked_out, dispatch_uid="accounts.log_lockout")
def log_lockout(sender: Any, request: Any, username: Any = None, ip_address: Any = None, **kwargs: Any) -> None:
    log.warning("sign-in locked after repeated failures: user %s from %s", _name(username),
                ip_address or _address(request))
