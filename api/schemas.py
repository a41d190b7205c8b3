"""The API's typed request and answer shapes (pydantic, through django-ninja), from which the
OpenAPI description is generated. Request bodies refuse unknown fields (422)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field

from livy import output
from livy.forms import MAX_CODE_LENGTH
from livy.models import Batch, Cell, Notebook, SparkSession, Statement

#: Statement kinds (Livy's ``kind``): PySpark, Spark SQL, Scala, SparkR.
Kind = Literal["pyspark", "sql", "spark", "sparkr"]


class Problem(Schema):
    """RFC 9457 problem details (``application/problem+json``)."""

    type: str = Field(description="A URI naming the problem; about:blank when the status says it all.")
    title: str
    status: int
    detail: str
    instance: str | None = Field(None, description="The request path.")


class ValidationProblem(Problem):
    errors: list[dict[str, Any]] = Field(description="Each invalid field: loc (where), msg, type.")


class StatementIn(Schema):
    """Code to run in the caller's session (started if needed, as a Run in the notebook does)."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=1, max_length=MAX_CODE_LENGTH, description="The code, as typed.",
                      examples=["1 + 1"])
    kind: Kind = Field("pyspark", description="The statement's language (Livy's kind).")


class Column(Schema):
    name: str
    type: str = Field(description="The type as the source names it (long, BIGINT_TYPE, ...).")


class TableOut(Schema):
    """A table result (Livy's %table, or a Spark SQL result): every row Livy returned."""

    headers: list[Column]
    rows: list[list[Any]]


class ErrorOut(Schema):
    """Why the statement failed: the exception's name, value and traceback lines (from
    Livy), or this app's reason (ename ``SessionEnded``, ``LivyError``, ...)."""

    ename: str
    evalue: str
    traceback: list[str]


class OutputOut(Schema):
    """Livy's ``output`` of a finished statement."""

    status: str | None = Field(description="ok or error, as Livy says.")
    execution_count: int | None = None
    text: str | None = Field(None, description="The text/plain result.")
    table: TableOut | None = Field(None, description="A table result, if there is one.")
    json_value: Any = Field(None, description="An application/json result (%json) that is not a table.")
    data: dict[str, Any] = Field(default_factory=dict, description="Every MIME type Livy returned, as it is.")


class StatementOut(Schema):
    """A statement. ``state`` is Livy's (waiting, running, available, error, cancelling,
    cancelled) or this app's (queued: waiting for its session to start; sending; failed:
    it could not be run). ``terminal`` is true once it will not change again; it succeeded
    when ``state`` is ``available``."""

    id: int
    session_id: int
    kind: str
    code: str
    state: str
    terminal: bool
    progress: float = Field(description="0.0 to 1.0.")
    author: str
    created_at: datetime
    submitted_at: datetime | None
    started_at: datetime | None
    completed_at: datetime | None
    output: OutputOut | None
    error: ErrorOut | None


class SessionOut(Schema):
    """A Livy session this app started for one user; ``state`` is Livy's (not_started,
    starting, idle, busy, shutting_down, error, dead, killed, success)."""

    id: int
    name: str
    owner: str
    backend: str
    kind: str
    state: str
    active: bool = Field(description="The owner's current session (their statements run here).")
    livy_id: str = Field(description="Livy's id of the session (empty until Livy accepted it).")
    app_id: str
    spark_ui_url: str
    error_message: str
    created_at: datetime
    ready_at: datetime | None
    ended_at: datetime | None


class SessionPage(Schema):
    items: list[SessionOut]
    next_cursor: int | None = Field(description="Pass as cursor for the next (older) page; null on the last.")


class StatementPage(Schema):
    items: list[StatementOut]
    next_cursor: int | None = Field(description="Pass as cursor for the next (older) page; null on the last.")


