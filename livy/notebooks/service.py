"""Every write to notebooks and cells, and running cells. Views check who may do what
(:mod:`livy.notebooks.selectors`) before calling these; these check that the data is sound.

Concurrency: the cells of a notebook are saved against the ``version`` the editor last read.
A save claims the notebook with one conditional ``UPDATE ... WHERE version = <read>`` that
adds 1; when another tab or process saved first, nothing is written and :class:`Conflict`
carries the current version and cells, so the page shows both and the user chooses. Renaming
and sharing do not change the version (they do not touch the cells).

Runs: :func:`queue_cells` sends code cells through :func:`livy.lifecycle.submit` (the one
session per user, the same queueing, the same audit trail); each statement is linked to its
cell (``Statement.cell``) and becomes the cell's ``last_statement``. Markdown cells are never
sent. A Run, Run all or Run from here is a :class:`~livy.models.NotebookRun`
(:func:`start_run`): its statements go to Livy one at a time and the first that fails stops
it (:func:`livy.lifecycle.settle_run`); :func:`cancel_run` cancels a run,
:func:`cancel_runs` is the page's Cancel all and :func:`run_summary` a run's state, as the
page and the API show it.

Errors: :class:`NotebookError` (a bad title, kind, cell id, too many cells or too long a
source; ``str(exc)`` is the message for the user), :class:`Conflict`,
:class:`livy.notebooks.ipynb.NotebookFileError` (a file that cannot be imported) and, from
:func:`queue_cells`, :class:`livy.remote.errors.LivyError`.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth.models import Group
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from livy import lifecycle
from livy.forms import MAX_CODE_LENGTH
from livy.models import Cell, Notebook, NotebookRun, SparkSession, Statement
from livy.notebooks import ipynb
from livy.remote.client import LivyClient
from livy.remote.errors import LivyError
from livy.states import TERMINAL_STATEMENT_VALUES

#: The title of a new notebook when none is given.
DEFAULT_TITLE = "Untitled notebook"
MAX_TITLE_LENGTH = 200


class NotebookError(ValueError):
    """Input that cannot be saved; ``str(exc)`` is the message for the user."""


class Conflict(Exception):
    """A save against a stale version: someone saved the notebook since the editor read it.
    Nothing was written. ``notebook`` is the current row, ``version`` its version and
    ``cells`` its current cells in order (as :func:`livy.notebooks.selectors.cells_of`)."""

    def __init__(self, notebook: Notebook, cells: list[Cell]):
        super().__init__(f"The notebook was changed elsewhere (now version {notebook.version}).")
        self.notebook = notebook
        self.version = notebook.version
        self.cells = cells


@dataclass(frozen=True)
class CellInput:
    """One cell of a save, in the order of the notebook: ``id`` of an existing cell of this
    notebook, or None for a new one; ``kind`` (``pyspark``, ``sql``, ``spark``, ``markdown``),
    ``source`` and whether it is the parameters cell."""

    id: int | None
    kind: str
    source: str
    is_parameters: bool = False


def max_import_bytes() -> int:
    """Largest ``.ipynb`` accepted by :func:`import_notebook`, in bytes: the setting
    ``NOTEBOOK_MAX_IMPORT_BYTES``, by default :data:`livy.notebooks.ipynb.DEFAULT_MAX_IMPORT_BYTES`
    (20 MiB)."""
    return int(getattr(settings, "NOTEBOOK_MAX_IMPORT_BYTES", ipynb.DEFAULT_MAX_IMPORT_BYTES))


def clean_title(title: str | None, *, default: str | None = None) -> str:
    """``title`` without surrounding spaces, at most :data:`MAX_TITLE_LENGTH` characters.
    Raises :class:`NotebookError` when it is empty and there is no ``default``."""
    cleaned = " ".join((title or "").split())
    if not cleaned:
        if default is None:
            raise NotebookError("Give the notebook a title.")
        cleaned = default
    if len(cleaned) > MAX_TITLE_LENGTH:
        raise NotebookError(f"A title has at most {MAX_TITLE_LENGTH} characters.")
    return cleaned


def _check_cell(kind: str, source: str, number: int) -> None:
    if kind not in ipynb.KINDS:
        raise NotebookError(f"Cell {number}: unknown kind {kind!r} (one of {', '.join(ipynb.KINDS)}).")
    if not isinstance(source, str):
        raise NotebookError(f"Cell {number}: the source must be text.")
    if len(source) > MAX_CODE_LENGTH:
        raise NotebookError(f"Cell {number} is {len(source):,} characters long; a cell has at most "
                            f"{MAX_CODE_LENGTH:,}.")


def _check_count(count: int) -> None:
    if count > ipynb.MAX_CELLS:
        raise NotebookError(f"A notebook has at most {ipynb.MAX_CELLS} cells.")


def _touch(notebook: Notebook) -> None:
    Notebook.objects.filter(pk=notebook.pk).update(updated_at=timezone.now())


# ------------------------------------------------------------------------------ notebooks
@transaction.atomic
def create(owner: Any, *, title: str | None = None, cells: Sequence[ipynb.NotebookCell] | None = None) -> Notebook:
    """A new notebook of ``owner``: ``title`` (default :data:`DEFAULT_TITLE`) and ``cells``
    (default: one empty PySpark cell, where the user starts typing)."""
    given = list(cells) if cells is not None else [ipynb.NotebookCell(ipynb.PYSPARK, "")]
    _check_count(len(given))
    for number, cell in enumerate(given, start=1):
        _check_cell(cell.kind, cell.source, number)
    if sum(1 for c in given if c.is_parameters) > 1:
        raise NotebookError("Only one cell can be the parameters cell.")
    notebook = Notebook.objects.create(owner=owner, title=clean_title(title, default=DEFAULT_TITLE))
    Cell.objects.bulk_create(
        Cell(notebook=notebook, position=i, kind=c.kind, source=c.source, is_parameters=c.is_parameters,
             metadata=c.metadata or {})
        for i, c in enumerate(given)
    )
    return notebook


def rename(notebook: Notebook, title: str) -> Notebook:
    """Give ``notebook`` a new title (the version does not change). Raises
    :class:`NotebookError` for an empty or too long title."""
    notebook.title = clean_title(title)
    notebook.save(update_fields=["title", "updated_at"])
    return notebook


@transaction.atomic
def duplicate(notebook: Notebook, owner: Any, *, title: str | None = None) -> Notebook:
    """"Save a copy": a new notebook of ``owner`` (who may be someone it was shared with)
    with the same cells in the same order, without their runs or shares; titled ``title``
    or "Copy of <title>"."""
    copy_title = clean_title(title, default=f"Copy of {notebook.title}"[:MAX_TITLE_LENGTH])
    new = Notebook.objects.create(owner=owner, title=copy_title)
    Cell.objects.bulk_create(
        Cell(notebook=new, position=i, kind=c.kind, source=c.source, is_parameters=c.is_parameters,
             metadata=c.metadata)
        for i, c in enumerate(notebook.cells.order_by("position", "pk"))
    )
    return new


def delete(notebook: Notebook) -> None:
    """Delete ``notebook`` and its cells. The statements its cells ran stay (the audit trail),
    with ``cell`` set to null."""
    notebook.delete()


def import_notebook(owner: Any, data: bytes, *, filename: str = "") -> tuple[Notebook, list[str]]:
    """A new notebook of ``owner`` from an ``.ipynb`` file (:func:`livy.notebooks.ipynb.read_ipynb`,
    at most :func:`max_import_bytes`). Returns the notebook and the notices for the user.
    Raises :class:`livy.notebooks.ipynb.NotebookFileError` for a file that cannot be imported
    (nothing is created)."""
    imported = ipynb.read_ipynb(data, filename=filename, max_bytes=max_import_bytes())
    cells = imported.cells or [ipynb.NotebookCell(ipynb.PYSPARK, "")]
    try:
        notebook = create(owner, title=imported.title[:MAX_TITLE_LENGTH], cells=cells)
    except NotebookError as exc:
        raise ipynb.NotebookFileError(str(exc)) from exc
    return notebook, imported.notices


def set_shared_groups(notebook: Notebook, groups: Iterable[Group]) -> Notebook:
    """Share ``notebook`` read-only with exactly ``groups`` (an empty list: with nobody)."""
    notebook.shared_with.set(list(groups))
    _touch(notebook)
    return notebook


def share(notebook: Notebook, *groups: Group) -> Notebook:
    """Add ``groups`` to the groups ``notebook`` is shared with (read-only)."""
    notebook.shared_with.add(*groups)
    return notebook


def unshare(notebook: Notebook, *groups: Group) -> Notebook:
    """Stop sharing ``notebook`` with ``groups``."""
    notebook.shared_with.remove(*groups)
    return notebook


# ---------------------------------------------------------------------------------- cells
def _current_cells(notebook: Notebook) -> list[Cell]:
    return list(notebook.cells.select_related("last_statement", "last_statement__session").order_by("position", "pk"))


def _claim(notebook: Notebook, version: int) -> None:
    """Move ``notebook`` from ``version`` to ``version + 1``, or raise :class:`Conflict`
    (call inside a transaction: what follows is written only with the claim)."""
    claimed = Notebook.objects.filter(pk=notebook.pk, version=version).update(
        version=F("version") + 1, updated_at=timezone.now()
    )
    if not claimed:
        current = Notebook.objects.get(pk=notebook.pk)
        raise Conflict(current, _current_cells(current))
    notebook.version = version + 1


def _renumber(notebook: Notebook) -> None:
    cells = list(notebook.cells.order_by("position", "pk"))
    for i, cell in enumerate(cells):
        cell.position = i
    Cell.objects.bulk_update(cells, ["position"])


def save(notebook: Notebook, *, version: int, cells: Sequence[CellInput], title: str | None = None) -> Notebook:
    """Save the whole cell list of ``notebook`` as the editor has it, against ``version``:
    ``cells`` in order (existing ones by ``id``, new ones with ``id`` None); cells of the
    notebook missing from the list are deleted (their statements stay). ``title``, if given,
    renames it too. Returns the notebook with its new ``version``.

    Raises :class:`Conflict` when ``version`` is not the current one (nothing is written), and
    :class:`NotebookError` for an id that is not a cell of this notebook (or given twice), an
    unknown kind, a source over :data:`livy.forms.MAX_CODE_LENGTH` characters, more than one
    parameters cell or more than :data:`livy.notebooks.ipynb.MAX_CELLS` cells."""
    _check_count(len(cells))
    for number, given in enumerate(cells, start=1):
        _check_cell(given.kind, given.source, number)
    if sum(1 for c in cells if c.is_parameters) > 1:
        raise NotebookError("Only one cell can be the parameters cell.")
    new_title = clean_title(title) if title is not None else None
    with transaction.atomic():
        _claim(notebook, version)
        existing = {c.pk: c for c in notebook.cells.all()}
        seen: set[int] = set()
        for number, given in enumerate(cells, start=1):
            if given.id is not None and (given.id not in existing or given.id in seen):
                raise NotebookError(f"Cell {number} is not a cell of this notebook (reload the page).")
            if given.id is not None:
                seen.add(given.id)
        if len(seen) < len(existing):
            notebook.cells.exclude(pk__in=seen).delete()
        wanted = next((c.id if c.id is not None else 0 for c in cells if c.is_parameters), None)
        if any(c.is_parameters and c.pk != wanted for c in existing.values()):
            notebook.cells.filter(is_parameters=True).update(is_parameters=False)
            for c in existing.values():
                c.is_parameters = False
        changed, added = [], []
        for position, given in enumerate(cells):
            if given.id is None:
                added.append(Cell(notebook=notebook, position=position, kind=given.kind, source=given.source,
                                  is_parameters=given.is_parameters))
                continue
            cell = existing[given.id]
            now = (position, given.kind, given.source, given.is_parameters)
            if (cell.position, cell.kind, cell.source, cell.is_parameters) != now:
                cell.position, cell.kind, cell.source, cell.is_parameters = now
                changed.append(cell)  # only what changed is written: an autosave touches one cell
        if changed:
            Cell.objects.bulk_update(changed, ["position", "kind", "source", "is_parameters"])
        Cell.objects.bulk_create(added)
        if new_title is not None:
            Notebook.objects.filter(pk=notebook.pk).update(title=new_title)
            notebook.title = new_title
    notebook.refresh_from_db()
    return notebook


def add_cell(notebook: Notebook, *, version: int, position: int, kind: str = ipynb.PYSPARK, source: str = "") -> Cell:
    """Insert a cell at ``position`` (0 = first; past the end = last), against ``version``.
    Raises :class:`Conflict` or :class:`NotebookError`."""
    _check_cell(kind, source, position + 1)
    with transaction.atomic():
        _claim(notebook, version)
        count = notebook.cells.count()
        _check_count(count + 1)
        position = max(0, min(position, count))
        notebook.cells.filter(position__gte=position).update(position=F("position") + 1)
        cell = Cell.objects.create(notebook=notebook, position=position, kind=kind, source=source)
        _renumber(notebook)
    cell.refresh_from_db()
    return cell


def move_cell(notebook: Notebook, cell: Cell, *, version: int, position: int) -> Cell:
    """Move ``cell`` to ``position`` (clamped to the notebook), against ``version``."""
    if cell.notebook_id != notebook.pk:
        raise NotebookError("That cell is not in this notebook.")
    with transaction.atomic():
        _claim(notebook, version)
        others = list(notebook.cells.exclude(pk=cell.pk).order_by("position", "pk"))
        position = max(0, min(position, len(others)))
        ordered = others[:position] + [cell] + others[position:]
        for i, c in enumerate(ordered):
            c.position = i
        Cell.objects.bulk_update(ordered, ["position"])
    cell.refresh_from_db()
    return cell


def delete_cell(notebook: Notebook, cell: Cell, *, version: int) -> None:
    """Delete ``cell`` (its statements stay), against ``version``."""
    if cell.notebook_id != notebook.pk:
        raise NotebookError("That cell is not in this notebook.")
    with transaction.atomic():
        _claim(notebook, version)
        cell.delete()
        _renumber(notebook)


def set_parameters_cell(notebook: Notebook, cell: Cell | None, *, version: int) -> Notebook:
    """Make ``cell`` the parameters cell (papermill's ``parameters`` tag), or none (None),
    against ``version``. The parameters cell is a code cell."""
    if cell is not None and (cell.notebook_id != notebook.pk or not cell.is_code):
        raise NotebookError("The parameters cell must be a code cell of this notebook.")
    with transaction.atomic():
        _claim(notebook, version)
        notebook.cells.filter(is_parameters=True).update(is_parameters=False)
        if cell is not None:
            Cell.objects.filter(pk=cell.pk).update(is_parameters=True)
    return notebook


# ----------------------------------------------------------------------------------- runs
def queue_cells(notebook: Notebook, cells: Iterable[Cell], user: Any, client: LivyClient, *,
                wait: float = 0.0, parameters: dict[str, Any] | None = None,
                run: NotebookRun | None = None) -> list[Statement]:
    """Run ``cells`` of ``notebook`` as ``user``, in notebook order: each code cell with code
    goes through :func:`livy.lifecycle.submit` (the user's session, started if needed; the
    statements queue while it starts and go out in order), linked to its cell, and becomes the
    cell's ``last_statement``. Markdown and empty cells are skipped. ``wait`` (seconds) is
    given to the last submit only, so a quick Run answers with its result.

    Returns the statements in order. Raises :class:`NotebookError` for a cell of another
    notebook. Raises :class:`LivyError` when a submit fails: the cells before it are queued,
    the failing one points at the statement the lifecycle kept for it (``failed``, with the
    reason) when there is one, and the later ones are not sent.

    ``parameters`` (a run with parameters, papermill's convention): right after the
    parameters cell, a statement with the values (:func:`livy.notebooks.ipynb.parameters_code`)
    is sent; it is linked to the parameters cell (``Statement.cell``) but is not its
    ``last_statement``, and is in the returned list. Raises :class:`NotebookError` when the
    notebook has no parameters cell among ``cells``, or for a bad name or value.

    ``run``: the :class:`~livy.models.NotebookRun` the statements belong to (they then go to
    Livy one at a time: :func:`livy.lifecycle.dispatch_queued`); ``wait`` is then not used
    (:func:`start_run` waits for the chain)."""
    runnable, injected = _runnable(notebook, cells, parameters)
    if run is not None:
        return _queue_run(runnable, injected, user, client, run)
    statements: list[Statement] = []
    floor = Statement.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
    for i, cell in enumerate(runnable):
        wait_here = wait if i == len(runnable) - 1 else 0.0
        try:
            if cell.source.strip():
                stmt = lifecycle.submit(user, cell.source, client=client, kind=cell.kind,
                                        wait=0.0 if injected and cell.is_parameters else wait_here, cell=cell,
                                        run=run)
                _link(cell, stmt)
                statements.append(stmt)
            if injected and cell.is_parameters:
                statements.append(lifecycle.submit(user, injected, client=client, kind=cell.kind, cell=cell,
                                                   wait=wait_here, run=run))
        except LivyError:
            kept = Statement.objects.filter(cell=cell, pk__gt=floor).order_by("-pk").first()
            if kept is not None and kept.code == cell.source:
                _link(cell, kept)
            raise
    return statements


def _queue_run(runnable: list[Cell], injected: str, user: Any, client: LivyClient, run: NotebookRun) -> list[Statement]:
    """:func:`queue_cells` for a run: every statement queued at once (:func:`livy.lifecycle.submit_run`),
    each cell linked to its own statement (not to the injected one, which is the run's
    ``injected_statement``)."""
    items: list[tuple[str, str, Any]] = []
    own: list[Cell | None] = []
    injected_at = None
    for cell in runnable:
        if cell.source.strip():
            items.append((cell.source, cell.kind, cell))
            own.append(cell)
        if injected and cell.is_parameters:
            injected_at = len(items)
            items.append((injected, cell.kind, cell))
            own.append(None)
    try:
        statements = lifecycle.submit_run(user, items, client=client, run=run, injected_at=injected_at)
    except LivyError:
        for stmt in run.statements.exclude(pk=run.injected_statement_id or 0).select_related("cell").order_by("pk"):
            if stmt.cell is not None and stmt.code == stmt.cell.source:
                _link(stmt.cell, stmt)
        raise
    for holder, stmt in zip(own, statements, strict=True):
        if holder is not None:
            _link(holder, stmt)
    return statements


def _link(cell: Cell, stmt: Statement) -> None:
    Cell.objects.filter(pk=cell.pk).update(last_statement=stmt)
    cell.last_statement = stmt


def _runnable(notebook: Notebook, cells: Iterable[Cell],
              parameters: dict[str, Any] | None) -> tuple[list[Cell], str]:
    """The code cells of ``cells`` to send, in notebook order, and the injected parameters
    code ("" without parameters). Raises :class:`NotebookError` (see :func:`queue_cells`)."""
    chosen = sorted(cells, key=lambda c: (c.position, c.pk))
    if any(c.notebook_id != notebook.pk for c in chosen):
        raise NotebookError("That cell is not in this notebook.")
    runnable = [c for c in chosen if c.is_code and (c.source.strip() or (parameters and c.is_parameters))]
    injected = ""
    if parameters:
        holder = next((c for c in runnable if c.is_parameters), None)
        if holder is None:
            raise NotebookError("This run has parameters but no parameters cell: mark one cell as the parameters cell.")
        try:
            injected = ipynb.parameters_code(holder.kind, parameters)
        except ipynb.NotebookFileError as exc:
            raise NotebookError(str(exc)) from exc
    return runnable, injected


# ------------------------------------------------------------------------------ run resource
def start_run(notebook: Notebook, user: Any, client: LivyClient, *, mode: str = NotebookRun.ALL,
              cell: Cell | None = None, parameters: dict[str, Any] | None = None,
              wait: float = 0.0) -> NotebookRun:
    """Start a :class:`~livy.models.NotebookRun` of ``notebook`` by ``user`` in their Livy
    session (started if needed): ``mode`` ``all`` (every code cell), ``from`` (``cell`` and
    the cells after it) or ``cell`` (``cell`` alone); ``parameters`` (a JSON object of names
    to values, papermill's convention) injects a statement after the parameters cell. Each
    code cell becomes a queued statement of the run, linked to its cell (its new
    ``last_statement``); they go to Livy one at a time in notebook order and the first that
    ends not OK stops the run ("Not run: cell N failed": :func:`livy.lifecycle.settle_run`).

    ``wait`` (seconds, e.g. ``LIVY_RUN_WAIT``): the call drives the chain that long (each
    statement that finishes sends the next in this request: :func:`livy.lifecycle.dispatch`),
    so a short Run all comes back finished; later statements go out with the page's dispatch
    polls or the API's ``GET /runs/{id}`` by the owner. Returns the run (settled).

    Raises :class:`NotebookError` for a bad ``mode``, a missing ``cell``, a cell of another
    notebook or bad parameters (no run is created). Raises :class:`LivyError` when no
    session could be had or Livy failed mid-way; the run is kept (``failed``, the code kept
    as ``failed`` statements: nothing typed is lost) and is ``exc.run``."""
    if mode not in (NotebookRun.ALL, NotebookRun.FROM, NotebookRun.CELL):
        raise NotebookError(f"Unknown run mode {mode!r} (one of all, from, cell).")
    if mode != NotebookRun.ALL and (cell is None or cell.notebook_id != notebook.pk):
        raise NotebookError("Say which cell of this notebook to run.")
    if parameters is not None and not isinstance(parameters, dict):
        raise NotebookError("Parameters must be a JSON object of names to values.")
    cells = list(notebook.cells.order_by("position", "pk"))
    if mode == NotebookRun.FROM and cell is not None:
        cells = [c for c in cells if (c.position, c.pk) >= (cell.position, cell.pk)]
    elif mode == NotebookRun.CELL and cell is not None:
        cells = [c for c in cells if c.pk == cell.pk]
    _runnable(notebook, cells, parameters or None)  # refuse bad parameters before anything is written
    run = NotebookRun.objects.create(notebook=notebook, user=user, mode=mode, parameters=parameters or None)
    try:
        queue_cells(notebook, cells, user, client, parameters=parameters or None, run=run)
    except LivyError as exc:
        lifecycle.settle_run(run)
        exc.run = run  # type: ignore[attr-defined]
        raise
    except BaseException:
        # Not a Livy failure (a bug, the database): the run must not stay "running" for ever.
        lifecycle.stop_run(run, "it could not be started (see the server log)")
        raise
    run = lifecycle.settle_run(run)
    if wait > 0 and not run.is_finished:
        drive_run(run, client, wait=wait)
        run = lifecycle.settle_run(run)
    return run


def drive_run(run: NotebookRun, client: LivyClient, *, wait: float = 0.0) -> NotebookRun:
    """The owner's request that moves ``run`` on (the page's dispatch poll, the API's ``GET
    /runs/{id}``): each session with a statement of the run is refreshed and its queued
    statements sent, holding up to ``wait`` seconds to send the next cells as the running
    ones finish (:func:`livy.lifecycle.dispatch`). Call only for the run's user. Raises
    :class:`LivyError` when Livy cannot be reached (rows stay as they were)."""
    sessions = SparkSession.objects.filter(statements__run=run).distinct()
    for session in sessions:
        lifecycle.dispatch(session, client=client, wait=wait, force=True)
    return lifecycle.settle_run(run)


def drive_notebook(notebook: Notebook, user: Any, client: LivyClient, *, wait: float = 0.0) -> None:
    """The notebook page's poll by its owner ``user``: every run of ``notebook`` by ``user``
    still running is moved on (:func:`drive_run`, holding up to ``wait`` seconds in all
    while its cells finish), then each session where a cell's last statement is still open
    (a cancelled run's statement being cancelled) is refreshed and its queued code sent
    (:func:`livy.lifecycle.dispatch`). Raises :class:`LivyError` when Livy cannot be reached
    (rows stay as they were)."""
    deadline = time.monotonic() + wait
    for run in notebook.runs.filter(user=user, state=NotebookRun.RUNNING).order_by("created_at", "pk"):
        drive_run(run, client, wait=max(0.0, deadline - time.monotonic()))
    open_cells = notebook.cells.filter(last_statement__isnull=False).exclude(
        last_statement__state__in=TERMINAL_STATEMENT_VALUES)
    for session in SparkSession.objects.filter(pk__in=open_cells.values("last_statement__session")):
        lifecycle.dispatch(session, client=client, user=user)


def cancel_run(run: NotebookRun, client: LivyClient, actor: Any = None) -> NotebookRun:
    """Cancel all: the run's queued statements are cancelled and its running ones cancelled
    on Livy (:func:`livy.lifecycle.cancel_run`); ``actor`` the user asking (None: its user).
    Returns the run, ``cancelled`` unless it had finished. Raises :class:`LivyError` when
    Livy cannot be reached for a running statement."""
    return lifecycle.cancel_run(run, client=client, actor=actor)


def cancel_runs(notebook: Notebook, user: Any, client: LivyClient) -> list[NotebookRun]:
    """The page's Cancel all: every run of ``notebook`` by ``user`` still running is cancelled
    (:func:`livy.lifecycle.cancel_runs`: all marked ``cancelled`` with their queued
    statements before Livy is asked to cancel the running ones), so a Run all goes no further
    when a Run of one cell was started after it. A cancelled run with a statement still open
    (Livy could not be asked the first time) is asked again. Returns those runs. Raises the
    first :class:`LivyError` met once every running statement was tried."""
    still_open = Statement.objects.filter(run=OuterRef("pk")).exclude(state__in=TERMINAL_STATEMENT_VALUES)
    runs = list(notebook.runs.filter(user=user).filter(
        Q(state=NotebookRun.RUNNING) | Q(state=NotebookRun.CANCELLED) & Exists(still_open)
    ).order_by("-created_at", "-pk"))
    return lifecycle.cancel_runs(runs, client=client, actor=user)


def current_run(notebook: Notebook) -> NotebookRun | None:
    """The notebook's latest run, or None."""
    return notebook.runs.order_by("-created_at", "-pk").first()


def run_summary(run: NotebookRun) -> dict[str, Any]:
    """The run as JSON (the API's ``GET /runs/{id}`` body and the page's notice), settled
    first (:func:`livy.lifecycle.settle_run`)::

        {"id": int, "notebook_id": int | None, "mode": "all" | "from" | "cell",
         "state": "running" | "succeeded" | "failed" | "cancelled", "parameters": {...} | None,
         "created_at": ISO 8601, "finished_at": ISO 8601 | None,
         "failed_cell": {"id": int, "position": int, "number": int} | None, "message": str,
         "cells": [{"cell_id": int | None, "position": int | None, "kind": str,
                    "injected": bool, "state": str, "statement_id": int,
                    "error": str}, ...]}

    ``cells`` has one entry per statement of the run, in order (``injected``: the parameters
    statement, the run's ``injected_statement``; ``cell_id`` None once the cell was deleted); ``state`` is the statement's
    (``queued``, ``running``, ``available``, ``error``, ``cancelled``, ``failed``, ...)."""
    run = lifecycle.settle_run(run)
    statements = list(run.statements.select_related("cell").order_by("pk"))
    entries = []
    for stmt in statements:
        entries.append({
            "cell_id": stmt.cell_id, "position": stmt.cell.position if stmt.cell else None,
            "kind": stmt.kind, "injected": stmt.pk == run.injected_statement_id, "state": stmt.state,
            "statement_id": stmt.pk,
            "error": f"{stmt.error_name}: {stmt.error_value}" if stmt.error_name else "",
        })
    failed = run.failed_cell
    return {
        "id": run.pk, "notebook_id": run.notebook_id, "mode": run.mode, "state": run.state,
        "parameters": run.parameters,
        "created_at": run.created_at.isoformat(),
        "finished_at": run.finished_at.isoformat() if run.finished_at else None,
        "failed_cell": {"id": failed.pk, "position": failed.position, "number": failed.position + 1}
        if failed is not None else None,
        "message": run_message(run),
        "cells": entries,
    }


def run_message(run: NotebookRun) -> str:
    """One line for the user about ``run`` ("Run all stopped: cell 3 failed.", ...)."""
    label = dict(NotebookRun.MODE_CHOICES).get(run.mode, "Run")
    if run.state == NotebookRun.FAILED:
        if run.stop_reason:
            return f"{label} stopped: {run.stop_reason}."
        if run.failed_cell is not None:
            return f"{label} stopped: cell {run.failed_cell.position + 1} failed."
        return f"{label} stopped: a cell failed."
    if run.state == NotebookRun.CANCELLED:
        return f"{label} was cancelled."
    if run.state == NotebookRun.SUCCEEDED:
        return f"{label} finished."
    return f"{label} is running."
