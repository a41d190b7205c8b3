"""``/api/v1/notebooks``: notebooks as the notebook pages keep them. Who may do what is the
pages' rule (:mod:`livy.notebooks.selectors`): a notebook the caller may not see is 404 (their
own, those shared with one of their groups, every one with ``livy.view_all_notebooks``); only
the owner, with the role's permission, changes (``livy.change_notebook``) or deletes
(``livy.delete_notebook``) it (403 for those who may only read it); creating needs
``livy.add_notebook``. Writes go through :mod:`livy.notebooks.service`.
"""

from __future__ import annotations

import json
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from ninja import Router, Status
from ninja.errors import HttpError, ValidationError
from ninja.params.functions import Query as QueryParam

from api.common import COMMON, Limit, Offset, caller, json_body, require
from api.problems import problem
from api.schemas import (
    NotebookOut,
    NotebookPage,
    NotebookSave,
    Problem,
    ValidationProblem,
    cell_out,
    notebook_summary,
)
from livy import uploads
from livy.models import Cell, Notebook
from livy.notebooks import ipynb, selectors, service

router = Router(tags=["notebooks"])

# An imported or saved notebook is held to NOTEBOOK_MAX_IMPORT_BYTES before the body is read
# (livy/uploads.py), as on the import page; a Content-Length over it is a 413 problem unread.
uploads.LIMITS["api/v1/notebooks"] = uploads.Declared(uploads.api_notebook_limit, back_to="")
uploads.LIMITS["api/v1/notebooks/<int:notebook_id>"] = uploads.Declared(uploads.api_notebook_limit, back_to="")

#: Media types of an nbformat body.
IPYNB_TYPES = ("application/json", "application/x-ipynb+json")


def notebook_out(user: Any, notebook: Notebook, cells: list[Cell] | None = None,
                 notices: list[str] | None = None) -> NotebookOut:
    """The API's view of ``notebook`` as ``user`` sees it (``cells``: these instead of the
    current ones, each with its last statement)."""
    shown = cells if cells is not None else list(
        notebook.cells.select_related("last_statement").order_by("position", "pk"))
    return NotebookOut(
        id=notebook.pk, title=notebook.title, version=notebook.version, owner=notebook.owner.get_username(),
        created_at=notebook.created_at, updated_at=notebook.updated_at,
        can_edit=selectors.can_edit(user, notebook), can_run=selectors.can_run(user, notebook),
        shared_with=sorted(g.name for g in notebook.shared_with.all()), cells=[cell_out(c) for c in shown],
        notices=notices or [],
    )


def _file_error(message: str) -> ValidationError:
    return ValidationError([{"loc": ["body"], "msg": message, "type": "notebook_file"}])


def _import_bytes(request: HttpRequest) -> tuple[bytes, str]:
    """The ``.ipynb`` of a POST: the ``file`` upload of a multipart body, or the body itself."""
    content_type = request.content_type or ""
    if content_type == "multipart/form-data":
        upload = request.FILES.get("file")
        if message := uploads.stopped(request):
            raise HttpError(413, message)
        if refused := uploads.refusals(request):
            raise ValidationError([{"loc": ["body", field], "msg": reason, "type": "upload_too_large"}
                                   for field, reason in refused])
        if upload is None or set(request.FILES) - {"file"} or set(request.POST):
            raise _file_error("Send the notebook as one multipart field named file (an .ipynb).")
        if upload.size is not None and upload.size > service.max_import_bytes():
            raise _file_error(f"The file is {upload.size:,} bytes; notebooks of up to "
                              f"{service.max_import_bytes():,} bytes can be imported (NOTEBOOK_MAX_IMPORT_BYTES).")
        return upload.read(), upload.name or ""
    if content_type in IPYNB_TYPES or content_type == "":
        most = service.max_import_bytes()
        try:
            return uploads.read_body(request, most), ""
        except uploads.BodyTooLarge as exc:
            raise HttpError(413, f"The notebook sent is {exc.sent}: notebooks of up to {most:,} "
                                 f"bytes ({uploads.human_size(most)}) can be imported (NOTEBOOK_MAX_IMPORT_BYTES). "
                                 "Nothing was created.") from None
    raise HttpError(415, f"Send an .ipynb as application/json, application/x-ipynb+json or multipart/form-data, "
                         f"not {content_type}.")


@router.get("", response={200: NotebookPage, **COMMON}, summary="List notebooks, last edited first")
def list_notebooks(request: HttpRequest, limit: Limit = 20, offset: Offset = 0, mine: bool = False) -> Any:
    """The notebooks the caller may see, last edited first, as the notebook list (``mine=true``:
    only their own). Pages by ``offset`` (an edit moves a notebook to the top)."""
    qs = selectors.notebook_list(caller(request), mine_only=mine)
    rows = list(qs[offset: offset + limit + 1])
    more = len(rows) > limit
    return {"items": [notebook_summary(n) for n in rows[:limit]], "next_offset": offset + limit if more else None}


@router.post("", response={201: NotebookOut, 400: Problem, 413: Problem, 415: Problem, 422: ValidationProblem,
                           **COMMON},
             summary="Import a notebook (.ipynb)",
             openapi_extra={"requestBody": {"required": True, "content": {
                 "application/x-ipynb+json": {"schema": {"type": "object", "description": "nbformat v4 (or v3)"}},
                 "application/json": {"schema": {"type": "object", "description": "nbformat v4 (or v3)"}},
                 "multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
                     "file": {"type": "string", "format": "binary"}}}},
             }}})