def _output(stmt: Statement) -> OutputOut | None:
    raw = stmt.output
    if not isinstance(raw, dict):
        return None
    found = raw.get("data")
    data: dict[str, Any] = found if isinstance(found, dict) else {}
    table = output.result_table(raw)
    text = data.get("text/plain")
    json_value = data.get(output.JSON_MIME) if table is None else None
    count = raw.get("execution_count")
    return OutputOut(
        status=raw.get("status") if isinstance(raw.get("status"), str) else None,
        execution_count=count if isinstance(count, int) and not isinstance(count, bool) else None,
        text=output.cell_text(text) if text is not None else None,
        table=TableOut(headers=[Column(name=c.name, type=c.type) for c in table.columns], rows=table.rows)
        if table is not None else None,
        json_value=json_value,
        data=data,
    )


def statement_out(stmt: Statement) -> StatementOut:
    """The API's view of ``stmt`` (its ``author`` loaded or loadable)."""
    error = None
    if stmt.is_error:
        error = ErrorOut(ename=stmt.error_name or stmt.state, evalue=stmt.error_value,
                         traceback=stmt.traceback.splitlines())
    return StatementOut(
        id=stmt.pk, session_id=stmt.session_id, kind=stmt.kind, code=stmt.code, state=stmt.state,
        terminal=stmt.is_terminal, progress=stmt.progress, author=stmt.author.get_username(),
        created_at=stmt.created_at, submitted_at=stmt.submitted_at, started_at=stmt.started_at,
        completed_at=stmt.completed_at, output=_output(stmt), error=error,
    )


def session_out(session: SparkSession) -> SessionOut:
    """The API's view of ``session`` (its ``owner`` loaded or loadable)."""
    return SessionOut(
        id=session.pk, name=session.name, owner=session.owner.get_username(), backend=session.backend,
        kind=session.kind, state=session.state, active=session.active, livy_id=session.livy_id,
        app_id=session.app_id, spark_ui_url=session.spark_ui_url, error_message=session.error_message,
        created_at=session.created_at, ready_at=session.ready_at, ended_at=session.ended_at,
    )


# ---------------------------------------------------------------------------------- batches
#: A path or URI as the Jobs page takes it (one per item: no line breaks).
JobPath = Annotated[str, Field(min_length=1, max_length=2000, pattern=r"^[^\r\n]*$")]


class BatchIn(Schema):
    """A Spark job (Livy batch) given as paths the cluster can read, named as Livy's
    ``POST /batches`` fields. Checked by the Jobs page's rules (:class:`livy.job_forms.JobForm`):
    a ``.py`` (or a ``.jar`` with ``className``) main file; ``pyFiles`` ``.py/.zip/.egg/.whl``;
    ``jars`` ``.jar``; ``archives`` ``.zip/.tar/.tar.gz/.tgz/.jar``; Apache Livy: URIs of a
    cluster file system or local paths inside the allowed folders; Fabric: ``abfss://`` paths.
    To upload the files instead, send the same fields as ``multipart/form-data``."""

    model_config = ConfigDict(extra="forbid")

    file: JobPath = Field(description="The main file (.py, or .jar with className).",
                          examples=["hdfs:///jobs/etl_job.py"])
    pyFiles: list[JobPath] = Field(default_factory=list, max_length=100)
    files: list[JobPath] = Field(default_factory=list, max_length=100)
    jars: list[JobPath] = Field(default_factory=list, max_length=100)
    archives: list[JobPath] = Field(default_factory=list, max_length=100)
    args: list[Annotated[str, Field(max_length=20_000, pattern=r"^[^\r\n]*$")]] | str = Field(
        default_factory=list, description="The arguments: a list, or one per line in one string.")
    conf: dict[str, str | int | float | bool] = Field(
        default_factory=dict, description="Spark configuration (keys like spark.executor.memory).")
    name: str = Field("", max_length=120, description="Your name for the job (Livy's name gets a unique suffix).")
    className: str = Field("", max_length=300, description="The main class of a .jar main file.")
    driverMemory: str = Field("", max_length=20, examples=["1g"])
    driverCores: int | None = Field(None, ge=1, le=256)
    executorMemory: str = Field("", max_length=20, examples=["2g"])
    executorCores: int | None = Field(None, ge=1, le=256)
    numExecutors: int | None = Field(None, ge=1, le=10_000)


