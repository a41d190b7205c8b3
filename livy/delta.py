"""The notebook's poll protocol: a page is rendered once, then kept current by *deltas*.

Two pages show statements, each a :class:`Scope`: the notebook (the user's latest
:data:`NOTEBOOK_STATEMENTS` statements across their sessions on the configured Livy, with the
user's latest session in the session bar) and a session's page (that session's whole
history). Both render ``livy/_page.html`` (:func:`page_context`), whose ``#live`` element
carries what the page's script needs to poll: ``data-live-url``, ``data-after``,
``data-stamp``, ``data-live`` and, while the owner has statements queued,
``data-dispatch-url``.

**What a poll sends** (query string of a ``GET`` to ``live_url``, or the body of a ``POST``
to ``dispatch_url``):

* ``open=pk,pk,...``: the statements the page shows unfinished (at most :data:`MAX_OPEN`;
  pks the user may not see, or of another scope, are ignored);
* ``after=pk``: the largest statement pk the page shows (absent: answer every statement of
  the scope, as a full render would);
* ``stamp``: the ``data-stamp`` of the last answer, what the session bar was drawn from
  (:func:`stamp`: session pk, state and last write).

**The answers.** ``204`` with ``X-Livy-Live: false`` when the poll would carry nothing
(:func:`_unchanged`: nothing open, nothing newer than ``after``, the stamp current, nothing
for Livy to do): the page stops polling. Otherwise a delta, ``livy/_delta.html``
(:func:`render`), a ``#delta`` element holding

* ``data-live`` (keep polling?), ``data-after`` (the new largest pk), ``data-stamp``,
  ``data-dispatch-url`` (poll with POSTs, which send queued code) and ``data-source``
  (``poll``, or ``action`` for the answer to a form the page posted);
* the notices (Livy failures, as messages) and the session bar, drawn whole;
* ``#delta-updated``: the current render of each ``open`` statement, *without its code*
  (the page has it), so a statement that finished is sent once with its output;
* ``#delta-new``: the statements newer than ``after``, whole, with a divider wherever the
  session changes.

**GET polls only read**; code is sent only by the dispatch POST of the session's owner
(:func:`dispatch`). Before answering, each poll brings the rows up to date from Livy
(:func:`_refresh`: the bar's session and the sessions of the ``open`` statements, with as few
Livy calls as :func:`livy.lifecycle.poll` needs). A page load verifies the bar's session
(:func:`load`). This module is the only caller of the lifecycle's refresh in the views.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render as render_template
from django.urls import reverse

from livy import lifecycle, selectors
from livy.clients import livy_client
from livy.forms import KIND_LABELS
from livy.models import SparkSession, Statement
from livy.notices import notice_on_error
from livy.remote.backends import BACKEND_CLASSES, LivyBackend
from livy.remote.states import SessionState
from myapp.config import current_config

#: Statements the notebook shows: the user's latest, across their sessions on the configured
#: Livy (the session page shows all of one session).
NOTEBOOK_STATEMENTS = 50
#: Most pks a poll's ``open`` list is read for (a page has at most this many unfinished).
MAX_OPEN = 200


# ------------------------------------------------------------------------------- scopes
@dataclass
class Scope:
    """What a page shows and polls. ``name`` is ``notebook`` (the user's latest statements
    across their sessions on the configured Livy) or ``session`` (one session's history);
    ``session`` is the one in the session bar (None: the user never had one); ``statements``
    every statement the page may show; ``limit`` the most statements shown (None: all);
    ``live_url`` and ``dispatch_url`` where the page polls (GET) and dispatches (POST);
    ``field`` the value of the ``scope`` field the page's forms post, so their answer (or
    redirect) is about this page."""

    name: str
    session: SparkSession | None
    statements: QuerySet[Statement]
    limit: int | None
    live_url: str
    dispatch_url: str
    field: str


def notebook_scope(request: HttpRequest) -> Scope:
    """The notebook of the signed-in user: their latest session and statements on the
    configured Livy."""
    return Scope("notebook", selectors.latest_session(request.user),
                 selectors.notebook_scope(request.user), NOTEBOOK_STATEMENTS,
                 reverse("livy:notebook_live"), reverse("livy:notebook_dispatch"), "notebook")


def session_scope(session: SparkSession) -> Scope:
    """The page of one session: its whole history (the caller checked the user may see it)."""
    return Scope("session", session, session.statements.all(), None, reverse("livy:live", args=[session.pk]),
                 reverse("livy:dispatch", args=[session.pk]), str(session.pk))


def param(request: HttpRequest, name: str) -> str:
    """A parameter from the POST body or the query string ("" when absent)."""
    return str(request.POST.get(name) or request.GET.get(name) or "")


def posted_scope(request: HttpRequest) -> Scope:
    """The scope of the page a request came from: its ``scope`` parameter (a session pk the
    user may see), else the notebook. Computed after the action, so it shows its effect."""
    value = param(request, "scope")
    if value.isdigit():
        session = selectors.sessions_visible_to(request.user).filter(pk=int(value)).first()
        if session is not None:
            return session_scope(session)
    return notebook_scope(request)


def open_pks(request: HttpRequest) -> list[int]:
    """The ``open`` parameter: pks of the statements the page shows unfinished (the first
    :data:`MAX_OPEN`)."""
    return [int(pk) for pk in re.findall(r"\d+", param(request, "open"))[:MAX_OPEN]]


def after(request: HttpRequest) -> int | None:
    """The ``after`` parameter: the largest statement pk the page shows (None: a full render)."""
    value = param(request, "after")
    return int(value) if value.isdigit() else None


def backend_class() -> type[LivyBackend]:
    """The class of the configured backend (``LIVY_BACKEND``): what it supports (log,
    completion, keep-alive)."""
    return BACKEND_CLASSES.get(current_config().LIVY_BACKEND, LivyBackend)


# ------------------------------------------------------------------- refresh from Livy
def _refresh(request: HttpRequest, scope: Scope, notices: list[str], *, open_pks: Iterable[int] = (),
             dispatch: bool = False, verify: bool = False, wait: float = 0.0) -> None:
    """Refresh the scope's session from Livy, and the sessions of the unfinished statements
    the page lists (a session that ended settles its statements). Only the bar's session is
    dispatched (``dispatch``: a POST by its owner, waiting up to ``wait`` seconds for the
    first statement it sends) or verified (``verify``: a page load). Livy failures become
    ``notices`` (each once); :class:`LivySignInRequired` propagates."""
    sessions = [scope.session] if scope.session is not None else []
    others = selectors.open_sessions_of(scope.statements, open_pks)
    if scope.session is not None:
        others = others.exclude(pk=scope.session.pk)
    sessions += list(others)
    if not sessions:
        return
    client = livy_client(request.session)
    for session in sessions:
        found: list[str] = []
        bar = session is scope.session
        with notice_on_error(found):
            if dispatch and bar:
                lifecycle.dispatch(session, client=client, user=request.user, wait=wait)
            elif verify and bar:
                lifecycle.verify(session, client=client, user=request.user)
            else:
                lifecycle.poll(session, client=client, user=request.user)
        notices.extend(n for n in found if n not in notices)


def load(request: HttpRequest, scope: Scope, notices: list[str]) -> None:
    """Before a page is rendered: refresh the scope, verifying that the bar's session is
    still ours and alive on Livy (it may have ended, or Livy restarted, while nobody looked)."""
    _refresh(request, scope, notices, verify=True)


def poll(request: HttpRequest, scope: Scope) -> HttpResponse:
    """The answer to a page's GET poll (reads only): 204 when nothing changed
    (:func:`_unchanged`), else the scope refreshed from Livy and its delta (:func:`render`)."""
    if (unchanged := _unchanged(request, scope)) is not None:
        return unchanged
    notices: list[str] = []
    _refresh(request, scope, notices, open_pks=open_pks(request))
    return render(request, scope, notices)


def dispatch(request: HttpRequest, scope: Scope) -> HttpResponse:
    """The answer to a page's POST poll while its owner has statements queued (the session
    was starting): the bar's session sends them once it is ready, the answer waiting up to
    ``LIVY_RUN_WAIT`` seconds for the first; then the delta (:func:`render`). The caller
    checked that the user owns the session and may run code."""
    notices: list[str] = []
    _refresh(request, scope, notices, open_pks=open_pks(request), dispatch=True,
             wait=current_config().LIVY_RUN_WAIT)
    return render(request, scope, notices)


# --------------------------------------------------------------------------- answers
def stamp(scope: Scope) -> str:
    """What the session bar was rendered from: ``pk:state:updated_at`` of the session (every
    write of a session row that changes what the bar shows sets ``updated_at`` or the
    state), or ``none``. Sent with each delta (``data-stamp``) and back with the next poll."""
    session = scope.session
    if session is None:
        return "none"
    return f"{session.pk}:{session.state}:{session.updated_at.timestamp():.6f}"


def _unchanged(request: HttpRequest, scope: Scope) -> HttpResponse | None:
    """204 (and ``X-Livy-Live: false``) for a poll that would carry nothing: the page lists
    no unfinished statement, shows the newest one (``after``), its session bar is current
    (``stamp``), and nothing needs Livy (the session is idle or ended, no statement of the
    scope is unfinished). Two or three small queries instead of a rendered delta, so pages
    left polling cost little (``make bench-livy`` measures it). None: answer with a delta."""
    sent_stamp = request.GET.get("stamp")
    last = after(request)
    if not sent_stamp or last is None or open_pks(request) or sent_stamp != stamp(scope):
        return None
    session = scope.session
    if session is not None and not session.is_terminal and session.session_state is not SessionState.IDLE:
        return None
    newest = scope.statements.order_by("-pk").values_list("pk", flat=True).first()
    if (newest or 0) > last or selectors.scope_is_live(scope.statements, session):
        return None
    response = HttpResponse(status=204)
    response["X-Livy-Live"] = "false"
    return response


def _dispatch_url(request: HttpRequest, scope: Scope) -> str:
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


def _bar_context(request: HttpRequest, scope: Scope, notices: list[str]) -> dict[str, Any]:
    """What the session bar and every statement need (the page and each delta)."""
    session = scope.session
    user = request.user
    owner = session is not None and session.owner_id == user.pk
    backend = backend_class()
    cancelling = session is not None and not session.is_terminal and selectors.has_cancelling(session)
    keepalive = current_config().LIVY_KEEPALIVE_INTERVAL if backend.supports_reset_timeout else None
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
        "stamp": stamp(scope),
        "kind_labels": KIND_LABELS,
    }


def page_context(request: HttpRequest, scope: Scope, notices: list[str]) -> dict[str, Any]:
    """The context of ``livy/_page.html``: the session bar and every statement of the scope
    (the latest ``limit``), with how many earlier ones are left out (``hidden``), ``after``
    and ``poll_cap`` (``LIVY_POLL_INTERVAL``, the slowest the page polls)."""
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


def render(request: HttpRequest, scope: Scope, notices: list[str], *, action: bool = False) -> HttpResponse:
    """The delta (``livy/_delta.html``) answering a poll, or an action of the page
    (``action``: the answer to a form it posted): the session bar, the statements the page
    lists in ``open`` (rendered without their code, which the page has), the ones newer than
    ``after`` (with a divider where the session changes), the notices, and whether to keep
    polling (``data-live``) and how (``data-dispatch-url``). Without ``after``, every
    statement of the scope (the latest ``limit``). Reads rows only: refreshing is the
    caller's (:func:`poll`, :func:`dispatch`, or the action itself)."""
    last = after(request)
    updated, new = selectors.statements_changed(scope.statements, open_pks=open_pks(request), after=last,
                                                limit=scope.limit)
    previous = None
    if last is not None and new:
        previous = SparkSession.objects.filter(statements__pk=last).first()
    context = _bar_context(request, scope, notices)
    newest = max([last or 0] + [s.pk for s in new])
    context.update({
        "updated": updated,
        "items": _items(new, previous),
        "after": newest,
        "newest_pk": newest,
        "source": "action" if action else "poll",
    })
    return render_template(request, "livy/_delta.html", context)
