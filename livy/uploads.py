"""Upload limits enforced while a request body arrives, not after Django has stored it.

Django writes a whole ``multipart/form-data`` body (to memory, or to temporary files above
``FILE_UPLOAD_MAX_MEMORY_SIZE``) the first time ``request.POST`` or ``request.FILES`` is read:
a size check in the view comes after the bytes are on the server. Following Django's upload
handler documentation ("Upload Handlers", Django 5.2: ``request.upload_handlers`` may be
replaced before the body is read; a handler raising ``SkipFile`` drops one file, raising
``StopUpload(connection_reset=True)`` stops reading the body), each URL that takes files declares
an :class:`UploadLimit`, and:

1. :func:`limit_upload` refuses a request whose ``Content-Length`` is over
   :attr:`UploadLimit.body` without reading a byte of it;
2. otherwise it puts a :class:`LimitedUploadHandler` first among the request's handlers: it
   counts the bytes of each file as they stream and drops a file at ``per_file`` bytes (the
   other fields still parsed, so the form is shown again with them), and stops the body at
   ``max_files`` files or ``per_file * max_files`` bytes in all. A dropped file's temporary
   file is closed, and so deleted, by Django's parser at once.

:class:`UploadLimitMiddleware` does both for the views marked with :func:`upload_limited`
(or named in :data:`LIMITS`), before the CSRF check or any other middleware reads the body.
A URL with no declared limit gets :func:`undeclared_limit`: no files at all (the body stops at
the first one) and a ``Content-Length`` of at most ``DATA_UPLOAD_MAX_MEMORY_SIZE`` plus
:data:`UNDECLARED_MARGIN` (Django's own limit on form data, plus the multipart framing),
refused unread above that: an anonymous POST to the sign-in page cannot make the server store
a file, or read more than a form.

Views read what was refused with :func:`refusals` (``(field name, message)`` pairs, for the
files dropped) and :func:`stopped` (the message when the body was cut short).

An API operation taking files declares its limit by route, e.g.
``LIMITS["api/v1/batches"] = Declared(job_limit, back_to="")`` (a request refused unread is
then a 413 problem+json), and in the operation answers :func:`stopped` with 413 and
:func:`refusals` with 400 before using ``request.FILES``. Code outside the middleware may call
:func:`limit_upload` itself, before anything reads the body.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload, load_handler
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import Resolver404, resolve
from django.utils.http import url_has_allowed_host_and_scheme

#: Bytes a form's other fields and the multipart headers may take besides its files.
FORM_MARGIN = 1024 * 1024
#: Most files one Jobs page submission may upload.
MAX_JOB_FILES = 10
#: Bytes a request to a URL that declares no limit may have besides
#: ``DATA_UPLOAD_MAX_MEMORY_SIZE``: the multipart boundaries and part headers, which Django
#: does not count (about 100 bytes a field, ``DATA_UPLOAD_MAX_NUMBER_FIELDS`` = 1,000 fields).
UNDECLARED_MARGIN = 256 * 1024


def human_size(n: int) -> str:
    """``n`` bytes as ``"12 KB"``, ``"1.5 MB"``..."""
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= factor:
            return f"{n / factor:.1f} {unit}".replace(".0 ", " ")
    return f"{n} bytes"


@dataclass(frozen=True)
class UploadLimit:
    """What one request may upload: at most ``max_files`` files of at most ``per_file`` bytes
    each, plus ``margin`` bytes of other fields. ``rule`` is the sentence telling the user the
    limit (it ends every refusal message)."""

    per_file: int
    max_files: int
    rule: str
    margin: int = FORM_MARGIN

    @property
    def files_total(self) -> int:
        """Most bytes of file content in one request."""
        return self.per_file * self.max_files

    @property
    def body(self) -> int:
        """Largest ``Content-Length`` accepted, in bytes."""
        return self.files_total + self.margin


def job_limit() -> UploadLimit:
    """The Jobs page's limit: ``LIVY_BATCH_MAX_UPLOAD_BYTES`` a file, :data:`MAX_JOB_FILES` files."""
    from livy.clients import current_config

    per_file = current_config().LIVY_BATCH_MAX_UPLOAD_BYTES
    return UploadLimit(per_file, MAX_JOB_FILES,
                       f"job files of up to {human_size(per_file)} each, at most {MAX_JOB_FILES} at once, are accepted")


def notebook_import_limit() -> UploadLimit:
    """The notebook import's limit: one ``.ipynb`` of ``NOTEBOOK_MAX_IMPORT_BYTES``."""
    from livy.notebooks import service

    per_file = service.max_import_bytes()
    return UploadLimit(per_file, 1, f"notebooks of up to {per_file / (1024 * 1024):.1f} MB can be imported",
                       margin=64 * 1024)


