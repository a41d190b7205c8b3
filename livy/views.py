"""Pages and htmx fragments of the notebook. Thin: each view checks permissions, calls one
lifecycle function or selector and renders; Livy failures become messages in the page,
never a 500.

Every state change is a POST with Django's CSRF check. Each POST answers htmx with the
``#live`` fragment and a plain browser (no JavaScript) with a redirect or the full page
(:func:`_answer_post`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from livy import lifecycle, selectors
from livy.clients import current_config, livy_client
from livy.forms import RunForm
from livy.models import SparkSession
from livy.remote.client import LivyClient
from livy.remote.errors import LivyError, LivySignInRequired

log = logging.getLogger(__name__)

#: Lines of the Livy session log shown on the log page.
LOG_LINES = 200
#: Statements the notebook shows (and re-renders on every poll); the session page shows all.
NOTEBOOK_STATEMENTS = 50


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _client(request: HttpRequest) -> LivyClient:
    """This request's Livy client, with the user's token provider (Fabric)."""
    return livy_client(request.session)


def _sign_in_again(request: HttpRequest) -> HttpResponse:
    """Send the user through Entra sign-in and back to the page they were on. The code in
    the editor is kept by the page itself (notebook.js keeps the draft in the browser)."""
    page = urlsplit(request.headers.get("HX-Current-URL", "")).path or (
        request.path if request.method == "GET" and not _is_htmx(request) else reverse("livy:notebook")
    )
    target = reverse("entra_login") if current_config().entra_enabled else reverse("login")
    url = f"{target}?{urlencode({'next': page})}"
    if _is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


def signs_in_again(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Turn :class:`LivySignInRequired` (expired, unrefreshable token) into a sign-in round trip."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except LivySignInRequired:
            return _sign_in_again(request)

    return wrapper


def _attempt(notices: list[str], prefix: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a service call; a Livy failure becomes a notice (sign-in expiry propagates)."""
    try:
        return call(*args, **kwargs)
    except LivySignInRequired:
        raise
    except LivyError as exc:
        notices.append(f"{prefix}{exc}")
        return None


def _live_context(request: HttpRequest, session: SparkSession | None, notices: list[str],
                  limit: int | None) -> dict[str, Any]:
    """What ``livy/_live.html`` needs: the page state (``limit`` statements, None for all),
    the notices, and whether this user may stop the session."""
    return {
        "state": selectors.page_state(session, limit),
        "notices": notices,
        "can_stop": session is not None and selectors.can_stop(request.user, session),
    }


def _live(request: HttpRequest, session: SparkSession | None, notices: list[str]) -> HttpResponse:
    complete = request.GET.get("all") == "1" or request.POST.get("all") == "1"
    return render(request, "livy/_live.html",
                  _live_context(request, session, notices, None if complete else NOTEBOOK_STATEMENTS))


def _active(request: HttpRequest) -> SparkSession | None:
    return selectors.active_session(request.user, cfg=current_config())


def _notebook(request: HttpRequest, notices: list[str], code: str = "", status: int = 200) -> HttpResponse:
    context = _live_context(request, _active(request), notices, NOTEBOOK_STATEMENTS)
    context["form"] = RunForm(initial={"code": code})
    return render(request, "livy/notebook.html", context, status=status)


def _refreshed(request: HttpRequest, session: SparkSession | None, notices: list[str]) -> SparkSession | None:
    if session is not None:
        _attempt(notices, "", lifecycle.refresh, session, client=_client(request), actor=request.user)
    return session


def _answer_post(request: HttpRequest, session: SparkSession | None, notices: list[str]) -> HttpResponse:
    """How every state-changing POST ends: htmx gets the ``#live`` fragment (with the
    notices); a plain browser is redirected to the notebook, the notices as messages."""
    if _is_htmx(request):
        return _live(request, session, notices)
    for notice in notices:
        messages.error(request, notice)
    return redirect("livy:notebook")


@login_required
@require_GET
@signs_in_again
def notebook(request: HttpRequest) -> HttpResponse:
    """The notebook: the user's active session, its statements, and the code editor."""
    notices: list[str] = []
    _refreshed(request, _active(request), notices)
    return _notebook(request, notices)


@login_required
@require_GET
@signs_in_again
def live(request: HttpRequest, pk: int) -> HttpResponse:
    """The ``#live`` fragment the page polls while something runs."""
    session = get_object_or_404(selectors.sessions_visible_to(request.user), pk=pk)
    notices: list[str] = []
    _refreshed(request, session, notices)
    return _live(request, session, notices)


