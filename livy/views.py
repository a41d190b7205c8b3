"""Pages, polls, actions and downloads of the notebook. Thin: a view finds the rows the user
may see (404 otherwise), checks what they may do, then

* a page or a poll (the dispatch POST included) hands its :class:`~livy.delta.Scope` to
  :mod:`livy.delta` (the poll protocol: it refreshes the rows from Livy and renders the
  page or the delta);
* an action calls one lifecycle function (``session_restart`` two: stop, then start); the
  ones that change what the page shows end in :func:`_answer_post`, the keep-alive answers
  204 and the completion JSON;
* a download reads a row and writes a file (:mod:`livy.output`, :mod:`livy.export`).

Livy failures become notices in the page (:func:`livy.notices.notice_on_error`), never a
500; an expired sign-in (:class:`~livy.remote.errors.LivySignInRequired`) is answered by
:class:`livy.middleware.LivySignInMiddleware`. Every view is either a :func:`read_view`
(GET: pages, polls, downloads; reads only) or an :func:`action_view` (POST with Django's
CSRF check: every state change, and the poll that sends queued code).

The page's script posts the forms itself and asks for a fragment (:func:`_wants_fragment`):
it gets the delta of its page; a plain browser (no JavaScript) gets a redirect, or for a Run
that failed the notebook with the code kept in the editor.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.db.models import Count
from django.http import HttpRequest, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from livy import delta, export, lifecycle, output, selectors
from livy.clients import livy_client
from livy.forms import RunForm, statement_kinds
from livy.health import livy_status
from livy.models import SparkSession, Statement
from livy.notebooks import selectors as notebook_selectors
from livy.notices import notice_on_error
from livy.remote.client import LivyClient
from myapp.config import current_config

log = logging.getLogger(__name__)

#: Lines of the Livy session log shown on the log page.
LOG_LINES = 200
#: Kinds whose completion the editor asks Livy for. Apache Livy 0.9 completes Scala only
#: (``SparkInterpreter.completeCandidates``); its Python and SQL interpreters answer ``[]``,
#: so asking for them would only cost a request per pause in typing.
COMPLETING_KINDS = ("spark",)

View = TypeVar("View", bound=Callable[..., HttpResponse])


def read_view(view: View) -> View:
    """A view that only reads: signed-in users (others are sent to sign in), GET only (405)."""
    return cast(View, login_required(require_GET(view)))


def action_view(permission: str | None = None) -> Callable[[View], View]:
    """A view that acts: signed-in users (others are sent to sign in), POST only (405; the
    CSRF middleware checks the token), and ``permission`` (such as ``livy.run_code``;
    403 without it) when given. Checks of the object itself (owner, ``can_stop``) stay in
    the view."""

    def decorate(view: View) -> View:
        checked: Callable[..., HttpResponse] = view
        if permission is not None:
            checked = permission_required(permission, raise_exception=True)(checked)
        return cast(View, login_required(require_POST(checked)))

    return decorate


def _wants_fragment(request: HttpRequest) -> bool:
    """True when the page's script sent the request and wants a fragment (a delta, or 204 with
    ``X-Livy-Redirect``) instead of a page or a redirect: the app's header
    ``X-Livy-Fragment: 1``, sent by frontend/src/app/fragment.js. The one place that decides it."""
    return request.headers.get("X-Livy-Fragment") == "1"


def _client(request: HttpRequest) -> LivyClient:
    """This request's Livy client, with the user's token provider (Fabric)."""
    return livy_client(request.session)


def _answer_post(request: HttpRequest, notices: list[str], scope: delta.Scope | None = None) -> HttpResponse:
    """How every action ends: a fragment request gets the delta of the page the form is on
    (``scope``, else the posted ``scope`` field: :func:`livy.delta.posted_scope`), with the
    notices; a plain browser is redirected to that page, the notices as messages."""
    scope = scope or delta.posted_scope(request)
    if _wants_fragment(request):
        return delta.render(request, scope, notices, action=True)
    for notice in notices:
        messages.error(request, notice)
    if scope.name == "session" and scope.session is not None:
        return redirect("livy:session_detail", scope.session.pk)
    return redirect("livy:notebook")


def _notebook_page(request: HttpRequest, notices: list[str], *, code: str = "", kind: str = "") -> HttpResponse:
    """The notebook page (rows as they are; the caller refreshed them if it should), with
    ``code`` and ``kind`` in the editor."""
    context = delta.page_context(request, delta.notebook_scope(request), notices)
    context["form"] = RunForm(initial={"code": code, "kind": kind or "pyspark"})
    if delta.backend_class().supports_completion and request.user.has_perm("livy.run_code"):
        context["complete_url"] = reverse("livy:complete")
        context["complete_kinds"] = ",".join(COMPLETING_KINDS)
    context["kinds"] = statement_kinds()
    return render(request, "livy/notebook.html", context)


def _run(request: HttpRequest, code: str | None, kind: str, notices: list[str], *,
         page_on_failure: bool) -> HttpResponse:
    """What Run and Re-run share: run ``code`` as a statement of ``kind`` in the user's
    session (started if needed, queued while starting; ``None``: refused, ``notices`` say
    why), waiting up to ``LIVY_RUN_WAIT`` seconds for a quick result, and answer with the
    notebook's delta. A plain browser is redirected to the notebook, or, with
    ``page_on_failure`` and a failure, gets the notebook with the posted code kept in the
    editor."""
    if code is not None:
        with notice_on_error(notices, "Your code was not run: "):
            lifecycle.submit(request.user, code, client=_client(request), kind=kind,
                             wait=current_config().LIVY_RUN_WAIT)
    if page_on_failure and notices and not _wants_fragment(request):
        return _notebook_page(request, notices, code=request.POST.get("code", ""), kind=request.POST.get("kind", ""))
    return _answer_post(request, notices, delta.notebook_scope(request))


# ------------------------------------------------------------------------ pages and polls
@read_view
def notebook(request: HttpRequest) -> HttpResponse:
    """The notebook: the session bar, the user's latest statements across their sessions on
    the configured Livy, and the code editor (``?copy=<pk>`` puts a statement's code in it)."""
    notices: list[str] = []
    delta.load(request, delta.notebook_scope(request), notices)
    code, kind = "", ""
    copy = request.GET.get("copy", "")
    if copy.isdigit():
        source = selectors.statements_visible_to(request.user).filter(pk=int(copy)).first()
        if source is not None:
            code, kind = source.code, source.kind
    return _notebook_page(request, notices, code=code, kind=kind)


@read_view
def notebook_live(request: HttpRequest) -> HttpResponse:
    """The notebook's poll (reads only): :func:`livy.delta.poll` of the notebook scope."""
    return delta.poll(request, delta.notebook_scope(request))


@action_view("livy.run_code")
def notebook_dispatch(request: HttpRequest) -> HttpResponse:
    """The notebook's poll while its owner has statements queued (the session was starting):
    a POST, because it sends them once the session is ready (:func:`livy.delta.dispatch`)."""
    return delta.dispatch(request, delta.notebook_scope(request))


@read_view
def session_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One session and all its statements (the history view), polled like the notebook."""
    session = get_object_or_404(selectors.sessions_visible_to(request.user), pk=pk)
    notices: list[str] = []
    scope = delta.session_scope(session)
    delta.load(request, scope, notices)
    return render(request, "livy/session_detail.html", delta.page_context(request, scope, notices))


@read_view
def live(request: HttpRequest, pk: int) -> HttpResponse:
    """The session page's poll (reads only): :func:`livy.delta.poll` of that session."""
    session = get_object_or_404(selectors.sessions_visible_to(request.user), pk=pk)
    return delta.poll(request, delta.session_scope(session))


@action_view("livy.run_code")
def session_dispatch(request: HttpRequest, pk: int) -> HttpResponse:
    """The poll of a session page whose owner has statements queued while the session
    starts: a POST, because it sends them to Livy once the session is ready."""
    session = get_object_or_404(SparkSession.objects.filter(owner=request.user), pk=pk)
    return delta.dispatch(request, delta.session_scope(session))


@read_view
def session_list(request: HttpRequest) -> HttpResponse:
    """The sessions the user may see, newest first, 25 a page."""
    qs = selectors.sessions_visible_to(request.user).annotate(statement_count=Count("statements")).order_by(
        "-created_at", "-pk"
    )
    if request.GET.get("mine") == "1":
        qs = qs.filter(owner=request.user)
    page = Paginator(qs, 25).get_page(request.GET.get("page"))
    return render(request, "livy/session_list.html", {"page": page, "mine": request.GET.get("mine") == "1"})


@read_view
def session_log(request: HttpRequest, pk: int) -> HttpResponse:
    """The last :data:`LOG_LINES` lines of the session's Livy log (while Livy still has it);
    on a backend without a log operation (Fabric) no Livy call, and where the log is instead."""
    session = get_object_or_404(selectors.sessions_visible_to(request.user), pk=pk)
    lines: list[str] = []
    notices: list[str] = []
    elsewhere = lifecycle.session_log_elsewhere(session)
    if elsewhere:
        notices.append(elsewhere)  # never asked of a Livy without a log operation
    elif not session.livy_id:
        notices.append("This session never reached Livy, so there is no log.")
    else:
        with notice_on_error(notices, "The log could not be read: "):
            lines = lifecycle.session_log_tail(session, LOG_LINES, client=_client(request))
    return render(request, "livy/session_log.html", {"session": session, "lines": lines, "notices": notices})


@read_view
def livy_status_view(request: HttpRequest) -> HttpResponse:
    """Whether Livy answers and its version (cached :data:`livy.health.STATUS_TTL` seconds),
    as a fragment the notebook asks for once it has loaded, so a slow Livy never delays the page."""
    status = livy_status(_client(request))
    return render(request, "livy/_livy_status.html", {"status": status, "backend": current_config().LIVY_BACKEND})


# -------------------------------------------------------------------------------- actions
@action_view("livy.run_code")
def run(request: HttpRequest) -> HttpResponse:
    """Run the posted ``code`` (of the posted ``kind``) in the user's session."""
    form = RunForm(request.POST)
    if not form.is_valid():
        return _run(request, None, "", [err for errs in form.errors.values() for err in errs], page_on_failure=True)
    return _run(request, form.cleaned_data["code"], form.cleaned_data["kind"], [], page_on_failure=True)


@action_view("livy.run_code")
def statement_rerun(request: HttpRequest, pk: int) -> HttpResponse:
    """Run a statement's code again, with its kind, in the user's own session (started if
    needed): a statement of a session that ended is one click from running again."""
    stmt = get_object_or_404(selectors.statements_visible_to(request.user), pk=pk)
    return _run(request, stmt.code, stmt.kind, [], page_on_failure=False)


@action_view("livy.add_sparksession")
def session_start(request: HttpRequest) -> HttpResponse:
    """Start (or reuse) the user's session without running anything."""
    notices: list[str] = []
    with notice_on_error(notices, "The session could not be started: "):
        lifecycle.ensure_session(request.user, client=_client(request))
    return _answer_post(request, notices)


@action_view()
def session_stop(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop a session: its owner, or a user with ``livy.stop_any_session``."""
    session = get_object_or_404(selectors.sessions_visible_to(request.user), pk=pk)
    if not selectors.can_stop(request.user, session):
        return HttpResponse("You may not stop this session.", status=403)
    notices: list[str] = []
    with notice_on_error(notices, "The session could not be stopped: "):
        lifecycle.stop_session(session, client=_client(request))
    return _answer_post(request, notices)


@action_view("livy.add_sparksession")
def session_restart(request: HttpRequest, pk: int) -> HttpResponse:
    """Stop the user's session and start a new one: the way out of a statement stuck in
    ``cancelling`` (Python code on the driver cannot be interrupted; Livy keeps the session
    busy until it ends). The session's variables are lost. The new one is started only once
    the old one is stopped."""
    session = get_object_or_404(SparkSession.objects.filter(owner=request.user), pk=pk)
    notices: list[str] = []
    client = _client(request)
    with notice_on_error(notices, "The session could not be stopped: "):
        lifecycle.stop_session(session, client=client)
        with notice_on_error(notices, "The new session could not be started: "):
            lifecycle.ensure_session(request.user, client=client)
    return _answer_post(request, notices)


@action_view()
def statement_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel a statement: its author, the session's owner, or ``livy.stop_any_session``."""
    stmt = get_object_or_404(selectors.statements_visible_to(request.user), pk=pk)
    if not (stmt.author_id == request.user.pk or selectors.can_stop(request.user, stmt.session)):
        return HttpResponse("You may not cancel this statement.", status=403)
    notices: list[str] = []
    with notice_on_error(notices, "The statement could not be cancelled: "):
        lifecycle.cancel(stmt, client=_client(request), actor=request.user)
    return _answer_post(request, notices)


@action_view()
def session_keepalive(request: HttpRequest, pk: int) -> HttpResponse:
    """Heartbeat of an open notebook page: keeps the owner's session from timing out on
    servers that end idle sessions (Fabric). Answers 204; a failure is logged, not shown."""
    session = get_object_or_404(SparkSession.objects.filter(owner=request.user, active=True), pk=pk)
    notices: list[str] = []
    with notice_on_error(notices):
        lifecycle.keep_alive(session, client=_client(request))
    if notices:
        log.info("keep-alive of session %s failed: %s", session.pk, notices[0])
    return HttpResponse(status=204)


@action_view("livy.run_code")
def statement_completion(request: HttpRequest) -> HttpResponse:
    """Completions for the editor: ``code``, ``kind`` and ``cursor`` (a character offset)
    are sent to Livy's REPL in the user's active session, when it is idle. Answers
    ``{"candidates": [...]}`` (empty when there is no idle session, or on a Livy error)."""
    session = selectors.active_session(request.user)
    cursor = request.POST.get("cursor", "")
    kind = request.POST.get("kind", "pyspark")
    if session is None or not cursor.isdigit() or kind not in statement_kinds():
        return JsonResponse({"candidates": []})
    found: list[str] = []
    with notice_on_error([]):  # a Livy failure is no news to someone typing: no candidates
        found = lifecycle.complete(session, request.POST.get("code", ""), kind, int(cursor), client=_client(request))
    return JsonResponse({"candidates": list(found)})


# ------------------------------------------------------------------------------ downloads
def _download_name(stmt: Statement, suffix: str) -> str:
    return f"statement-{stmt.pk}.{suffix}"


@read_view
def statement_csv(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole table of a statement (every row Livy returned, not only those shown) as CSV.
    Also for those a notebook that ran it is shared with (:func:`livy.notebooks.selectors.downloadable_statements`)."""
    stmt = get_object_or_404(notebook_selectors.downloadable_statements(request.user), pk=pk)
    table = output.result_table(stmt.output)
    if table is None:
        return HttpResponse("This statement has no table.", status=404, content_type="text/plain")
    response = StreamingHttpResponse(output.table_csv(table), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{_download_name(stmt, "csv")}"'
    return response


@read_view
def statement_output_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole text output of a statement (the page shows only its start when it is big).
    Also for those a notebook that ran it is shared with (:func:`livy.notebooks.selectors.downloadable_statements`)."""
    stmt = get_object_or_404(notebook_selectors.downloadable_statements(request.user), pk=pk)
    whole = output.full_text(stmt.output)
    if whole is None:
        return HttpResponse("This statement has no text output.", status=404, content_type="text/plain")
    text, suffix = whole
    content_type = "application/json" if suffix == "json" else "text/plain; charset=utf-8"
    response = HttpResponse(text.encode("utf-8"), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{_download_name(stmt, suffix)}"'
    return response


@read_view
def session_export(request: HttpRequest, pk: int) -> HttpResponse:
    """The session as a Python file (:func:`livy.export.session_python`)."""
    session = get_object_or_404(selectors.sessions_visible_to(request.user), pk=pk)
    statements = selectors.with_positions(session.statements.all()).order_by("pk")
    text = export.session_python(session, statements, backend=current_config().LIVY_BACKEND)
    response = HttpResponse(text, content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{export.file_name(session)}"'
    return response