def api_notebook_limit() -> UploadLimit:
    """The API's notebook import and save (``/api/v1/notebooks``, ``/api/v1/notebooks/{id}``):
    one ``.ipynb`` of ``NOTEBOOK_MAX_IMPORT_BYTES``, as a multipart file, as the body itself or
    inside a save's JSON; the message names the setting (for whoever runs the server)."""
    from livy.notebooks import service

    per_file = service.max_import_bytes()
    return UploadLimit(per_file, 1, f"a notebook of up to {per_file:,} bytes ({human_size(per_file)}) is accepted "
                                    "(NOTEBOOK_MAX_IMPORT_BYTES)", margin=64 * 1024)


def undeclared_limit() -> UploadLimit:
    """The limit of a URL that declares none: no files, and a body of at most
    ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (Django's limit on the form data it reads, "Settings",
    Django 5.2) plus :data:`UNDECLARED_MARGIN` bytes. With that setting None (Django's check
    off) any ``Content-Length`` passes; files are still refused."""
    from django.conf import settings

    most = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    if most is None:
        return UploadLimit(0, 0, "this address takes no files", margin=sys.maxsize)
    return UploadLimit(0, 0, f"this address takes no files and at most {human_size(most)} of form data",
                       margin=most + UNDECLARED_MARGIN)


# ------------------------------------------------------------------------------ handler
def refusals(request: HttpRequest) -> list[tuple[str, str]]:
    """The files dropped from ``request`` as ``(field name, message)`` pairs (read after
    ``request.FILES``)."""
    return list(getattr(request, "_upload_refusals", []))


def stopped(request: HttpRequest) -> str:
    """The message when the body of ``request`` was cut short (fields after the cut are
    missing), else ``""`` (read after ``request.POST``)."""
    return str(getattr(request, "_upload_stopped", ""))


class LimitedUploadHandler(FileUploadHandler):
    """Counts the bytes of each uploaded file and of all of them as the body streams; must
    come first in ``request.upload_handlers`` (it passes each chunk on to the next handler,
    which stores it). Over ``limit.per_file`` a file is dropped (``SkipFile``, recorded for
    :func:`refusals`); over ``limit.max_files`` files or ``limit.files_total`` bytes the body is
    not read further (``StopUpload(connection_reset=True)``, recorded for :func:`stopped`).
    Without a ``limit`` (as listed in ``FILE_UPLOAD_HANDLERS``) it uses :func:`undeclared_limit`:
    the body stops at the first file."""

    def __init__(self, request: HttpRequest | None = None, limit: UploadLimit | None = None):
        super().__init__(request)
        self.limit = limit or undeclared_limit()
        self.files = 0
        self.total = 0
        self.current = 0

    def new_file(self, field_name: str, file_name: str, *args: Any, **kwargs: Any) -> None:
        super().new_file(field_name, file_name, *args, **kwargs)
        self.files += 1
        self.current = 0
        if self.files > self.limit.max_files:
            sent = f"More than {self.limit.max_files} files were sent" if self.limit.max_files else "A file was sent"
            self._stop(f"{sent}: {self.limit.rule}.")

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.current += len(raw_data)
        self.total += len(raw_data)
        if self.current > self.limit.per_file:
            self.total -= self.current  # the dropped file's bytes are not kept
            if self.request is not None:
                found = getattr(self.request, "_upload_refusals", [])
                found.append((self.field_name or "", f"{self.file_name or 'The file'} is larger than "
                                                      f"{human_size(self.limit.per_file)}: {self.limit.rule}."))
                self.request._upload_refusals = found
            raise SkipFile()
        if self.total > self.limit.files_total:
            self._stop(f"The files sent are larger than {human_size(self.limit.files_total)} in all: "
                       f"{self.limit.rule}.")
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler makes the file

    def _stop(self, message: str) -> None:
        if self.request is not None:
            self.request._upload_stopped = (
                f"{message} The upload was stopped: nothing was stored, and fields after the files may be missing.")
        raise StopUpload(connection_reset=True)


def content_length(request: HttpRequest) -> int:
    """The declared ``Content-Length`` of ``request`` (0 when absent or not a number, as
    Django reads it: the body is then read as empty)."""
    try:
        return max(0, int(request.META.get("CONTENT_LENGTH") or 0))
    except ValueError:
        return 0


