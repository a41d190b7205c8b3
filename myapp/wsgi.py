"""WSGI entry point (gunicorn, mod_wsgi, ...): ``myapp.wsgi:application``.

``application`` is Django behind :func:`reject_unreadable_charset`, which answers 400 to a
request whose ``Content-Type`` declares a charset its query string cannot be read in.
"""

from __future__ import annotations

import codecs
import json
import os
from collections.abc import Callable, Iterable
from typing import Any

from django.core.exceptions import SuspiciousOperation
from django.core.handlers.wsgi import get_bytes_from_wsgi
from django.core.wsgi import get_wsgi_application
from django.http import QueryDict
from django.utils.http import parse_header_parameters

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "myapp.settings")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
NOT_TEXT = "the charset of the Content-Type header is not a text encoding this server can read"
UNDECODABLE = "the query string cannot be decoded with the charset of the Content-Type header"


def charset_problem(environ: dict[str, Any]) -> str | None:
    """Why Django could not build a request from ``environ``, or None. When ``CONTENT_TYPE``
    names a charset, Django decodes the query string with it while it builds the request,
    before any middleware, so a charset that is not a text encoding (``rot13``, ``base64``,
    ``zlib``...) or cannot decode the query string (``undefined``, ``punycode``, ``idna``...),
    or too many fields, were a bare 500 from the WSGI server. An unknown charset is refused
    too, rather than silently read as UTF-8."""
    content_type = str(environ.get("CONTENT_TYPE") or "")
    if "charset" not in content_type.lower():
        return None
    charset = parse_header_parameters(content_type)[1].get("charset")
    if charset is None:
        return None
    try:
        if not getattr(codecs.lookup(charset), "_is_text_encoding", True):
            return NOT_TEXT
    except LookupError:
        return NOT_TEXT
    try:
        QueryDict(get_bytes_from_wsgi(environ, "QUERY_STRING", ""), encoding=charset)  # as Django does
    except (LookupError, UnicodeError):
        return UNDECODABLE
    except SuspiciousOperation as exc:  # too many fields
        return str(exc)
    return None


def reject_unreadable_charset(app: WSGIApp) -> WSGIApp:
    """Wrap a WSGI app: a request Django cannot build (:func:`charset_problem`) gets a short
    plain-text 400; every other request goes to ``app``."""

    def wrapped(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        problem = charset_problem(environ)
        if problem:
            content_type = "text/plain; charset=utf-8"
            body = f"Bad Request: {problem.rstrip('.')}.\n".encode()
            if str(environ.get("PATH_INFO", "")).startswith("/api/"):  # the API's errors: RFC 9457 problems
                content_type = "application/problem+json"
                body = json.dumps({"type": "about:blank", "title": "Bad Request", "status": 400,
                                   "detail": f"{problem[0].upper()}{problem[1:].rstrip('.')}."}).encode()
            start_response("400 Bad Request", [
                ("Content-Type", content_type),
                ("Content-Length", str(len(body))),
                ("X-Content-Type-Options", "nosniff"),
            ])
            return [body]
        return app(environ, start_response)

    return wrapped


application = reject_unreadable_charset(get_wsgi_application())
