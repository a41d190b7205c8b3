"""Notebook pages, downloads and JSON endpoints (URLs under ``/notebooks/``). Thin: reads
through :mod:`livy.notebooks.selectors`, writes through :mod:`livy.notebooks.service`.

Who may do what is decided by the selectors: a notebook the user may not see is a 404 (as
for sessions); one they may see but not change (shared with them, or an administrator's view
of someone else's) is a 403 for the changes. Every change is a POST with Django's CSRF check.

JSON endpoints, for the notebook page (its owner's; the run ones are described on
:func:`notebook_run`, :func:`notebook_poll`, :func:`notebook_cancel`):

* ``GET /notebooks/<id>/json/`` → 200 with the notebook (:func:`notebook_json`);
* ``POST /notebooks/<id>/save/`` with ``{"version": n, "title"?: str, "cells": [{"id": int |
  null, "kind": "pyspark" | "sql" | "spark" | "markdown", "source": str, "is_parameters"?:
  bool}, ...]}`` (the whole cell list in order) → 200 with the saved notebook (its new
  ``version``, new cells with their ids); 409 ``{"error": "conflict", "message", "notebook"}``
  with the current notebook when ``version`` is stale (nothing written); 400 ``{"error":
  "invalid", "message"}`` for a body that cannot be saved; 403 ``{"error": "forbidden", ...}``
  for a user who may read but not change it; 413 ``{"error": "too_large", "message"}`` for a body
  over Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (2.5 MB by default).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.contrib.auth.models import Group
from django.core.exceptions import RequestDataTooBig
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from livy import uploads
from livy.clients import livy_client
from livy.models import Cell, Notebook, NotebookRun, Statement
from livy.notebooks import ipynb, selectors, service
from livy.notebooks.markdown import render_markdown
from livy.remote.client import LivyClient
from livy.remote.errors import LivyError, LivySignInRequired
from myapp.config import current_config

#: Notebooks per page of the list.
PAGE_SIZE = 25


# -------------------------------------------------------------------------------- helpers
def _forbidden(message: str, *, as_json: bool = False) -> HttpResponse:
    if as_json:
        return JsonResponse({"error": "forbidden", "message": message}, status=403)
    return HttpResponse(message, status=403, content_type="text/plain; charset=utf-8")


def _back(request: HttpRequest, default: str) -> HttpResponse:
    """Redirect to the ``next`` field when it is a URL of this site, else to ``default``."""
    target = request.POST.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                                  require_https=request.is_secure()):
        return redirect(target)
    return redirect(default)


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _statement_json(stmt: Statement | None) -> dict[str, Any] | None:
    if stmt is None:
        return None
    count = (stmt.output or {}).get("execution_count") if isinstance(stmt.output, dict) else None
    return {
        "id": stmt.pk, "state": stmt.state, "kind": stmt.kind, "session_id": stmt.session_id,
        "is_terminal": stmt.is_terminal, "progress": stmt.progress,
        "execution_count": count if isinstance(count, int) else None,
        "created_at": _iso(stmt.created_at), "started_at": _iso(stmt.started_at),
        "completed_at": _iso(stmt.completed_at), "duration_seconds": stmt.duration_seconds,
        "error_name": stmt.error_name, "error_value": stmt.error_value,
    }


def _cell_json(cell: Cell) -> dict[str, Any]:
    return {
        "id": cell.pk, "position": cell.position, "kind": cell.kind, "source": cell.source,
        "is_parameters": cell.is_parameters,
        "html": str(render_markdown(cell.source)) if cell.kind == Cell.MARKDOWN else None,
        "last_statement": _statement_json(cell.last_statement),
    }


def notebook_json(request: HttpRequest, notebook: Notebook, cells: list[Cell] | None = None) -> dict[str, Any]:
    """The notebook as the page reads it::

        {"id": 3, "title": "Sales", "version": 7, "owner": "erin", "created_at": iso,
         "updated_at": iso, "can_edit": bool, "can_run": bool, "shared_with": ["Viewers"],
         "urls": {"page", "json", "save", "ipynb", "py", "share"},
         "cells": [{"id": 11, "position": 0, "kind": "markdown", "source": "# Sales",
                    "is_parameters": false, "html": "<h1>Sales</h1>" (markdown cells, sanitised;
                    null for code), "last_statement": null | {"id", "state", "kind",
                    "session_id", "is_terminal", "progress", "execution_count", "created_at",
                    "started_at", "completed_at", "duration_seconds", "error_name",
                    "error_value"}}, ...]}

    Times are ISO 8601 with their offset; ``cells`` in order (``cells`` given: those)."""
    user = request.user
    shown = cells if cells is not None else list(selectors.cells_of(notebook))
    pk = notebook.pk
    return {
        "id": pk, "title": notebook.title, "version": notebook.version, "owner": notebook.owner.get_username(),
        "created_at": _iso(notebook.created_at), "updated_at": _iso(notebook.updated_at),
        "can_edit": selectors.can_edit(user, notebook), "can_run": selectors.can_run(user, notebook),
        "shared_with": sorted(g.name for g in notebook.shared_with.all()),
        "urls": {
            "page": reverse("livy:notebook_detail", args=[pk]), "json": reverse("livy:notebook_json", args=[pk]),
            "save": reverse("livy:notebook_save", args=[pk]), "ipynb": reverse("livy:notebook_ipynb", args=[pk]),
            "py": reverse("livy:notebook_py", args=[pk]), "share": reverse("livy:notebook_share", args=[pk]),
        },
        "cells": [_cell_json(c) for c in shown],
    }


def _list_context(request: HttpRequest, **extra: Any) -> dict[str, Any]:
    mine = request.GET.get("mine") == "1"
    page = Paginator(selectors.notebook_list(request.user, mine_only=mine), PAGE_SIZE).get_page(request.GET.get("page"))
    for notebook in page:
        notebook.user_can_edit = selectors.can_edit(request.user, notebook)
        notebook.user_can_delete = selectors.can_delete(request.user, notebook)
    return {
        "page": page, "mine": mine,
        "can_create": request.user.has_perm("livy.add_notebook"),
        "max_import_bytes": service.max_import_bytes(),
        **extra,
    }


# -------------------------------------------------------------------------------- pages
@login_required
@require_GET
def notebook_list(request: HttpRequest) -> HttpResponse:
    """The notebooks the user may see, last edited first, :data:`PAGE_SIZE` a page
    (``?mine=1``: only their own), with New notebook, Import, rename, Save a copy, exports
    and delete."""
    return render(request, "livy/notebooks/list.html", _list_context(request))


@login_required
@require_POST
@permission_required("livy.add_notebook", raise_exception=True)
def notebook_new(request: HttpRequest) -> HttpResponse:
    """Create a notebook (the ``title`` field, or "Untitled notebook") and open it."""
    try:
        notebook = service.create(request.user, title=request.POST.get("title") or None)
    except service.NotebookError as exc:
        messages.error(request, str(exc))
        return redirect("livy:notebook_list")
    return redirect("livy:notebook_detail", notebook.pk)


@uploads.upload_limited(uploads.notebook_import_limit, back_to="livy:notebook_list")
@login_required
@require_POST
@permission_required("livy.add_notebook", raise_exception=True)
def notebook_import(request: HttpRequest) -> HttpResponse:
    """Import an uploaded ``.ipynb`` (the ``file`` field) as a new notebook and open it; a
    file that cannot be imported re-renders the list with the reason (400), nothing created.
    ``NOTEBOOK_MAX_IMPORT_BYTES`` holds while the body arrives (:func:`livy.uploads.notebook_import_limit`):
    a larger file is dropped unstored, a request declaring more is refused unread."""
    upload = request.FILES.get("file")
    error = ""
    dropped = uploads.stopped(request) or " ".join(message for _, message in uploads.refusals(request))
    if dropped:
        error = dropped
    elif upload is None:
        error = "Choose an .ipynb file to import."
    elif upload.size is not None and upload.size > service.max_import_bytes():
        error = (f"The file is {upload.size / (1024 * 1024):.1f} MB; notebooks of up to "
                 f"{service.max_import_bytes() / (1024 * 1024):.1f} MB can be imported.")
    else:
        try:
            notebook, notices = service.import_notebook(request.user, upload.read(), filename=upload.name or "")
        except ipynb.NotebookFileError as exc:
            error = str(exc)
        else:
            messages.success(request, f"Imported \u201c{notebook.title}\u201d: {notebook.cells.count()} cells.")
            for notice in notices:
                messages.warning(request, notice)
            return redirect("livy:notebook_detail", notebook.pk)
    name = f"{upload.name}: " if upload is not None and upload.name else ""
    return render(request, "livy/notebooks/list.html", _list_context(request, import_error=f"{name}{error}"),
                  status=400)


@login_required
@require_GET
def notebook_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One notebook. Its owner (who may run it) gets the notebook page: cells with editors,
    Run / Run all / Run from here / Cancel all, autosave (:func:`_editor_page`). Everyone else
    who may read it (shared with their group, an administrator) gets it read-only: its cells
    in order, markdown rendered, each code cell with its last run's output; exports, copy and
    sharing as the user may."""
    notebook = selectors.get_visible(request.user, pk)
    if selectors.can_run(request.user, notebook):
        return _editor_page(request, notebook)
    cells = list(selectors.cells_of(notebook))
    for cell in cells:
        cell.html = render_markdown(cell.source) if cell.kind == Cell.MARKDOWN else ""
    return render(request, "livy/notebooks/detail.html", {
        "notebook": notebook, "cells": cells,
        "can_edit": selectors.can_edit(request.user, notebook),
        "can_delete": selectors.can_delete(request.user, notebook),
        "can_copy": selectors.can_copy(request.user, notebook),
        "is_owner": selectors.is_owner(request.user, notebook),
        "shared_with": sorted(g.name for g in notebook.shared_with.all()),
    })