def limit_upload(request: HttpRequest, limit: UploadLimit) -> str | None:
    """Apply ``limit`` to ``request`` before its body is read (before anything touches
    ``request.POST``, ``request.FILES`` or ``request.body``).

    Returns the user's message when ``Content-Length`` is over ``limit.body``: nothing was
    read, and the caller answers (a page with the message, or 413). Otherwise puts a
    :class:`LimitedUploadHandler` first among ``request.upload_handlers`` and returns None.
    Raises ``AttributeError`` (Django's) when the body was already read."""
    declared = content_length(request)
    if declared > limit.body:
        return (f"The upload is {human_size(declared)}, more than the {human_size(limit.body)} accepted here: "
                f"{limit.rule}. Nothing was received or stored.")
    handlers = [h for h in request.upload_handlers if not isinstance(h, LimitedUploadHandler)]
    request.upload_handlers = [LimitedUploadHandler(request, limit), *handlers]
    return None


class BodyTooLarge(Exception):
    """A request body over ``limit``, the most a route reads (:func:`read_body`); ``declared``
    is its ``Content-Length`` when that said so (nothing read), else None (more arrived than
    ``limit``). ``sent`` words its size for a message."""

    def __init__(self, limit: int, declared: int | None = None):
        self.limit = limit
        self.declared = declared
        self.sent = f"{declared:,} bytes" if declared is not None else f"more than {limit:,} bytes"
        super().__init__(f"The body is {self.sent}, over the {limit:,} bytes read here.")


def read_body(request: HttpRequest, max_bytes: int) -> bytes:
    """The body of ``request`` read as a stream of at most ``max_bytes`` bytes, for a route
    whose body may be larger than ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (``request.body`` refuses
    those: Django's "Request and response objects", ``HttpRequest.body``). Raises
    :class:`BodyTooLarge` when ``Content-Length`` declares more, unread, or when more arrives
    (at most ``max_bytes + 1`` bytes are read). Once called, ``request.body`` is unavailable
    (Django's ``RawPostDataException``) unless it was read before."""
    if hasattr(request, "_body"):
        data: bytes = request.body
    else:
        declared = content_length(request)
        if declared > max_bytes:
            raise BodyTooLarge(max_bytes, declared)
        data = request.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise BodyTooLarge(max_bytes)
    return data


# --------------------------------------------------------------------------- middleware
@dataclass(frozen=True)
class Declared:
    """A URL's limit (a function, read per request: settings may change) and the page
    (a URL name) a browser is sent back to when its request is refused unread."""

    limit: Callable[[], UploadLimit]
    back_to: str


#: Limits by URL name (``namespace:name``) or by route (``"api/v1/batches"``, as
#: ``ResolverMatch.route`` gives it), for views that cannot carry the attribute set by
#: :func:`upload_limited`: django-ninja operations, whose operations on one path share one
#: view (resolve() names the first), so key them by route.
LIMITS: dict[str, Declared] = {}


def upload_limited(limit: Callable[[], UploadLimit], back_to: str) -> Callable[[Any], Any]:
    """Mark a view as taking uploads within ``limit()``; a browser whose request is refused
    unread is redirected (303) to the URL named ``back_to`` with the message (a JSON caller
    gets 413). Enforced by :class:`UploadLimitMiddleware`."""

    def mark(view: Any) -> Any:
        view.upload_limit = Declared(limit, back_to)
        return view

    return mark


def wants_json(request: HttpRequest) -> bool:
    """A caller that reads JSON (an API path, ``Accept: application/json``, or fetch's
    ``X-Requested-With``)."""
    return (request.path.startswith("/api/") or request.headers.get("Accept", "").startswith("application/json")
            or request.headers.get("X-Requested-With") == "XMLHttpRequest")


def refused_response(request: HttpRequest, message: str, back_to: str = "") -> HttpResponse:
    """The answer to a request refused unread: for a JSON caller (:func:`wants_json`), 413
    ``application/problem+json`` (RFC 9457: ``type``, ``title``, ``status``, ``detail`` =
    ``message``, ``instance``; plus ``message``, the member the pages' scripts read); for a
    browser, a 303 to the URL named ``back_to`` with the message shown there, or without
    ``back_to`` a 413 page with the message and a link back to the page it came from. (No
    ``Connection: close``: WSGI forbids hop-by-hop headers from the application; the server
    discards or cuts the unread body, it never reaches Django.)"""
    if wants_json(request):
        # An RFC 9457 problem, as the API answers its errors (api/problems.py).
        response: HttpResponse = JsonResponse(
            {"type": "about:blank", "title": "Content Too Large", "status": 413, "detail": message,
             "instance": request.path, "message": message}, status=413, content_type="application/problem+json")
    elif not back_to:
        referer = request.headers.get("Referer", "")
        came_from = url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()},
                                                    require_https=request.is_secure())
        response = render(request, "413.html", {"message": message, "back": referer if came_from else ""},
                          status=413)
    else:
        if hasattr(request, "_messages"):
            messages.error(request, message)
        response = redirect(back_to)
        response.status_code = 303
    return response


