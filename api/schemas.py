"""The API's typed request and answer shapes (pydantic, through django-ninja), from which the
OpenAPI description is generated. Request bodies refuse unknown fields (422)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from ninja import Schema
from pydantic import ConfigDict, Field

from livy import output
from livy.forms import MAX_CODE_LENGTH
from livy.models import SparkSession, Statement

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