@login_required
@require_POST
@permission_required("livy.run_code", raise_exception=True)
@signs_in_again
def run(request: HttpRequest) -> HttpResponse:
    """Run the posted code in the user's session (started if needed, queued while starting)."""
    form = RunForm(request.POST)
    notices: list[str] = []
    if not form.is_valid():
        notices.extend(err for errs in form.errors.values() for err in errs)
    else:
        _attempt(notices, "Your code was not run: ", lifecycle.submit, request.user, form.cleaned_data["code"],
                 client=_client(request))
    if _is_htmx(request):
        return _live(request, _active(request), notices)
    if notices:
        return _notebook(request, notices, code=request.POST.get("code", ""), status=200)
    return redirect("livy:notebook")


@login_required
@require_POST
@permission_required("livy.add_sparksession", raise_exception=True)
@signs_in_again
def session_start(request: HttpRequest) -> HttpResponse:
    """Start (or reuse) the user's session without running anything."""
    notices: list[str] = []
    _attempt(notices, "The session could not be started: ", lifecycle.ensure_session, request.user,
             client=_client(request))
    return _answer_post(request, _active(request), notices)


@login_required
@require_POST
@signs_in_again
def session_stop(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop a session: its owner, or a user with ``livy.stop_any_session``."""
    session = get_object_or_404(selectors.sessions_visible_to(request.user), pk=pk)
    if not selectors.can_stop(request.user, session):
        return HttpResponse("You may not stop this session.", status=403)
    notices: list[str] = []
    _attempt(notices, "The session could not be stopped: ", lifecycle.stop_session, session, client=_client(request))
    return _answer_post(request, session, notices)


@login_required
@require_POST
@signs_in_again
def statement_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel a statement: its author, the session's owner, or ``livy.stop_any_session``."""
    stmt = get_object_or_404(selectors.statements_visible_to(request.user), pk=pk)
    if not (stmt.author_id == request.user.pk or selectors.can_stop(request.user, stmt.session)):
        return HttpResponse("You may not cancel this statement.", status=403)
    notices: list[str] = []
    _attempt(notices, "The statement could not be cancelled: ", lifecycle.cancel, stmt, client=_client(request))
    return _answer_post(request, stmt.session, notices)


@login_required
@require_GET
def session_list(request: HttpRequest) -> HttpResponse:
    """The sessions the user may see, newest first, 25 a page."""
    qs = selectors.sessions_visible_to(request.user).annotate(statement_count=Count("statements")).order_by(
        "-created_at", "-pk"
    )
    if request.GET.get("mine") == "1":
        qs = qs.filter(owner=request.user)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(request, "livy/session_list.html", {"page": page, "mine": request.GET.get("mine") == "1"})


@login_required
@require_GET
@signs_in_again
def session_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One session and all its statements (the history view)."""
    session = get_object_or_404(selectors.sessions_visible_to(request.user), pk=pk)
    notices: list[str] = []
    _refreshed(request, session, notices)
    return render(request, "livy/session_detail.html", _live_context(request, session, notices, None))


@login_required
@require_GET
@signs_in_again
def session_log(request: HttpRequest, pk: int) -> HttpResponse:
    """The last :data:`LOG_LINES` lines of the session's Livy log (while Livy still has it)."""
    session = get_object_or_404(selectors.sessions_visible_to(request.user), pk=pk)
    lines: list[str] = []
    notices: list[str] = []
    if not session.livy_id:
        notices.append("This session never reached Livy, so there is no log.")
    else:
        lines = _attempt(notices, "The log could not be read: ", lifecycle.session_log_tail, session, LOG_LINES,
                         client=_client(request)) or []
    return render(request, "livy/session_log.html", {"session": session, "lines": lines, "notices": notices})


@login_required
@require_POST
@signs_in_again
def session_keepalive(request: HttpRequest, pk: int) -> HttpResponse:
    """Heartbeat of an open notebook page: keeps the owner's session from timing out on
    servers that end idle sessions (Fabric). Answers 204; a failure is logged, not shown."""
    session = get_object_or_404(SparkSession.objects.filter(owner=request.user, active=True), pk=pk)
    notices: list[str] = []
    _attempt(notices, "", lifecycle.keep_alive, session, client=_client(request))
    if notices:
        log.info("keep-alive of session %s failed: %s", session.pk, notices[0])
    return HttpResponse(status=204)