class BatchOut(Schema):
    """A Spark job (Livy batch) submitted through this app. ``state`` is Livy's (not_started,
    starting, running, success, dead, killed, ...) or ``not_submitted``; ``terminal`` is true
    once it will not change again; it succeeded when ``state`` is ``success``."""

    id: int
    name: str = Field(description="The name the submitter gave it.")
    livy_name: str = Field(description="The unique name sent to Livy.")
    owner: str
    backend: str
    state: str
    terminal: bool
    livy_id: str = Field(description="Livy's id of the batch (empty until Livy accepted it).")
    app_id: str
    spark_ui_url: str
    driver_log_url: str
    error_message: str
    request: dict[str, Any] = Field(description="The exact body sent as POST /batches.")
    created_at: datetime
    submitted_at: datetime | None
    running_at: datetime | None
    ended_at: datetime | None


class BatchPage(Schema):
    items: list[BatchOut]
    next_cursor: int | None = Field(description="Pass as cursor for the next (older) page; null on the last.")


class BatchLogOut(Schema):
    """A window of the batch's log as Apache Livy's ``GET /batches/{id}/log`` answers it:
    ``log`` is ``["stdout: ", *stdout lines, "\\nstderr: ", *stderr lines]`` from line
    ``from`` (every line read from Livy while the job ran, kept after Livy forgot it)."""

    model_config = ConfigDict(populate_by_name=True)

    id: int
    from_: int = Field(alias="from")
    size: int
    total: int
    log: list[str]
    state: str
    terminal: bool


def batch_out(row: Batch) -> BatchOut:
    """The API's view of ``row`` (its ``owner`` loaded or loadable)."""
    return BatchOut(
        id=row.pk, name=row.label, livy_name=row.name, owner=row.owner.get_username(), backend=row.backend,
        state=row.state, terminal=row.is_terminal, livy_id=row.livy_id, app_id=row.app_id,
        spark_ui_url=row.spark_ui_url, driver_log_url=row.driver_log_url, error_message=row.error_message,
        request=row.request if isinstance(row.request, dict) else {}, created_at=row.created_at,
        submitted_at=row.submitted_at, running_at=row.running_at, ended_at=row.ended_at,
    )


# -------------------------------------------------------------------------------- notebooks
#: Cell kinds (Livy's kind for code cells, and markdown).
CellKind = Literal["pyspark", "sql", "spark", "markdown"]


class CellRunOut(Schema):
    """The statement that last ran a cell: its state and output as JSON (as a statement's)."""

    statement_id: int
    state: str
    terminal: bool
    started_at: datetime | None
    completed_at: datetime | None
    output: OutputOut | None
    error: ErrorOut | None


class CellOut(Schema):
    id: int
    position: int
    kind: str
    source: str
    is_parameters: bool
    last_run: CellRunOut | None


class NotebookOut(Schema):
    """A notebook: its cells in order, each with its last run. ``version`` goes up by one with
    every save of the cells; send it back with PUT."""

    id: int
    title: str
    version: int
    owner: str
    created_at: datetime
    updated_at: datetime
    can_edit: bool = Field(description="The caller may change, share and delete it (its owner, with the role).")
    can_run: bool
    shared_with: list[str] = Field(description="Groups it is shared with, read-only.")
    cells: list[CellOut]
    notices: list[str] = Field(default_factory=list, description="What an import changed or left out.")


class NotebookSummary(Schema):
    id: int
    title: str
    version: int
    owner: str
    cell_count: int
    created_at: datetime
    updated_at: datetime


class NotebookPage(Schema):
    items: list[NotebookSummary]
    next_offset: int | None = Field(description="Pass as offset for the next page; null on the last.")


class CellIn(Schema):
    """One cell of a save: ``id`` of an existing cell of the notebook (null: a new cell)."""

    model_config = ConfigDict(extra="forbid")

    id: int | None = None
    kind: CellKind = "pyspark"
    source: str = Field("", max_length=MAX_CODE_LENGTH)
    is_parameters: bool = False


