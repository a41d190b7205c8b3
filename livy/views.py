"""Pages and fragments of the notebook. Thin: each view checks permissions, calls one
lifecycle function or selector and renders; Livy failures become messages in the page,
never a 500.

Two pages show statements, each a *scope* (:class:`_Scope`): the notebook (the user's
latest :data:`NOTEBOOK_STATEMENTS` statements across their sessions on the configured Livy)
and a session's page (its whole history). Both are rendered once; then ``static/livy/notebook.js``
polls for a *delta* (``livy/_delta.html``, :func:`_delta`): the session bar, the current
render of the statements the page lists as unfinished (``open=pk,pk``) and the statements
newer than the largest the page shows (``after=pk``). A finished output is sent once.

GET polls only read. Sending queued statements is a POST (``notebook_dispatch``,
``session_dispatch``), used by the page while its owner has statements queued.

Every state change is a POST with Django's CSRF check. notebook.js posts the forms itself
(sending ``HX-Request``) and gets the same delta; a plain browser (no JavaScript) gets a
redirect or the full page (:func:`_answer_post`).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from livy import lifecycle, output, selectors
from livy.clients import current_config, livy_client
from livy.forms import KIND_LABELS, RunForm, statement_kinds
from livy.health import livy_status
from livy.models import SparkSession, Statement
from livy.remote.backends import BACKEND_CLASSES, LivyBackend
from livy.remote.client import LivyClient
from livy.remote.errors import LivyError, LivySignInRequired
from livy.remote.states import SessionState

log = logging.getLogger(__name__)

#: Lines of the Livy session log shown on the log page.
LOG_LINES = 200
#: Statements the notebook shows: the user's latest, across their sessions on the configured
#: Livy (the session page shows all of one session).
NOTEBOOK_STATEMENTS = 50
#: Most pks a poll's ``open`` list is read for (a page has at most this many unfinished).
MAX_OPEN = 200
#: Kinds whose completion the editor asks Livy for. Apache Livy 0.9 completes Scala only
#: (``SparkInterpreter.completeCandidates``); its Python and SQL interpreters answer ``[]``,
#: so asking for them would only cost a request per pause in typing.
COMPLETING_KINDS = ("spark",)


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("X-Livy-Fragment") == "1" or request.headers.get("HX-Request") == "true"


def _client(request: HttpRequest) -> LivyClient:
    """This request's Livy client, with the user's token provider (Fabric)."""
    return livy_client(request.session)


def _sign_in_again(request: HttpRequest) -> HttpResponse:
    """Send the user through Entra sign-in and back to the page they were on. The code in
    the editor is kept by the page itself (notebook.js keeps the draft in the browser)."""
    page = urlsplit(request.headers.get("X-Livy-Page") or request.headers.get("HX-Current-URL", "")).path or (
        request.path if request.method == "GET" and not _is_htmx(request) else reverse("livy:notebook")
    )
    target = reverse("entra_login") if current_config().entra_enabled else reverse("login")
    url = f"{target}?{urlencode({'next': page})}"
    if _is_htmx(request):
        response = HttpResponse(status=204)
        response["HX-Redirect"] = response["X-Livy-Redirect"] = url
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


# ------------------------------------------------------------------------------- scopes
@dataclass
class _Scope:
    """What a page shows and polls. ``name`` is ``notebook`` (the user's latest statements
    across their sessions on the configured Livy) or ``session`` (one session's history);
    ``session`` is the one in the session bar (None: the user never had one); ``limit`` the
    most statements shown (None: all); ``field`` the value of the ``scope`` field the page's
    forms post, so their answer (or redirect) is about this page."""

    name: str
    session: SparkSession | None
    statements: QuerySet[Statement]
    limit: int | None
    live_url: str
    dispatch_url: str
    field: str


def _notebook_scope(request: HttpRequest) -> _Scope:
    cfg = current_config()
    return _Scope("notebook", selectors.latest_session(request.user, cfg=cfg),
                  selectors.notebook_scope(request.user, cfg=cfg), NOTEBOOK_STATEMENTS,
                  reverse("livy:notebook_live"), reverse("livy:notebook_dispatch"), "notebook")


def _session_scope(session: SparkSession) -> _Scope:
    return _Scope("session", session, session.statements.all(), None, reverse("livy:live", args=[session.pk]),
                  reverse("livy:dispatch", args=[session.pk]), str(session.pk))


def _param(request: HttpRequest, name: str) -> str:
    """A parameter from the POST body or the query string."""
    return str(request.POST.get(name) or request.GET.get(name) or "")


def _scope(request: HttpRequest) -> _Scope:
    """The scope of the page a request came from: its ``scope`` parameter (a session pk the
    user may see), else the notebook. Computed after the action, so it shows its effect."""
    value = _param(request, "scope")
    if value.isdigit():
        session = selectors.sessions_visible_to(request.user).filter(pk=int(value)).first()
        if session is not None:
            return _session_scope(session)
    return _notebook_scope(request)


def _open_pks(request: HttpRequest) -> list[int]:
    """The ``open`` parameter: pks of the statements the page shows unfinished."""
    return [int(pk) for pk in re.findall(r"\d+", _param(request, "open"))[:MAX_OPEN]]


def _after(request: HttpRequest) -> int | None:
    """The ``after`` parameter: the largest statement pk the page shows (None: a full render)."""
    value = _param(request, "after")
    return int(value) if value.isdigit() else None


def _backend() -> type[LivyBackend]:
    return BACKEND_CLASSES.get(current_config().LIVY_BACKEND, LivyBackend)


def _refresh(request: HttpRequest, scope: _Scope, notices: list[str], *, open_pks: Iterable[int] = (),
             dispatch: bool = False, verify: bool = False, wait: float = 0.0) -> None:
    """Refresh the scope's session from Livy, and the sessions of the unfinished statements
    the page lists (a session that ended settles its statements). Only the bar's session is
    dispatched (``dispatch``: a POST by its owner, waiting up to ``wait`` seconds for the
    first statement it sends) or verified (``verify``: a page load)."""
    sessions = [scope.session] if scope.session is not None else []
    others = selectors.open_sessions_of(scope.statements, open_pks)
    if scope.session is not None:
        others = others.exclude(pk=scope.session.pk)
    sessions += list(others)
    if not sessions:
        return
    client = _client(request)
    for session in sessions:
        found: list[str] = []
        bar = session is scope.session
        _attempt(found, "", lifecycle.refresh, session, client=client, actor=request.user,
                 dispatch=dispatch and bar, verify=verify and bar, wait=wait if bar else 0.0)
        notices.extend(n for n in found if n not in notices)


def _stamp(scope: _Scope) -> str:
    """What the session bar was rendered from: the session, its state and its last write
    (every write of a session row that changes what the bar shows sets ``updated_at`` or the
    state). Sent with each delta (``data-stamp``) and back with the next poll."""
    session = scope.session
    if session is None:
        return "none"
    return f"{session.pk}:{session.state}:{session.updated_at.timestamp():.6f}"


def _unchanged(request: HttpRequest, scope: _Scope) -> HttpResponse | None:
    """204 (and ``X-Livy-Live: false``) for a poll that would carry nothing: the page lists
    no unfinished statement, shows the newest one (``after``), its session bar is current
    (``stamp``), and nothing needs Livy (the session is idle or ended, no statement of the
    scope is unfinished). Two or three small queries instead of a rendered delta, so pages
    left polling cost little (``make bench-livy`` measures it). None: answer with a delta."""
    stamp = request.GET.get("stamp")
    after = _after(request)
    if not stamp or after is None or _open_pks(request) or stamp != _stamp(scope):
        return None
    session = scope.session
    if session is not None and not session.is_terminal and session.session_state is not SessionState.IDLE:
        return None
    newest = scope.statements.order_by("-pk").values_list("pk", flat=True).first()
    if (newest or 0) > after or selectors.scope_is_live(scope.statements, session):
        return None
    response = HttpResponse(status=204)
    response["X-Livy-Live"] = "false"
    return response


def _dispatch_url(request: HttpRequest, scope: _Scope) -> str:
    """The scope's dispatch URL while the viewer owns the session, may run code, and the
    session has queued statements (then the page polls with POSTs, which send them); else ""."""
    session = scope.session
    if (session is None or session.is_terminal or session.owner_id != request.user.pk
            or not request.user.has_perm("livy.run_code") or not selectors.has_queued(session)):
        return ""
    return scope.dispatch_url


def _items(statements: list[Statement], previous: SparkSession | None) -> list[tuple[str, Any]]:
    """The statements to draw, with a ``("divider", (ended, started))`` item wherever the
    session changes (``previous``: the session of the statement drawn just before)."""
    items: list[tuple[str, Any]] = []
    for stmt in statements:
        if previous is not None and stmt.session_id != previous.pk:
            items.append(("divider", (previous, stmt.session)))
        items.append(("statement", stmt))
        previous = stmt.session
    return items


def _bar_context(request: HttpRequest, scope: _Scope, notices: list[str]) -> dict[str, Any]:
    """What the session bar and every statement need (the page and each delta)."""
    session = scope.session
    user = request.user
    owner = session is not None and session.owner_id == user.pk
    backend = _backend()
    cancelling = session is not None and not session.is_terminal and session.statements.filter(
        state="cancelling").exists()
    cfg = current_config()
    keepalive = cfg.LIVY_KEEPALIVE_INTERVAL if backend.supports_reset_timeout else None
    return {
        "scope": scope,
        "session": session,
        "notices": notices,
        "is_owner": owner,
        "can_stop": session is not None and selectors.can_stop(user, session),
        "may_start": (session is None or owner) and user.has_perm("livy.add_sparksession"),
        "may_restart": cancelling and owner and user.has_perm("livy.add_sparksession"),
        "supports_log": backend.supports_log,
        "dispatch_url": _dispatch_url(request, scope),
        "keepalive_interval": keepalive if owner and session is not None and not session.is_terminal else None,
        "live": selectors.scope_is_live(scope.statements, session),
        "stamp": _stamp(scope),
        "kind_labels": KIND_LABELS,
    }


def _page_context(request: HttpRequest, scope: _Scope, notices: list[str]) -> dict[str, Any]:
    """The whole page: the session bar and every statement of the scope (the latest
    ``limit``), with how many earlier ones are left out."""
    if scope.name == "notebook":
        statements = selectors.notebook_statements(request.user, limit=NOTEBOOK_STATEMENTS)
    else:
        statements = selectors.statements_changed(scope.statements, open_pks=(), after=None)[1]
    hidden = 0
    if scope.limit is not None and len(statements) >= scope.limit:
        hidden = scope.statements.count() - len(statements)
    context = _bar_context(request, scope, notices)
    context.update({
        "items": _items(statements, None),
        "hidden": hidden,
        "after": statements[-1].pk if statements else 0,
        "newest_pk": statements[-1].pk if statements else 0,
        "poll_cap": current_config().LIVY_POLL_INTERVAL,
    })
    return context


def _delta(request: HttpRequest, scope: _Scope, notices: list[str], *, action: bool = False) -> HttpResponse:
    """The answer to a poll or to an action of the page: the session bar, the statements the
    page lists in ``open`` (rendered without their code, which the page has), the ones newer
    than ``after`` (with a divider where the session changes), the notices, and whether to
    keep polling (``data-live``) and how (``data-dispatch-url``). Without ``after``, every
    statement of the scope (the latest ``limit``)."""
    after = _after(request)
    updated, new = selectors.statements_changed(scope.statements, open_pks=_open_pks(request), after=after,
                                                limit=scope.limit)
    previous = None
    if after is not None and new:
        previous = SparkSession.objects.filter(statements__pk=after).first()
    context = _bar_context(request, scope, notices)
    newest = max([after or 0] + [s.pk for s in new])
    context.update({
        "updated": updated,
        "items": _items(new, previous),
        "after": newest,
        "newest_pk": newest,
        "source": "action" if action else "poll",
    })
    return render(request, "livy/_delta.html", context)


def _active(request: HttpRequest) -> SparkSession | None:
    return selectors.active_session(request.user, cfg=current_config())


def _notebook(request: HttpRequest, notices: list[str], code: str = "", status: int = 200,
              kind: str = "") -> HttpResponse:
    context = _page_context(request, _notebook_scope(request), notices)
    context["form"] = RunForm(initial={"code": code, "kind": kind or "pyspark"})
    backend = _backend()
    if backend.supports_completion and request.user.has_perm("livy.run_code"):
        context["complete_url"] = reverse("livy:complete")
        context["complete_kinds"] = ",".join(COMPLETING_KINDS)
    context["kinds"] = statement_kinds()
    return render(request, "livy/notebook.html", context, status=status)


def _answer_post(request: HttpRequest, notices: list[str]) -> HttpResponse:
    """How every state-changing POST ends: notebook.js (``HX-Request``) gets the delta of the
    page the form is on, with the notices; a plain browser is redirected to that page, the
    notices as messages."""
    scope = _scope(request)
    if _is_htmx(request):
        return _delta(request, scope, notices, action=True)
    for notice in notices:
        messages.error(request, notice)
    if scope.name == "session" and scope.session is not None:
        return redirect("livy:session_detail", scope.session.pk)
    return redirect("livy:notebook")


@login_required
@require_GET
@signs_in_again
def notebook(request: HttpRequest) -> HttpResponse:
    """The notebook: the session bar, the user's latest statements across their sessions on
    the configured Livy, and the code editor (``?copy=<pk>`` puts a statement's code in it)."""
    notices: list[str] = []
    scope = _notebook_scope(request)
    _refresh(request, scope, notices, verify=True)
    code, kind = "", ""
    copy = request.GET.get("copy", "")
    if copy.isdigit():
        source = selectors.statements_visible_to(request.user).filter(pk=int(copy)).first()
        if source is not None:
            code, kind = source.code, source.kind
    return _notebook(request, notices, code=code, kind=kind)


@login_required
@require_GET
@signs_in_again
def notebook_live(request: HttpRequest) -> HttpResponse:
    """The notebook's poll (reads only): a delta (:func:`_delta`) of the notebook scope, or
    204 when nothing changed (:func:`_unchanged`)."""
    scope = _notebook_scope(request)
    if (unchanged := _unchanged(request, scope)) is not None:
        return unchanged
    notices: list[str] = []
    _refresh(request, scope, notices, open_pks=_open_pks(request))
    return _delta(request, scope, notices)


@login_required
@require_POST
@permission_required("livy.run_code", raise_exception=True)
@signs_in_again
def notebook_dispatch(request: HttpRequest) -> HttpResponse:
    """The notebook's poll while its owner has statements queued (the session was starting):
    a POST, because it sends them once the session is ready. Answers the same delta."""
    scope = _notebook_scope(request)
    notices: list[str] = []
    _refresh(request, scope, notices, open_pks=_open_pks(request), dispatch=True,
             wait=current_config().LIVY_RUN_WAIT)
    return _delta(request, scope, notices)


@login_required
@require_GET
@signs_in_again
def live(request: HttpRequest, pk: int) -> HttpResponse:
    """The session page's poll (reads only): a delta (:func:`_delta`) of that session, or 204
    when nothing changed (:func:`_unchanged`)."""
    session = get_object_or_404(selectors.sessions_visible_to(request.user), pk=pk)
    if (unchanged := _unchanged(request, _session_scope(session))) is not None:
        return unchanged
    notices: list[str] = []
    _refresh(request, _session_scope(session), notices)
    return _delta(request, _session_scope(session), notices)


@login_required
@require_POST
@permission_required("livy.run_code", raise_exception=True)
@signs_in_again
def session_dispatch(request: HttpRequest, pk: int) -> HttpResponse:
    """The poll of a page whose owner has statements queued while the session starts: a
    POST, because it sends them to Livy once the session is ready (GET polls only read)."""
    session = get_object_or_404(SparkSession.objects.filter(owner=request.user), pk=pk)
    notices: list[str] = []
    _attempt(notices, "", lifecycle.refresh, session, client=_client(request), actor=request.user, dispatch=True,
             wait=current_config().LIVY_RUN_WAIT)
    return _delta(request, _session_scope(session), notices)


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
                 client=_client(request), kind=form.cleaned_data["kind"], wait=current_config().LIVY_RUN_WAIT)
    if _is_htmx(request):
        return _delta(request, _notebook_scope(request), notices, action=True)
    if notices:
        return _notebook(request, notices, code=request.POST.get("code", ""), status=200,
                         kind=request.POST.get("kind", ""))
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
    return _answer_post(request, notices)


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
    return _answer_post(request, notices)


@login_required
@require_POST
@signs_in_again
def statement_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel a statement: its author, the session's owner, or ``livy.stop_any_session``."""
    stmt = get_object_or_404(selectors.statements_visible_to(request.user), pk=pk)
    if not (stmt.author_id == request.user.pk or selectors.can_stop(request.user, stmt.session)):
        return HttpResponse("You may not cancel this statement.", status=403)
    notices: list[str] = []
    _attempt(notices, "The statement could not be cancelled: ", lifecycle.cancel, stmt, client=_client(request),
             actor=request.user)
    return _answer_post(request, notices)


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
    """One session and all its statements (the history view), polled like the notebook."""
    session = get_object_or_404(selectors.sessions_visible_to(request.user), pk=pk)
    notices: list[str] = []
    scope = _session_scope(session)
    _refresh(request, scope, notices, verify=True)
    return render(request, "livy/session_detail.html", _page_context(request, scope, notices))


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


# --------------------------------------------------------------------------- notebook extras
@login_required
@require_POST
@permission_required("livy.run_code", raise_exception=True)
@signs_in_again
def statement_rerun(request: HttpRequest, pk: int) -> HttpResponse:
    """Run a statement's code again, with its kind, in the user's own session (started if
    needed): a statement of a session that ended is one click from running again."""
    stmt = get_object_or_404(selectors.statements_visible_to(request.user), pk=pk)
    notices: list[str] = []
    _attempt(notices, "Your code was not run: ", lifecycle.submit, request.user, stmt.code,
             client=_client(request), kind=stmt.kind, wait=current_config().LIVY_RUN_WAIT)
    if _is_htmx(request):
        return _delta(request, _notebook_scope(request), notices, action=True)
    for notice in notices:
        messages.error(request, notice)
    return redirect("livy:notebook")


@login_required
@require_POST
@permission_required("livy.add_sparksession", raise_exception=True)
@signs_in_again
def session_restart(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop the user's session and start a new one: the way out of a statement stuck in
    ``cancelling`` (Python code on the driver cannot be interrupted; Livy keeps the session
    busy until it ends). The session's variables are lost."""
    session = get_object_or_404(SparkSession.objects.filter(owner=request.user), pk=pk)
    notices: list[str] = []
    client = _client(request)
    stopped = _attempt(notices, "The session could not be stopped: ", lifecycle.stop_session, session, client=client)
    if stopped is not None:
        _attempt(notices, "The new session could not be started: ", lifecycle.ensure_session, request.user,
                 client=client)
    return _answer_post(request, notices)


@login_required
@require_POST
@permission_required("livy.run_code", raise_exception=True)
@signs_in_again
def statement_completion(request: HttpRequest) -> HttpResponse:
    """Completions for the editor: ``code``, ``kind`` and ``cursor`` (a character offset)
    are sent to Livy's REPL in the user's active session, when it is idle. Answers
    ``{"candidates": [...]}`` (empty when there is no idle session, or on a Livy error)."""
    session = _active(request)
    cursor = request.POST.get("cursor", "")
    kind = request.POST.get("kind", "pyspark")
    if session is None or not cursor.isdigit() or kind not in statement_kinds():
        return JsonResponse({"candidates": []})
    notices: list[str] = []
    found = _attempt(notices, "", lifecycle.complete, session, request.POST.get("code", ""), kind, int(cursor),
                     client=_client(request))
    return JsonResponse({"candidates": list(found or [])})


def _download_name(stmt: Statement, suffix: str) -> str:
    return f"statement-{stmt.pk}.{suffix}"


@login_required
@require_GET
def statement_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole table of a statement (every row Livy returned, not only those shown) as CSV."""
    stmt = get_object_or_404(selectors.statements_visible_to(request.user), pk=pk)
    table = output.result_table(stmt.output)
    if table is None:
        return HttpResponse("This statement has no table.", status=404, content_type="text/plain")
    response = StreamingHttpResponse(output.table_csv(table), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_download_name(stmt, "csv")}"'
    return response


@login_required
@require_GET
def statement_output_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole text output of a statement (the page shows only its start when it is big)."""
    stmt = get_object_or_404(selectors.statements_visible_to(request.user), pk=pk)
    whole = output.full_text(stmt.output)
    if whole is None:
        return HttpResponse("This statement has no text output.", status=404, content_type="text/plain")
    text, suffix = whole
    content_type = "application/json" if suffix == "json" else "text/plain; charset=utf-8"
    response = HttpResponse(text.encode("utf-8"), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{_download_name(stmt, suffix)}"'
    return response


@login_required
@require_GET
def session_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The session as a Python file: the statements' code in order, each headed by its
    number, kind and state, with its output (or error) as comments. PySpark code is written as
    it is; Spark SQL as ``spark.sql(r\"\"\"...\"\"\").show()`` (a comment block if the query
    holds triple quotes); Scala as a comment block (Python cannot run it)."""
    session = get_object_or_404(selectors.sessions_visible_to(request.user), pk=pk)
    statements = list(selectors.with_positions(session.statements.all()).order_by("pk"))
    lines = [
        f"# {session.name}: exported from Livy web",
        f"# {current_config().LIVY_BACKEND} Livy, owner {session.owner}, started {session.created_at:%Y-%m-%d %H:%M:%S %Z}",
        "# Statements in the order they ran; outputs and errors are comments. Spark SQL is written",
        '# as spark.sql(r"""...""").show(), Scala as a comment block.',
        "",
    ]
    for stmt in statements:
        lines.append(f"# [{stmt.position}] {KIND_LABELS.get(stmt.kind, stmt.kind)} · {stmt.state}"
                     f" · {stmt.created_at:%Y-%m-%d %H:%M:%S}")
        lines.extend(_export_code(stmt))
        shown = output.output_summary_lines(stmt.output)
        if stmt.error_name:
            shown = [f"{stmt.error_name}: {stmt.error_value}".rstrip(": ")]
        if shown:
            lines.append("# Output:")
            lines.extend(f"# {line}".rstrip() for line in shown)
        lines.append("")
    response = HttpResponse("\n".join(lines) + "\n", content_type="text/x-python; charset=utf-8")
    safe = re.sub(r"[^\w.-]+", "-", session.name) or f"session-{session.pk}"
    response["Content-Disposition"] = f'attachment; filename="{safe}.py"'
    return response


def _export_code(stmt: Statement) -> list[str]:
    code = stmt.code.rstrip("\n")
    if stmt.kind == "sql" and '"""' not in code and not code.endswith("\\"):
        return [f'spark.sql(r"""{code}""").show()']
    if stmt.kind in ("pyspark", "python"):
        return code.splitlines() or [""]
    label = KIND_LABELS.get(stmt.kind, stmt.kind)
    return [f"# --- {label} ---"] + [f"# {line}".rstrip() for line in code.splitlines()] + [f"# --- end of {label} ---"]


@login_required
@require_GET
def livy_status_view(request: HttpRequest) -> HttpResponse:
    """Whether Livy answers and its version (cached :data:`livy.health.STATUS_TTL` seconds),
    as a fragment the notebook asks for once it has loaded, so a slow Livy never delays the page."""
    status = livy_status(_client(request))
    return render(request, "livy/_livy_status.html", {"status": status, "backend": current_config().LIVY_BACKEND})
