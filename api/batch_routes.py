"""``/api/v1/batches``: Spark jobs (Livy batches), as the Jobs page submits, lists, follows and
kills them. Every operation needs ``livy.submit_batch`` (as every Jobs page); another user's
batch is 404 unless the caller has ``livy.view_all_batches`` (reads: :mod:`livy.batch_selectors`),
and DELETE of another's needs ``livy.kill_any_batch``. Writes go through :mod:`livy.batches`;
input is checked by the Jobs page's form (:mod:`api.batch_inputs`).
"""

from __future__ import annotations

import logging
from typing import Annotated, Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Router, Status
from ninja.errors import HttpError, ValidationError
from ninja.params.functions import Query as QueryParam
from pydantic import Field

from api import services
from api.batch_inputs import MULTIPART_FIELDS, form_errors, form_from_json, form_from_multipart
from api.common import COMMON, Cursor, Limit, caller, cursor_page, json_body, require
from api.schemas import BatchIn, BatchLogOut, BatchOut, BatchPage, ValidationProblem, batch_out
from livy import batch_selectors, batches, uploads
from livy.models import Batch
from livy.remote.errors import LivyError, LivySignInRequired

log = logging.getLogger(__name__)

router = Router(tags=["batches"])

# Job uploads are held to the Jobs page's limit before the body is read (livy/uploads.py):
# a Content-Length over it is a 413 problem unread, a body that grows past it is cut.
uploads.LIMITS["api/v1/batches"] = uploads.Declared(uploads.job_limit, back_to="")

#: Most log lines one read of ``/log`` answers with (``size=-1``: every line up to this).
MAX_LOG_LINES = 10_000


def _allowed(request: HttpRequest) -> Any:
    user = caller(request)
    require(user, "livy.submit_batch", "submit or read Spark jobs")
    return user


def _visible(user: Any, batch_id: int) -> Batch:
    return get_object_or_404(batch_selectors.batches_visible_to(user), pk=batch_id)


def _refreshed(row: Batch, *, quiet: bool = False) -> Batch:
    """``row`` brought up to date from Livy while unfinished (at most once per
    ``LIVY_REFRESH_MIN_INTERVAL``). ``quiet``: a Livy failure leaves the row as known (a list
    shows what it has); otherwise it propagates (answered 502/503)."""
    if row.is_terminal:
        return row
    try:
        return batches.refresh_batch(row, client=services.client())
    except LivySignInRequired:
        raise
    except LivyError:
        if not quiet:
            raise
        log.info("API: batch %s could not be refreshed from Livy", row.pk)
        return row


_MULTIPART_SCHEMA = {
    "type": "object",
    "required": ["file"],
    "properties": {
        "file": {"description": "The main file: an upload, or a path.",
                 "oneOf": [{"type": "string", "format": "binary"}, {"type": "string"}]},
        **{name: {"type": "array", "description": f"{name}: uploads and/or paths (repeat the field).",
                  "items": {"oneOf": [{"type": "string", "format": "binary"}, {"type": "string"}]}}
           for name in ("pyFiles", "files", "jars", "archives")},
        "args": {"type": "string", "description": "The arguments, one per line."},
        "conf": {"type": "string", "description": "Spark configuration as a JSON object."},
        **{name: {"type": "string"} for name in sorted(MULTIPART_FIELDS - {"file", "pyFiles", "files", "jars",
                                                                          "archives", "args", "conf"})},
    },
}


@router.get("", response={200: BatchPage, **COMMON}, summary="List Spark jobs, newest first")
def list_batches(request: HttpRequest, limit: Limit = 20, cursor: Cursor = None, mine: bool = False) -> Any:
    """The batches the caller may see (their own, or everyone's with ``livy.view_all_batches``;
    ``mine=true``: only their own), newest first; the unfinished ones on the page are brought
    up to date from Livy first (a Livy failure leaves them as last read)."""
    user = _allowed(request)
    qs = batch_selectors.batches_visible_to(user)
    if mine:
        qs = qs.filter(owner=user)
    page = cursor_page(qs, limit, cursor, lambda row: row)
    page["items"] = [batch_out(_refreshed(row, quiet=True)) for row in page["items"]]
    return page