def declared_for(path_info: str, urlconf: str | None = None) -> Declared | None:
    """The limit the view at ``path_info`` declares (:func:`upload_limited`, or :data:`LIMITS`
    by URL name or route), or None (also for a path that resolves to no view)."""
    try:
        match = resolve(path_info, urlconf)
    except Resolver404:
        return None
    found = getattr(match.func, "upload_limit", None)
    if isinstance(found, Declared):
        return found
    return LIMITS.get(match.view_name) or LIMITS.get(match.route)


def limit_for(path_info: str, urlconf: str | None = None) -> UploadLimit:
    """The :class:`UploadLimit` of requests to ``path_info``: the declared one, else
    :func:`undeclared_limit`."""
    declared = declared_for(path_info, urlconf)
    return declared.limit() if declared is not None else undeclared_limit()


class UploadLimitMiddleware:
    """Applies each URL's :class:`UploadLimit` (declared by :func:`upload_limited` or
    :data:`LIMITS`, else :func:`undeclared_limit`) to every request before anything reads its
    body: an over-limit ``Content-Length`` is answered by :func:`refused_response`, unread.
    Place it after ``MessageMiddleware`` (the refusal is a message) and before every middleware
    that reads ``request.POST`` (``RejectUndecodableFormMiddleware``, ``CsrfViewMiddleware``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        declared = declared_for(request.path_info, getattr(request, "urlconf", None))
        limit = declared.limit() if declared is not None else undeclared_limit()
        message = limit_upload(request, limit)
        if message is not None:
            return refused_response(request, message, declared.back_to if declared is not None else "")
        return self.get_response(request)


def default_handlers(request: HttpRequest | None = None) -> list[FileUploadHandler]:
    """Django's handlers as ``FILE_UPLOAD_HANDLERS`` lists them (for tests and callers that
    build a request by hand)."""
    from django.conf import settings

    return [load_handler(path, request) for path in settings.FILE_UPLOAD_HANDLERS]


# --------------------------------------------------------------------------------- ASGI
def scope_body_limit(scope: dict[str, Any]) -> int:
    """The most body bytes of the ASGI request ``scope``: :attr:`UploadLimit.body` of the
    limit of its path (:func:`limit_for`), the path taken as Django's ``ASGIRequest`` takes
    ``path_info`` (``scope["path"]`` without the script prefix)."""
    from django.core.handlers.asgi import get_script_prefix

    path = str(scope.get("path") or "/")
    prefix = get_script_prefix(scope)
    return limit_for(path.removeprefix(prefix) if prefix else path).body


def asgi_body_limit(app: Any, max_bytes: Callable[[dict[str, Any]], int] | None = None) -> Any:
    """Wrap Django's ASGI ``app`` so that no request body larger than ``max_bytes(scope)`` (by
    default :func:`scope_body_limit`: the limit declared for the request's path, else
    :func:`undeclared_limit`) is taken in.

    Under ASGI Django reads the whole body (into a temporary file) before any middleware runs
    (``django.core.handlers.asgi.ASGIHandler.read_body``), so the per-URL limits would come
    after the bytes are stored. Here a declared ``content-length`` over the limit is not read:
    Django is handed an empty body (its ``CONTENT_LENGTH`` still the declared one), so
    :class:`UploadLimitMiddleware` answers as under WSGI (the page's message or a 413 problem),
    and any later ``receive`` waits until Django is done (it then cancels its disconnect
    listener) instead of reading the body. A body without ``content-length`` (chunked) is cut
    when it passes the limit: Django then sees the client disconnect (``http.disconnect``, ASGI
    HTTP spec) and answers nothing. Under WSGI (gunicorn) this is not needed: Django reads at
    most ``Content-Length`` bytes."""
    limit_of = max_bytes or scope_body_limit

    async def limited(scope: dict[str, Any], receive: Callable[[], Any], send: Callable[[Any], Any]) -> Any:
        if scope.get("type") != "http":
            return await app(scope, receive, send)
        limit = limit_of(scope)
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            handed = False

            async def unread() -> Any:
                nonlocal handed
                if not handed:
                    handed = True
                    return {"type": "http.request", "body": b"", "more_body": False}
                await asyncio.Event().wait()  # never set: cancelled once the answer is sent
                return {"type": "http.disconnect"}  # pragma: no cover - not reached

            return await app(scope, unread, send)
        seen = 0

        async def counted() -> Any:
            nonlocal seen
            event = await receive()
            if event.get("type") == "http.request":
                seen += len(event.get("body", b""))
                if seen > limit:
                    return {"type": "http.disconnect"}
            return event

        return await app(scope, counted, send)

    return limited
