"""Sign-in and sign-out pages: Entra ID (through :mod:`accounts.entra`) beside local accounts.

Every way an Entra sign-in can fail (an error returned by Entra such as an AADSTS code, a
callback without a pending flow because it expired or was replayed, a state mismatch, Graph
unreachable) renders ``registration/signin_error.html`` with a "Sign in again" link.
"""

from __future__ import annotations

import logging
import math
import secrets
from http import HTTPStatus
from typing import Any

from azure_auth.exceptions import TokenError
from django.conf import settings
from django.contrib.auth import authenticate, login, logout
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts.entra import EntraAuthHandler, EntraSignInError, sign_in_refused_message, token_error_message
from accounts.throttling import client_ip

log = logging.getLogger(__name__)

#: Session key of the page to return to after an Entra sign-in.
NEXT_KEY = "entra_next"
FLOW_KEY = "auth_flow"  # where django-azure-auth's AuthHandler keeps the pending flow


def _require_entra() -> None:
    if not settings.CONFIG.entra_enabled:
        raise Http404("Entra ID sign-in is not configured.")


def _safe_next(request: HttpRequest, target: str | None) -> str:
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return target
    return resolve_url(settings.LOGIN_REDIRECT_URL)


def _error_page(request: HttpRequest, title: str, detail: str, status: int) -> HttpResponse:
    log.warning("Entra ID sign-in failed from %s: %s. %s", client_ip(request), title, detail)
    return render(request, "registration/signin_error.html", {"title": title, "detail": detail}, status=status)


def locked_out(request: HttpRequest, original_response: HttpResponse | None = None,
               credentials: dict[str, Any] | None = None) -> HttpResponse:
    """django-axes' lockout page (``AXES_LOCKOUT_CALLABLE``): too many failed sign-ins for
    this user name or this address; says how long to wait. HTTP 429."""
    minutes = max(1, math.ceil(settings.AXES_COOLOFF_TIME.total_seconds() / 60))
    return render(request, "registration/lockout.html", {"minutes": minutes}, status=HTTPStatus.TOO_MANY_REQUESTS)


@require_GET
def entra_login(request: HttpRequest) -> HttpResponse:
    """Start the auth code flow: remember ``next``, redirect to Entra's authorize endpoint.

    The OAuth ``state`` is random (the page to return to stays in the session), so a
    callback can only complete the flow this browser started.
    """
    _require_entra()
    request.session[NEXT_KEY] = request.GET.get("next", "")
    auth_uri = EntraAuthHandler(request).get_auth_uri(state=secrets.token_urlsafe(24))
    return HttpResponseRedirect(auth_uri)


@require_GET
def entra_callback(request: HttpRequest) -> HttpResponse:
    """Finish the flow: redeem the code, create or update the user, sync groups, sign in."""
    _require_entra()
    flow = request.session.get(FLOW_KEY)
    if "error" in request.GET and not flow:
        # Anyone can send this URL: only the AADSTS code of the description is shown.
        return _error_page(request, "Microsoft sign-in failed",
                           sign_in_refused_message(request.GET.get("error_description", "")), HTTPStatus.BAD_REQUEST)
    if not flow:
        return _error_page(
            request,
            "This sign-in link has expired",
            "The sign-in was started in another browser, took too long, or this page was reloaded after it "
            "finished.",
            HTTPStatus.BAD_REQUEST,
        )
    handler = EntraAuthHandler(request)
    try:
        token = handler.get_token_from_flow()  # pops the flow: a replay finds none
    except TokenError as exc:
        return _error_page(request, "Microsoft sign-in failed", token_error_message(exc), HTTPStatus.BAD_REQUEST)
    except ValueError as exc:  # MSAL: state mismatch, or a response that is not for this flow
        log.warning("Entra callback rejected: %s", type(exc).__name__)
        return _error_page(request, "This sign-in response does not match the sign-in that was started",
                           "Start the sign-in again from this browser.", HTTPStatus.BAD_REQUEST)
    try:
        user = authenticate(request, token=token)
    except EntraSignInError as exc:
        return _error_page(request, exc.title, exc.detail, exc.status)
    # No lockout check here: django-axes exempts Entra sign-ins (accounts/throttling.py).
    if user is None:
        return _error_page(request, "Your account cannot sign in here",
                           "It is disabled in this app. Ask an administrator.", HTTPStatus.FORBIDDEN)
    login(request, user, backend="accounts.entra.EntraBackend")
    return HttpResponseRedirect(_safe_next(request, request.session.pop(NEXT_KEY, "")))


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    """End the Django session; for an Entra sign-in, also end the Entra session (front-channel
    logout at ``{authority}/oauth2/v2.0/logout``, which returns to ``LOGOUT_URI``)."""
    entra_session = settings.CONFIG.entra_enabled and bool(request.session.get("id_token_claims"))
    logout_uri = EntraAuthHandler(request).get_logout_uri() if entra_session else None
    logout(request)
    if logout_uri:
        return HttpResponseRedirect(logout_uri)
    return redirect("signed_out")


@require_GET
def signed_out(request: HttpRequest) -> HttpResponse:
    """The public page Entra returns to after sign-out (``LOGOUT_URI``)."""
    return render(request, "registration/logged_out.html")