@login_required
@require_POST
def notebook_rename(request: HttpRequest, pk: int) -> HttpResponse:
    """Rename (the ``title`` field): the owner, with ``livy.change_notebook``."""
    notebook = selectors.get_visible(request.user, pk)
    if not selectors.can_edit(request.user, notebook):
        return _forbidden("You may not rename this notebook.")
    try:
        service.rename(notebook, request.POST.get("title", ""))
    except service.NotebookError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, f"Renamed to \u201c{notebook.title}\u201d.")
    return _back(request, reverse("livy:notebook_list"))


@login_required
@require_POST
def notebook_copy(request: HttpRequest, pk: int) -> HttpResponse:
    """"Save a copy": a notebook of the user's own with the same cells (no runs, no shares)."""
    notebook = selectors.get_visible(request.user, pk)
    if not selectors.can_copy(request.user, notebook):
        return _forbidden("You may not create notebooks.")
    copy = service.duplicate(notebook, request.user)
    messages.success(request, f"Saved a copy: \u201c{copy.title}\u201d.")
    return _back(request, reverse("livy:notebook_list"))


@login_required
@require_http_methods(["GET", "POST"])
def notebook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the confirmation page; POST: delete the notebook (its statements stay in the
    history). The owner, with ``livy.delete_notebook``."""
    notebook = selectors.get_visible(request.user, pk)
    if not selectors.can_delete(request.user, notebook):
        return _forbidden("You may not delete this notebook.")
    if request.method == "GET":
        return render(request, "livy/notebooks/confirm_delete.html",
                      {"notebook": notebook, "cell_count": notebook.cells.count()})
    title = notebook.title
    service.delete(notebook)
    messages.success(request, f"Deleted \u201c{title}\u201d.")
    return redirect("livy:notebook_list")


@login_required
@require_http_methods(["GET", "POST"])
def notebook_share(request: HttpRequest, pk: int) -> HttpResponse:
    """GET: the sharing form (every group, those shared with ticked); POST: share with
    exactly the ticked groups (``group`` fields: group ids), read-only. The owner only."""
    notebook = selectors.get_visible(request.user, pk)
    if not selectors.can_edit(request.user, notebook):
        return _forbidden("Only the owner may share this notebook.")
    groups = Group.objects.order_by("name")
    if request.method == "POST":
        wanted = {int(v) for v in request.POST.getlist("group") if v.isdigit()}
        chosen = [g for g in groups if g.pk in wanted]
        service.set_shared_groups(notebook, chosen)
        names = ", ".join(g.name for g in chosen)
        messages.success(request, f"Shared read-only with {names}." if chosen else "Not shared with anyone.")
        return redirect("livy:notebook_detail", notebook.pk)
    shared = set(notebook.shared_with.values_list("pk", flat=True))
    return render(request, "livy/notebooks/share.html",
                  {"notebook": notebook, "groups": [(g, g.pk in shared) for g in groups]})


# ----------------------------------------------------------------------------- downloads
def _download(request: HttpRequest, pk: int, write: Callable[[str, Sequence[ipynb.NotebookCell]], str], suffix: str,
              content_type: str) -> HttpResponse:
    """The notebook ``pk`` (404 unless visible) written by ``write(title, cells)`` as an
    attachment named after its title with ``suffix``."""
    notebook = selectors.get_visible(request.user, pk)
    text = write(notebook.title, selectors.export_cells(notebook))
    response = HttpResponse(text.encode("utf-8"), content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{ipynb.download_name(notebook.title, notebook.pk, suffix)}"'
    return response


@login_required
@require_GET
def notebook_ipynb(request: HttpRequest, pk: int) -> HttpResponse:
    """The notebook as ``.ipynb`` (nbformat v4, validated; outputs of each cell's last run)."""
    return _download(request, pk, ipynb.write_ipynb, "ipynb", "application/x-ipynb+json")


@login_required
@require_GET
def notebook_py(request: HttpRequest, pk: int) -> HttpResponse:
    """The notebook as a ``.py`` file in Jupytext's percent format (``# %%`` cells)."""
    return _download(request, pk, ipynb.write_py, "py", "text/x-python; charset=utf-8")


# ---------------------------------------------------------------------------------- JSON
@login_required
@require_GET
def notebook_json_view(request: HttpRequest, pk: int) -> HttpResponse:
    """The notebook as JSON (:func:`notebook_json`)."""
    notebook = selectors.get_visible(request.user, pk)
    return JsonResponse(notebook_json(request, notebook))


def _cell_inputs(body: Any) -> tuple[int, str | None, list[service.CellInput]]:
    """``version``, ``title`` and the cells of a save body; raises NotebookError."""
    if not isinstance(body, dict):
        raise service.NotebookError("The body must be a JSON object.")
    version = body.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise service.NotebookError("\"version\" must be the version number the page last read.")
    title = body.get("title")
    if title is not None and not isinstance(title, str):
        raise service.NotebookError("\"title\" must be text.")
    cells = body.get("cells")
    if not isinstance(cells, list):
        raise service.NotebookError("\"cells\" must be the list of cells in order.")
    inputs = []
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise service.NotebookError(f"Cell {number} must be an object.")
        cell_id = cell.get("id")
        if cell_id is not None and (not isinstance(cell_id, int) or isinstance(cell_id, bool)):
            raise service.NotebookError(f"Cell {number}: \"id\" must be a cell id or null.")
        source = cell.get("source", "")
        if not isinstance(source, str):
            raise service.NotebookError(f"Cell {number}: \"source\" must be text.")
        inputs.append(service.CellInput(cell_id, str(cell.get("kind", "")), source, bool(cell.get("is_parameters"))))
    return version, title, inputs


@login_required
@require_POST
def notebook_save(request: HttpRequest, pk: int) -> HttpResponse:
    """Save the cells (and title) against the version the page read (see the module docstring)."""
    notebook = selectors.get_visible(request.user, pk)
    if not selectors.can_edit(request.user, notebook):
        return _forbidden("You may read this notebook but not change it.", as_json=True)
    try:
        raw = request.body
    except RequestDataTooBig:
        return JsonResponse({"error": "too_large", "message": "This notebook is too large to save at once "
                             "(DATA_UPLOAD_MAX_MEMORY_SIZE)."}, status=413)
    try:
        body = json.loads(raw or b"null")
        version, title, inputs = _cell_inputs(body)
        saved = service.save(notebook, version=version, cells=inputs, title=title)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        message = str(exc) if isinstance(exc, service.NotebookError) else "The body is not valid JSON."
        return JsonResponse({"error": "invalid", "message": message}, status=400)
    except service.Conflict as conflict:
        return JsonResponse({
            "error": "conflict",
            "message": "This notebook was changed in another tab or by another save since you opened it.",
            "notebook": notebook_json(request, conflict.notebook, conflict.cells),
        }, status=409)
    return JsonResponse(notebook_json(request, saved))


# --------------------------------------------------------------------- the notebook page
#: Most known-cell entries a poll body is read for.
MAX_KNOWN = 2000


def _cell_output_html(request: HttpRequest, stmt: Statement | None) -> str:
    """A cell's run as the page shows it under the cell (``livy/notebooks/_cell_output.html``)."""
    return render_to_string("livy/notebooks/_cell_output.html", {"stmt": stmt}, request=request)


def _key(stmt: Statement | None) -> str:
    """What a cell's output under it was drawn from (``pk:state:progress``; "" for no run)."""
    return f"{stmt.pk}:{stmt.state}:{stmt.progress:.3f}" if stmt is not None else ""


def _page_state(request: HttpRequest, notebook: Notebook, known: dict[str, str] | None = None) -> dict[str, Any]:
    """What the page updates itself from (the run, poll and cancel answers)::

        {"version": int, "run": run_summary | None, "session": selectors.session_bar,
         "injected": selectors.injected_parameters,
         "busy": bool, "cells": [{"id", "statement": _statement_json | None,
                                  "key": "pk:state:progress", "html"?: output HTML}]}

    ``html`` only for cells whose ``key`` differs from ``known[cell id]`` (what the page shows)."""
    run = service.current_run(notebook)
    summary = service.run_summary(run) if run is not None else None
    cells = []
    busy = False
    for cell in selectors.cells_of(notebook):
        stmt = cell.last_statement
        key = _key(stmt)
        busy = busy or bool(stmt is not None and not stmt.is_terminal)
        entry: dict[str, Any] = {"id": cell.pk, "statement": _statement_json(stmt), "key": key}
        if known is None or known.get(str(cell.pk)) != key:
            entry["html"] = _cell_output_html(request, stmt)
        cells.append(entry)
    return {
        "version": notebook.version, "run": summary, "session": selectors.session_bar(request.user, notebook),
        "injected": selectors.injected_parameters(run), "busy": busy or bool(summary and summary["state"] == NotebookRun.RUNNING),
        "cells": cells,
    }


def _owner_json_view(request: HttpRequest, pk: int) -> tuple[Notebook | None, HttpResponse | None, dict[str, Any]]:
    """The notebook for a run/poll/cancel POST by its owner: 404 unless visible, 403 JSON
    unless the user may run it, 400 for a body that is not a JSON object."""
    notebook = selectors.get_visible(request.user, pk)
    if not selectors.can_run(request.user, notebook):
        return None, _forbidden("You may read this notebook but not run it.", as_json=True), {}
    try:
        body = json.loads(request.body or b"{}")
    except (ValueError, UnicodeDecodeError, RecursionError):
        body = None
    if not isinstance(body, dict):
        return None, JsonResponse({"error": "invalid", "message": "The body must be a JSON object."}, status=400), {}
    return notebook, None, body


def _known(body: dict[str, Any]) -> dict[str, str] | None:
    known = body.get("known")
    if not isinstance(known, dict):
        return None
    return {str(k): str(v) for k, v in list(known.items())[:MAX_KNOWN]}


@login_required
@require_POST
def notebook_run(request: HttpRequest, pk: int) -> HttpResponse:
    """Run cells: ``{"mode": "all" | "from" | "cell", "cell": id?, "parameters": {...}?,
    "known": {...}?}`` → 200 with :func:`_page_state` once the run went as far as
    ``LIVY_RUN_WAIT`` allows (its next cells go with the page's polls); 400 ``{"error":
    "invalid", "message"}`` for a bad mode, cell or parameters; 502 ``{"error": "livy",
    "message", "state"}`` when Livy failed (the code is kept as failed statements); 204 with
    ``X-Livy-Redirect`` when the user must sign in again (the code stays queued:
    :func:`livy.middleware.sign_in_again`). The owner only (403 for those who may read it)."""
    notebook, refused, body = _owner_json_view(request, pk)
    if refused is not None or notebook is None:
        return refused or HttpResponse(status=404)
    cell = None
    if body.get("cell") is not None:
        cell = notebook.cells.filter(pk=body.get("cell") if isinstance(body.get("cell"), int) else -1).first()
        if cell is None:
            return JsonResponse({"error": "invalid", "message": "That cell is not in this notebook (reload the page)."},
                                status=400)
    try:
        return _state_after(request, notebook, body, lambda client: service.start_run(
            notebook, request.user, client, mode=str(body.get("mode") or "all"), cell=cell,
            parameters=body.get("parameters"), wait=current_config().LIVY_RUN_WAIT))
    except service.NotebookError as exc:
        return JsonResponse({"error": "invalid", "message": str(exc)}, status=400)


@login_required
@require_POST
def notebook_poll(request: HttpRequest, pk: int) -> HttpResponse:
    """The page's poll while a run goes on (``{"known": {...}}``): the owner's request sends
    the run's next cells as the earlier finish, holding up to ``LIVY_RUN_WAIT`` seconds
    (:func:`livy.notebooks.service.drive_notebook`), then answers :func:`_page_state`. 502 with the
    state when Livy cannot be reached (the page keeps polling); 204 with ``X-Livy-Redirect``
    when the user must sign in again."""
    notebook, refused, body = _owner_json_view(request, pk)
    if refused is not None or notebook is None:
        return refused or HttpResponse(status=404)
    return _state_after(request, notebook, body, lambda client: service.drive_notebook(
        notebook, request.user, client, wait=current_config().LIVY_RUN_WAIT))


@login_required
@require_POST
def notebook_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    """Cancel all: every running run of the notebook by the user has its queued cells
    cancelled and its running one cancelled on Livy (:func:`livy.notebooks.service.cancel_runs`);
    answers :func:`_page_state`, or 204 with ``X-Livy-Redirect`` when the user must sign in
    again (the runs are cancelled; Cancel all again then reaches Livy)."""
    notebook, refused, body = _owner_json_view(request, pk)
    if refused is not None or notebook is None:
        return refused or HttpResponse(status=404)
    return _state_after(request, notebook, body,
                        lambda client: service.cancel_runs(notebook, request.user, client))


def _state_after(request: HttpRequest, notebook: Notebook, body: dict[str, Any],
                 action: Callable[[LivyClient], object]) -> HttpResponse:
    """Do ``action`` with the user's Livy client, then answer :func:`_page_state` (200); 502
    ``{"error": "livy", "message", "state"}`` when Livy failed. :class:`LivySignInRequired`
    goes on to :class:`livy.middleware.LivySignInMiddleware` (the page is sent to sign in and
    back); other errors (e.g. :class:`livy.notebooks.service.NotebookError`) to the caller."""
    try:
        action(livy_client(request.session))
    except LivySignInRequired:
        raise
    except LivyError as exc:
        return JsonResponse({"error": "livy", "message": f"Livy: {exc}",
                             "state": _page_state(request, notebook, _known(body))}, status=502)
    return JsonResponse(_page_state(request, notebook, _known(body)))


def _editor_page(request: HttpRequest, notebook: Notebook) -> HttpResponse:
    """The owner's notebook page (``livy/notebooks/page.html``)."""
    cells = list(selectors.cells_of(notebook))
    for cell in cells:
        cell.html = render_markdown(cell.source) if cell.kind == Cell.MARKDOWN else ""
    # The outputs are in the page's HTML: the state JSON need not carry them again.
    state = _page_state(request, notebook, known={str(c.pk): _key(c.last_statement) for c in cells})
    data = {
        "id": notebook.pk, "version": notebook.version, "title": notebook.title,
        "cells": [{"id": c.pk, "kind": c.kind, "source": c.source, "is_parameters": c.is_parameters}
                  for c in cells],
        "state": state,
        "urls": {"save": reverse("livy:notebook_save", args=[notebook.pk]),
                 "run": reverse("livy:notebook_run", args=[notebook.pk]),
                 "poll": reverse("livy:notebook_poll", args=[notebook.pk]),
                 "cancel": reverse("livy:notebook_cancel", args=[notebook.pk])},
        "draft_key": f"livy-draft-{request.user.pk}-notebook-{notebook.pk}",
        "kinds": [{"value": v, "label": label} for v, label in Cell.KIND_CHOICES],
    }
    outputs = {c.pk: _cell_output_html(request, c.last_statement) for c in cells}
    for cell in cells:
        cell.output_html = outputs[cell.pk]
    return render(request, "livy/notebooks/page.html", {
        "notebook": notebook, "cells": cells, "page_data": data, "state": state,
        "kinds": Cell.KIND_CHOICES,
        "can_delete": selectors.can_delete(request.user, notebook),
        "can_copy": selectors.can_copy(request.user, notebook),
        "shared_with": sorted(g.name for g in notebook.shared_with.all()),
    })
