"""``/api/v1/``: the JSON API (django-ninja), its OpenAPI description (``/api/v1/openapi.json``)
and interactive docs (``/api/v1/docs``, Swagger UI served from this server's static files).

Views are thin: the caller (:mod:`api.auth`) is checked, what they may see comes from the
selectors (:mod:`livy.selectors`, :mod:`livy.batch_selectors`, :mod:`livy.notebooks.selectors`;
another user's object is 404, as in the pages), changes go through :mod:`api.services` to the
lifecycle, :mod:`livy.batches` and :mod:`livy.notebooks.service`. Sessions and statements are
here; batches (:mod:`api.batch_routes`), notebooks (:mod:`api.notebook_routes`) and notebook
runs (:mod:`api.run_routes`) have their own routers. Every error is a problem
(:mod:`api.problems`).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import NinjaAPI, Router, Status
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.openapi.docs import Swagger

from api import batch_routes, notebook_routes, run_routes, services
from api.auth import AuthServiceUnavailable, BearerAuth, TokenRateThrottle, Unauthenticated
from api.common import COMMON, Cursor, Limit, Wait, caller, capped_wait, cursor_page, require
from api.problems import bearer_challenge, problem
from api.schemas import (
    SessionOut,
    SessionPage,
    StatementIn,
    StatementOut,
    StatementPage,
    ValidationProblem,
    session_out,
    statement_out,
)
from livy import selectors
from livy.clients import current_config
from livy.remote.errors import (
    LivyError,
    LivyHTTPError,
    LivySignInRequired,
    LivyThrottled,
    LivyUnavailable,
)

log = logging.getLogger(__name__)

api = NinjaAPI(
    title="Livy web API",
    version="1",
    urls_namespace="api-v1",
    description=(
        "Run Spark code through this app's Livy sessions, with the same roles and the same "
        "lifecycle as the notebook pages. Authenticate with `Authorization: Bearer <token>`: a "
        "personal access token or an Entra ID access token for this app. Errors are "
        "application/problem+json (RFC 9457)."
    ),
    auth=BearerAuth(),
    throttle=[TokenRateThrottle()],
    docs=Swagger(settings={"validatorUrl": None, "persistAuthorization": False}),
)

_user = caller
_require = require
_wait = capped_wait


# ----------------------------------------------------------------------------- sessions
sessions = Router(tags=["sessions"])


@sessions.get("", response={200: SessionPage, **COMMON}, summary="List sessions, newest first")
def list_sessions(request: HttpRequest, limit: Limit = 20, cursor: Cursor = None, mine: bool = False) -> Any:
    """The sessions the caller may see: their own, or everyone's with the permission to see all
    (``mine=true``: only their own)."""
    user = _user(request)
    qs = selectors.sessions_visible_to(user)
    if mine:
        qs = qs.filter(owner=user)
    return cursor_page(qs, limit, cursor, session_out)


@sessions.post("", response={200: SessionOut, 201: SessionOut, **COMMON}, summary="Start (or reuse) my session")
def start_session(request: HttpRequest, response: HttpResponse) -> Any:
    """The caller's live session, started now if they have none (201, with ``Location``;
    200 when the live one is reused). It starts on Livy in the background: ``state`` goes
    from ``starting`` to ``idle``."""
    user = _user(request)
    _require(user, "livy.add_sparksession", "start sessions")
    before = selectors.active_session(user)
    session = services.start_session(user, client=services.client())
    created = before is None or before.pk != session.pk
    response["Location"] = f"{request.path.rstrip('/')}/{session.pk}"
    return Status(201 if created else 200, session_out(session))


@sessions.get("/{int:session_id}", response={200: SessionOut, **COMMON}, summary="Read a session")
def get_session(request: HttpRequest, session_id: int) -> Any:
    """The session, brought up to date from Livy when something in it is unfinished."""
    user = _user(request)
    session = get_object_or_404(selectors.sessions_visible_to(user), pk=session_id)
    services.refresh(session, client=services.client(), actor=user)
    session.refresh_from_db()
    return session_out(session)


@sessions.delete("/{int:session_id}", response={200: SessionOut, **COMMON}, summary="Stop a session")
def stop_session(request: HttpRequest, session_id: int) -> Any:
    """Stop the session on Livy (its owner, or with the permission to stop any session);
    statements not finished are cancelled."""
    user = _user(request)
    session = get_object_or_404(selectors.sessions_visible_to(user), pk=session_id)
    if not selectors.can_stop(user, session):
        raise PermissionDenied("You may not stop this session.")
    return session_out(services.stop_session(session, client=services.client()))


# --------------------------------------------------------------------------- statements
statements = Router(tags=["statements"])


@statements.get("", response={200: StatementPage, **COMMON}, summary="List statements, newest first")
def list_statements(request: HttpRequest, limit: Limit = 20, cursor: Cursor = None,
                    session_id: int | None = None) -> Any:
    """The statements the caller may see (their sessions', or everyone's with the permission),
    optionally of one session."""
    user = _user(request)
    qs = selectors.statements_visible_to(user)
    if session_id is not None:
        qs = qs.filter(session_id=session_id)
    return cursor_page(qs, limit, cursor, statement_out)


@statements.post("", response={202: StatementOut, 422: ValidationProblem, **COMMON},
                 summary="Run code in my session")
def run_statement(request: HttpRequest, response: HttpResponse, body: StatementIn, wait: Wait = None) -> Any:
    """Run ``code`` in the caller's session, started if needed, as a Run in the notebook does
    (202 with ``Location``). While the session starts the statement is ``queued``; reading it
    (GET, or ``wait``) sends it once the session is ready. With ``wait`` the answer comes
    when the statement finishes or the seconds have passed, whichever is first."""
    user = _user(request)
    _require(user, "livy.run_code", "run code")
    stmt = services.run(user, body.code, body.kind, client=services.client(), wait=_wait(wait))
    response["Location"] = f"{request.path.rstrip('/')}/{stmt.pk}"
    return Status(202, statement_out(stmt))


@statements.get("/{int:statement_id}", response={200: StatementOut, **COMMON}, summary="Read a statement")
def get_statement(request: HttpRequest, statement_id: int, wait: Wait = None) -> Any:
    """The statement with its state and output, brought up to date from Livy while it is
    unfinished (its owner's queued statements are sent once the session is ready). ``wait``
    holds the answer until it is finished."""
    user = _user(request)
    stmt = get_object_or_404(selectors.statements_visible_to(user), pk=statement_id)
    if not stmt.is_terminal:
        stmt = services.await_statement(stmt, actor=user, client=services.client(), wait=_wait(wait))
    return statement_out(stmt)


@statements.post("/{int:statement_id}/cancel", response={202: StatementOut, **COMMON}, summary="Cancel a statement")
def cancel_statement(request: HttpRequest, statement_id: int) -> Any:
    """Cancel the statement (its author, the session's owner, or with the permission to stop
    any session). A queued one is cancelled at once; a running one becomes ``cancelling``
    until Livy says ``cancelled``."""
    user = _user(request)
    stmt = get_object_or_404(selectors.statements_visible_to(user), pk=statement_id)
    if not (stmt.author_id == user.pk or selectors.can_stop(user, stmt.session)):
        raise PermissionDenied("You may not cancel this statement.")
    return Status(202, statement_out(services.cancel(stmt, client=services.client(), actor=user)))


api.add_router("/sessions", sessions)
api.add_router("/statements", statements)
api.add_router("/batches", batch_routes.router)
api.add_router("/notebooks", notebook_routes.router)
api.add_router("/notebooks", run_routes.notebook_runs)
api.add_router("/runs", run_routes.runs)


# ------------------------------------------------------------------------------- errors
@api.exception_handler(Unauthenticated)
def _unauthenticated(request: HttpRequest, exc: Unauthenticated) -> HttpResponse:
    return problem(401, str(exc), slug="invalid-token" if exc.error else "token-required", request=request,
                   headers={"WWW-Authenticate": bearer_challenge(exc.error, str(exc))})


@api.exception_handler(AuthenticationError)
def _no_credentials(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problem(401, "This API needs an Authorization: Bearer token.", slug="token-required", request=request,
                   headers={"WWW-Authenticate": bearer_challenge()})


@api.exception_handler(AuthServiceUnavailable)
def _auth_unavailable(request: HttpRequest, exc: AuthServiceUnavailable) -> HttpResponse:
    retry = max(1, math.ceil(exc.retry_after)) if exc.retry_after else 5
    return problem(503, f"{exc} Try again in {retry} s.", slug="auth-unavailable", request=request,
                   headers={"Retry-After": str(retry)})


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    errors = [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))}
              for e in exc.errors]
    fields = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in errors[:5])
    return problem(422, f"The request has invalid fields: {fields}", slug="validation-failed",
                   request=request, errors=errors)


@api.exception_handler(Throttled)
def _throttled(request: HttpRequest, exc: Throttled) -> HttpResponse:
    # ninja adds Retry-After (whole seconds) to this answer.
    return problem(429, "Too many requests for this token (API_THROTTLE_RATE): retry after the time in Retry-After.",
                   slug="throttled", request=request)


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    if exc.status_code == 400:
        return problem(400, "The body is not valid JSON in UTF-8.", slug="invalid-request", request=request)
    return problem(exc.status_code, str(exc), request=request)


@api.exception_handler(RequestDataTooBig)
def _too_big(request: HttpRequest, exc: RequestDataTooBig) -> HttpResponse:
    return problem(413, "The request body is larger than this server accepts.", slug="invalid-request",
                   request=request)


@api.exception_handler(SuspiciousOperation)
def _suspicious(request: HttpRequest, exc: SuspiciousOperation) -> HttpResponse:
    return problem(400, "The request cannot be read.", slug="invalid-request", request=request)


@api.exception_handler(Http404)
def _not_found(request: HttpRequest, exc: Http404) -> HttpResponse:
    return problem(404, "There is no such object, or it is not yours.", slug="not-found", request=request)


@api.exception_handler(PermissionDenied)
def _forbidden(request: HttpRequest, exc: PermissionDenied) -> HttpResponse:
    return problem(403, str(exc) or "Your role may not do this.", slug="forbidden", request=request)


@api.exception_handler(LivyError)
def _livy_error(request: HttpRequest, exc: LivyError) -> HttpResponse:
    # A notebook run that failed to start is kept (its code as failed statements): say where.
    run_id = getattr(getattr(exc, "run", None), "pk", None)
    extra: dict[str, Any] = {"run": f"/api/v1/runs/{run_id}"} if run_id else {}
    if isinstance(exc, LivySignInRequired):
        detail = str(exc)
        cfg = current_config()
        if cfg.LIVY_BACKEND == "fabric" and cfg.FABRIC_AUTH == "delegated":
            detail += (" API callers have no browser sign-in: with Fabric the API needs "
                       "FABRIC_AUTH=service_principal.")
        return problem(401, detail, slug="sign-in-required", request=request, **extra,
                       headers={"WWW-Authenticate": bearer_challenge("invalid_token", "sign-in required")})
    if isinstance(exc, LivyThrottled):
        retry = max(1, round(exc.retry_after)) if exc.retry_after else 5
        return problem(429, f"Livy is throttling requests: {exc}", slug="throttled", request=request,
                       headers={"Retry-After": str(retry)}, **extra)
    if isinstance(exc, LivyUnavailable):
        return problem(503, f"Livy cannot be reached: {exc}", slug="livy-unavailable", request=request,
                       headers={"Retry-After": "5"}, **extra)
    if isinstance(exc, LivyHTTPError) and exc.status == 409:
        return problem(409, str(exc), slug="conflict", request=request, **extra)
    return problem(502, str(exc), slug="livy-error", request=request, **extra)


@api.exception_handler(Exception)
def _unexpected(request: HttpRequest, exc: Exception) -> HttpResponse:
    log.error("API %s %s failed", request.method, request.path, exc_info=exc)
    return problem(500, "The server could not answer this request; it has been logged.", request=request)
