"""Middleware of the livy app: an expired sign-in becomes a sign-in round trip.

:class:`LivySignInMiddleware` answers :class:`~livy.remote.errors.LivySignInRequired` (the
user's Microsoft token ran out and cannot be refreshed: Fabric) raised by any view, so no
view needs its own handler. Registered in ``myapp/settings.py`` ``MIDDLEWARE``.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode, urlsplit

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse

from livy.remote.errors import LivySignInRequired
from livy.views import _wants_fragment
from myapp.config import current_config


def _page_of(request: HttpRequest, fragment: bool) -> str:
    """The path of the page the user is on, to come back to after signing in: the page's
    own URL (``X-Livy-Page``, sent by the page's script, else the ``Referer`` of a fragment request), the requested
    path for a plain GET, else the notebook. Only a local path is used."""
    sent = request.headers.get("X-Livy-Page") or (request.headers.get("Referer", "") if fragment else "")
    path = urlsplit(sent).path
    if path.startswith("/") and not path.startswith("//"):
        return path
    return request.path if request.method == "GET" and not fragment else reverse("livy:notebook")


def _from_script(request: HttpRequest) -> bool:
    """True for a request of a page's script: a fragment request (:func:`livy.views._wants_fragment`),
    or one that sends or asks for JSON (the notebook page's run, poll, cancel and save), which
    a browser's navigation never does. A ``302`` would be followed by ``fetch`` to the sign-in
    page's HTML, answered 200, which the script cannot tell from an answer."""
    if _wants_fragment(request):
        return True
    return request.content_type == "application/json" or "application/json" in request.headers.get("Accept", "")


def sign_in_again(request: HttpRequest) -> HttpResponse:
    """Send the user through sign-in (Entra ID when configured, else the local sign-in page)
    and back to the page they were on (``?next=<path>``). A request of a page's script (a
    fragment request, or JSON: :func:`_from_script`) gets ``204`` with ``X-Livy-Redirect:
    <sign-in URL>``, which the script follows (back to ``X-Livy-Page``, else the
    ``Referer``); a plain request gets a ``302``. The code in the editor is kept by the page
    itself (frontend/src/app/drafts.js keeps the draft in the browser) and queued code stays
    on the server."""
    fragment = _from_script(request)
    target = reverse("entra_login") if current_config().entra_enabled else reverse("login")
    url = f"{target}?{urlencode({'next': _page_of(request, fragment)})}"
    if fragment:
        response = HttpResponse(status=204)
        response["X-Livy-Redirect"] = url
        return response
    return redirect(url)


class LivySignInMiddleware:
    """Turn :class:`LivySignInRequired` raised by a view into :func:`sign_in_again`; any other
    exception is left to Django."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if isinstance(exception, LivySignInRequired):
            return sign_in_again(request)
        return None
