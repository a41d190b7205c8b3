"""What every router of the API shares: the caller, permission checks, the ``wait`` and
pagination parameters, the answers every operation may give, and reading a request body
that may be JSON or multipart (:func:`json_body`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest
from ninja.errors import HttpError, ValidationError
from pydantic import BaseModel, Field
from pydantic import ValidationError as PydanticValidationError

from api.auth import Principal
from api.schemas import Problem
from livy.clients import current_config

#: Most items one page of a list holds.
MAX_LIMIT = 100
#: Answers every operation may give besides its own.
COMMON: dict[int, Any] = {401: Problem, 403: Problem, 404: Problem, 429: Problem, 502: Problem, 503: Problem}

Limit = Annotated[int, Field(ge=1, le=MAX_LIMIT, description=f"Items per page (1 to {MAX_LIMIT}).")]
Cursor = Annotated[int | None, Field(ge=1, description="next_cursor of the previous page.")]
Offset = Annotated[int, Field(ge=0, le=1_000_000, description="Items to skip (next_offset of the previous page).")]
Wait = Annotated[float | None, Field(ge=0, description=(
    "Seconds to hold the answer until the statement is finished (capped by API_WAIT_MAX)."))]

M = TypeVar("M", bound=BaseModel)


def caller(request: HttpRequest) -> Any:
    """The Django user of the authenticated request (:class:`api.auth.Principal`)."""
    principal = getattr(request, "auth", None)
    assert isinstance(principal, Principal)
    return principal.user


def require(user: Any, perm: str, what: str) -> None:
    """Raise ``PermissionDenied`` (403) unless ``user`` has ``perm``; ``what`` completes
    "Your role may not …"."""
    if not user.has_perm(perm):
        raise PermissionDenied(f"Your role may not {what}.")


def capped_wait(value: float | None) -> float:
    """A ``wait`` parameter (seconds) capped by ``API_WAIT_MAX``."""
    return min(max(0.0, value or 0.0), current_config().API_WAIT_MAX)


def cursor_page(qs: QuerySet[Any], limit: int, cursor: int | None, out: Callable[[Any], Any]) -> dict[str, Any]:
    """One page of ``qs`` newest first (by primary key, descending): ``{"items": [out(row)…],
    "next_cursor": the last pk when more rows follow, else None}``; ``cursor``: the previous
    page's ``next_cursor`` (rows with a smaller pk). Stable while rows are added."""
    qs = qs.order_by("-pk")
    if cursor is not None:
        qs = qs.filter(pk__lt=cursor)
    rows = list(qs[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [out(r) for r in rows], "next_cursor": rows[-1].pk if more else None}


def json_body(request: HttpRequest, model: type[M], body: bytes | None = None) -> M:
    """The request's JSON body (or ``body``, when the caller read it, e.g. with
    :func:`livy.uploads.read_body`) as ``model``. Raises ninja's ``HttpError(400)`` for a body
    that is not JSON in UTF-8 (answered as a problem), ``ValidationError`` (422, each field's
    error under ``body``) for one that does not fit the model."""
    raw = request.body if body is None else body
    try:
        data = json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise HttpError(400, "The body is not valid JSON in UTF-8.") from None
    return validated(model, data)


def validated(model: type[M], data: Any) -> M:
    """``data`` as ``model``, or ``ValidationError`` (422) with each error under ``body``."""
    try:
        return model.model_validate(data)
    except PydanticValidationError as exc:
        raise ValidationError([
            {"loc": ["body", *e.get("loc", ())], "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]) from None
