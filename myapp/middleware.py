"""Project-wide middleware: no caching of signed-in pages, and a 400 page (not a 500) for
request data in a character set that cannot be decoded."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.core.exceptions import BadRequest
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.cache import add_never_cache_headers


class NoStoreWhenSignedInMiddleware:
    """``Cache-Control: no-store`` (Django's ``never_cache`` headers) on every response to a
    signed-in user: their code, results and tokens' effects must not stay in a shared or
    browser cache. Static files are left cacheable (WhiteNoise answers them before this)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        user = getattr(request, "user", None)
        static = request.path.startswith("/" + settings.STATIC_URL.lstrip("/"))
        if user is not None and user.is_authenticated and not static:
            add_never_cache_headers(response)
        return response


class RejectUndecodableFormMiddleware:
    """Answer 400 with a page when a form body cannot be decoded.

    Django decodes a ``multipart/form-data`` body with the ``charset`` of the request's
    ``Content-Type``. A charset Python knows but that is not a text encoding (``base64``,
    ``rot13``, ``zlib``...) raises ``LookupError``, and some codecs (``idna``, ``undefined``)
    raise ``UnicodeError``: both ended as a 500 wherever the view or the CSRF check first read
    ``request.POST`` (sign-in, Run). Django 5.2 refuses a URL-encoded body declared in any
    charset but UTF-8 (``application/x-www-form-urlencoded; charset=latin-1``) with
    ``BadRequest``, and its error pages read ``request.POST`` again (the debug page lists it),
    which raised once more: a 500. Reading the body here, once, turns all of these into the
    same 400 page.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            if request.method == "POST":
                request.POST  # noqa: B018 - parsed on first access
        except (LookupError, UnicodeError, BadRequest):
            return render(request, "400_encoding.html", status=400)
        return self.get_response(request)