@router.post("", response={202: BatchOut, 400: ValidationProblem, 415: ValidationProblem, 422: ValidationProblem,
                           **COMMON},
             summary="Submit a Spark job",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/json": {"schema": BatchIn.model_json_schema()},
                 "multipart/form-data": {"schema": _MULTIPART_SCHEMA},
             }}})
def submit_batch(request: HttpRequest, response: HttpResponse) -> Any:
    """Submit a job as the Jobs page does: JSON with paths (:class:`api.schemas.BatchIn`), or
    ``multipart/form-data`` with the job files uploaded (stored under ``LIVY_BATCH_UPLOAD_DIR``
    by content, names kept) and/or paths. Checked by the page's rules (422 with each field's
    reason, nothing sent); 202 with the batch and its ``Location``. Read it (GET) until
    ``terminal``."""
    user = _allowed(request)
    content_type = request.content_type or ""
    if content_type == "multipart/form-data":
        files = request.FILES
        if message := uploads.stopped(request):
            raise HttpError(413, message)
        if refused := uploads.refusals(request):
            raise ValidationError([{"loc": ["body", field], "msg": reason, "type": "upload_too_large"}
                                   for field, reason in refused])
        form = form_from_multipart(request.POST, files)
    elif content_type in ("application/json", "") or content_type.endswith("+json"):
        form = form_from_json(json_body(request, BatchIn))
    else:
        raise HttpError(415, f"Send application/json or multipart/form-data, not {content_type}.")
    if not form.is_valid():
        raise form_errors(form)
    row = batches.submit_batch(user, form.inputs(), client=services.client())
    response["Location"] = f"{request.path.rstrip('/')}/{row.pk}"
    return Status(202, batch_out(row))


@router.get("/{int:batch_id}", response={200: BatchOut, **COMMON}, summary="Read a Spark job")
def get_batch(request: HttpRequest, batch_id: int) -> Any:
    """The batch, brought up to date from Livy while it runs (state, appId, Spark UI link)."""
    user = _allowed(request)
    return batch_out(_refreshed(_visible(user, batch_id)))


@router.delete("/{int:batch_id}", response={200: BatchOut, **COMMON}, summary="Kill a Spark job")
def kill_batch(request: HttpRequest, batch_id: int) -> Any:
    """Kill the batch on Livy (its owner, or with ``livy.kill_any_batch``): it ends ``killed``,
    its log read first. One that already ended is answered as it is."""
    user = _allowed(request)
    row = _visible(user, batch_id)
    if not batch_selectors.can_kill(user, row):
        raise PermissionDenied("You may not kill this job.")
    return batch_out(batches.kill_batch(row, client=services.client()))


LogFrom = Annotated[int | None, QueryParam(None, alias="from", ge=0, description=(
    "First line (0-based); omitted: the last `size` lines, as Livy does."))]
LogSize = Annotated[int, Field(ge=-1, le=MAX_LOG_LINES, description=(
    f"Lines to answer with (-1: every line, at most {MAX_LOG_LINES}); Livy's default is 100."))]


@router.get("/{int:batch_id}/log", response={200: BatchLogOut, **COMMON}, by_alias=True,
            summary="Read a Spark job's log")
def batch_log(request: HttpRequest, batch_id: int, size: LogSize = 100, from_: LogFrom = None) -> Any:
    """Lines of the batch's log in Apache Livy's shape (``{"id", "from", "total", "log"}``,
    ``log`` = ``["stdout: ", …, "\\nstderr: ", …]``), brought up to date from Livy while it
    runs. On Fabric the log is what Fabric reports in the batch (its ``log[]``)."""
    user = _allowed(request)
    row = _refreshed(_visible(user, batch_id))
    lines = ["stdout: ", *batch_selectors.log_lines(row.log_stdout, 0),
             "\nstderr: ", *batch_selectors.log_lines(row.log_stderr, 0)]
    total = len(lines)
    count = MAX_LOG_LINES if size < 0 else size
    first = max(0, total - count) if from_ is None else min(from_, total)
    window = lines[first:first + count]
    return {"id": row.pk, "from": first, "size": len(window), "total": total, "log": window,
            "state": row.state, "terminal": row.is_terminal}