class NotebookSave(Schema):
    """A versioned save (PUT): the whole cell list in order (``cells``), or a whole notebook in
    nbformat (``ipynb``: its cells replace all the cells), against ``version``, the version
    last read. A stale version is a 409 with the current version and notebook."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=1)
    title: str | None = Field(None, max_length=200)
    cells: list[CellIn] | None = None
    ipynb: dict[str, Any] | None = Field(None, description="An nbformat v4 (or v3) notebook.")


def _run_out(stmt: Statement | None) -> CellRunOut | None:
    if stmt is None:
        return None
    error = None
    if stmt.is_error:
        error = ErrorOut(ename=stmt.error_name or stmt.state, evalue=stmt.error_value,
                         traceback=stmt.traceback.splitlines())
    return CellRunOut(statement_id=stmt.pk, state=stmt.state, terminal=stmt.is_terminal, started_at=stmt.started_at,
                      completed_at=stmt.completed_at, output=_output(stmt), error=error)


def cell_out(cell: Cell) -> CellOut:
    """The API's view of ``cell`` (its ``last_statement`` loaded or loadable)."""
    return CellOut(id=cell.pk, position=cell.position, kind=cell.kind, source=cell.source,
                   is_parameters=cell.is_parameters, last_run=_run_out(cell.last_statement))


def notebook_summary(notebook: Notebook) -> NotebookSummary:
    """A row of the list (``cell_count`` annotated by :func:`livy.notebooks.selectors.notebook_list`)."""
    return NotebookSummary(id=notebook.pk, title=notebook.title, version=notebook.version,
                           owner=notebook.owner.get_username(), cell_count=getattr(notebook, "cell_count", 0),
                           created_at=notebook.created_at, updated_at=notebook.updated_at)


# ------------------------------------------------------------------------------------- runs
class RunIn(Schema):
    """Run all the notebook's code cells in the caller's session, in order, one at a time; the
    first that fails stops the run. ``parameters`` (papermill's convention) are injected as a
    statement right after the parameters cell."""

    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, Any] | None = Field(None, description="Names to values (strings, numbers, booleans, "
                                                                "null, lists), e.g. {\"day\": \"2026-12-01\"}.",
                                              examples=[{"day": "2026-12-01", "limit": 10}])


class FailedCell(Schema):
    id: int
    position: int
    number: int = Field(description="1-based, as the page numbers cells.")


class RunCellOut(Schema):
    """One statement of the run, in order: a cell's code, or (``injected``) the parameters."""

    cell_id: int | None = Field(description="null once the cell was deleted.")
    position: int | None
    kind: str
    injected: bool
    statement_id: int
    state: str = Field(description="The statement's state (queued, running, available, error, cancelled, ...).")
    terminal: bool
    output: OutputOut | None
    error: ErrorOut | None


class RunOut(Schema):
    """A notebook run. ``state``: running, succeeded, failed (``failed_cell`` says which) or
    cancelled; ``terminal`` once it will not change."""

    id: int
    notebook_id: int | None
    mode: str
    state: str
    terminal: bool
    parameters: dict[str, Any] | None
    created_at: datetime
    finished_at: datetime | None
    failed_cell: FailedCell | None
    message: str
    cells: list[RunCellOut]


def run_out(summary: dict[str, Any], statements: dict[int, Statement]) -> RunOut:
    """The API's view of a run from :func:`livy.notebooks.service.run_summary` and its
    statements by id (for their outputs)."""
    cells = []
    for entry in summary["cells"]:
        stmt = statements[entry["statement_id"]]
        error = None
        if stmt.is_error:
            error = ErrorOut(ename=stmt.error_name or stmt.state, evalue=stmt.error_value,
                             traceback=stmt.traceback.splitlines())
        cells.append(RunCellOut(cell_id=entry["cell_id"], position=entry["position"], kind=entry["kind"],
                                injected=entry["injected"], statement_id=stmt.pk, state=stmt.state,
                                terminal=stmt.is_terminal, output=_output(stmt), error=error))
    failed = summary.get("failed_cell")
    return RunOut(
        id=summary["id"], notebook_id=summary["notebook_id"], mode=summary["mode"], state=summary["state"],
        terminal=summary["state"] != "running", parameters=summary["parameters"],
        created_at=datetime.fromisoformat(summary["created_at"]),
        finished_at=datetime.fromisoformat(summary["finished_at"]) if summary["finished_at"] else None,
        failed_cell=FailedCell(**failed) if failed else None, message=summary["message"], cells=cells,
    )