def import_notebook(request: HttpRequest, response: HttpResponse,
                    title: str | None = QueryParam(None, max_length=200, description="A title instead of the file's.")
                    ) -> Any:
    """A new notebook of the caller from an ``.ipynb`` (as the page's Import: nbformat 4 or 3,
    at most ``NOTEBOOK_MAX_IMPORT_BYTES``), sent as the body or as the multipart field
    ``file``. 201 with the notebook, the import's ``notices`` and its ``Location``; a file that
    cannot be imported is a 422 with the reason (nothing created)."""
    user = caller(request)
    require(user, "livy.add_notebook", "create notebooks")
    data, filename = _import_bytes(request)
    try:
        notebook, notices = service.import_notebook(user, data, filename=filename)
        if title is not None:
            service.rename(notebook, title)
    except ipynb.NotebookFileError as exc:
        raise _file_error(str(exc)) from None
    except service.NotebookError as exc:
        raise _file_error(str(exc)) from None
    response["Location"] = f"{request.path.rstrip('/')}/{notebook.pk}"
    return Status(201, notebook_out(user, notebook, notices=notices))


@router.get("/{int:notebook_id}", response={200: NotebookOut, **COMMON}, summary="Read a notebook")
def get_notebook(request: HttpRequest, notebook_id: int) -> Any:
    """The notebook with its cells in order, each with its last run's state and output."""
    user = caller(request)
    return notebook_out(user, selectors.get_visible(user, notebook_id))


@router.put("/{int:notebook_id}", response={200: NotebookOut, 409: Problem, 413: Problem, 422: ValidationProblem,
                                            **COMMON},
            summary="Save a notebook (versioned)")
def save_notebook(request: HttpRequest, notebook_id: int) -> Any:
    """Save the cells (and the title) against ``version``, as the editor saves: ``cells`` is
    the whole list in order (existing cells by ``id``, new ones without; cells left out are
    deleted), or ``ipynb`` a notebook whose cells replace them all. 200 with the new
    ``version``; 409 (nothing written) when someone saved since that version, with the
    current ``version`` and ``notebook``; 413 for a body over ``NOTEBOOK_MAX_IMPORT_BYTES`` (plus
    64 KB for the other fields); 422 for cells that cannot be saved."""
    user = caller(request)
    notebook = selectors.get_visible(user, notebook_id)
    if not selectors.can_edit(user, notebook):
        raise PermissionDenied("You may read this notebook but not change it.")
    limit = uploads.api_notebook_limit()
    try:
        raw = uploads.read_body(request, limit.body)
    except uploads.BodyTooLarge as exc:
        raise HttpError(413, f"The save is {exc.sent}: it may carry a notebook of up to "
                             f"{limit.per_file:,} bytes (NOTEBOOK_MAX_IMPORT_BYTES) and {limit.margin:,} bytes of "
                             "other fields. Nothing was written.") from None
    body = json_body(request, NotebookSave, body=raw)
    if (body.cells is None) == (body.ipynb is None):
        raise _file_error("Give either cells (the cell list) or ipynb (a notebook), not both or neither.")
    if body.ipynb is not None:
        try:
            imported = ipynb.read_ipynb(json.dumps(body.ipynb), max_bytes=service.max_import_bytes())
        except ipynb.NotebookFileError as exc:
            raise _file_error(str(exc)) from None
        cells = [service.CellInput(None, c.kind, c.source, c.is_parameters) for c in imported.cells]
    else:
        cells = [service.CellInput(c.id, c.kind, c.source, c.is_parameters) for c in body.cells or []]
    try:
        saved = service.save(notebook, version=body.version, cells=cells, title=body.title)
    except service.Conflict as conflict:
        current = notebook_out(user, conflict.notebook, conflict.cells)
        return problem(409, f"The notebook was saved by someone else since version {body.version}: it is now "
                            f"version {conflict.version}. Read it again, merge, and save against that version.",
                       slug="conflict", request=request, version=conflict.version,
                       notebook=current.model_dump(mode="json"))
    except service.NotebookError as exc:
        raise _file_error(str(exc)) from None
    return notebook_out(user, saved)


@router.delete("/{int:notebook_id}", response={204: None, **COMMON}, summary="Delete a notebook")
def delete_notebook(request: HttpRequest, notebook_id: int) -> Any:
    """Delete the notebook and its cells (the owner, with ``livy.delete_notebook``); the
    statements its cells ran stay in the history."""
    user = caller(request)
    notebook = selectors.get_visible(user, notebook_id)
    if not selectors.can_delete(user, notebook):
        raise PermissionDenied("You may not delete this notebook.")
    service.delete(notebook)
    return Status(204, None)


@router.get("/{int:notebook_id}.ipynb", response=COMMON, summary="Export a notebook as .ipynb",
            openapi_extra={"responses": {"200": {"description": "The notebook (nbformat v4, validated), with the "
                                                                "outputs of each cell's last run.",
                                                 "content": {"application/x-ipynb+json": {"schema": {
                                                     "type": "object"}}}}}})
def export_notebook(request: HttpRequest, notebook_id: int) -> HttpResponse:
    """The notebook as the page's ``.ipynb`` download (anyone who may read it)."""
    notebook = selectors.get_visible(caller(request), notebook_id)
    text = ipynb.write_ipynb(notebook.title, selectors.export_cells(notebook))
    response = HttpResponse(text.encode("utf-8"), content_type="application/x-ipynb+json")
    response["Content-Disposition"] = f'attachment; filename="{ipynb.download_name(notebook.title, notebook.pk, "ipynb")}"'
    return response
