"""A session as a Python file (``Export as .py`` on the session page): :func:`session_python`.

The statements' code in the order they ran, each headed by its number in the session, kind,
state and time, with its output (or error) as comments (:func:`output_summary_lines`: at
most :data:`EXPORT_OUTPUT_LINES` lines). PySpark code is written as it is; Spark SQL as
``spark.sql(r\"\"\"...\"\"\").show()`` (a comment block when the query holds triple quotes or
ends with a backslash, which the raw string cannot hold); Scala and other kinds as a comment
block, since Python cannot run them. The file compiles as Python.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from livy.forms import KIND_LABELS
from livy.output import IMAGE_MIMES, cell_text, full_text, result_table

if TYPE_CHECKING:
    from livy.models import SparkSession, Statement

#: Most lines of one statement's output written as comments into a ``.py`` export.
EXPORT_OUTPUT_LINES = 40


def output_summary_lines(output: dict[str, Any] | None, max_lines: int = EXPORT_OUTPUT_LINES) -> list[str]:
    """A statement's output as plain lines for a ``.py`` export (written as comments): the
    text, a table as ``a | b`` rows, ``[image]`` for a picture, ``[HTML output]`` for HTML;
    cut at ``max_lines``. An error output gives no lines (the error fields are written)."""
    if not output or output.get("status") == "error":
        return []
    table = result_table(output)
    if table is not None:
        lines = [" | ".join(c.name for c in table.columns)]
        lines += [" | ".join(cell_text(v) for v in row) for row in table.rows[: max_lines - 1]]
        if len(table.rows) > max_lines - 1:
            lines.append(f"... {len(table.rows)} rows in all")
        return lines
    data = output.get("data") or {}
    if isinstance(data, dict) and any(m in data for m in IMAGE_MIMES):
        return ["[image]"]
    if isinstance(data, dict) and isinstance(data.get("text/html"), str):
        return ["[HTML output]"]
    whole = full_text(output)
    if whole is None:
        return []
    lines = whole[0].splitlines()
    if len(lines) > max_lines:
        lines = lines[:max_lines] + [f"... {len(lines) - max_lines} more lines"]
    return lines


def _code_lines(stmt: Statement) -> list[str]:
    """A statement's code as Python lines (see the module docstring)."""
    code = stmt.code.rstrip("\n")
    if stmt.kind == "sql" and '"""' not in code and not code.endswith("\\"):
        return [f'spark.sql(r"""{code}""").show()']
    if stmt.kind in ("pyspark", "python"):
        return code.splitlines() or [""]
    label = KIND_LABELS.get(stmt.kind, stmt.kind)
    return [f"# --- {label} ---"] + [f"# {line}".rstrip() for line in code.splitlines()] + [f"# --- end of {label} ---"]


def session_python(session: SparkSession, statements: Iterable[Statement], *, backend: str) -> str:
    """The text of the ``.py`` file of ``session``: ``statements`` in the order given (each
    with a ``position`` annotation, :func:`livy.selectors.with_positions`), headed by the
    session's name, ``backend`` (``LIVY_BACKEND``), owner and start time."""
    lines = [
        f"# {session.name}: exported from Livy web",
        f"# {backend} Livy, owner {session.owner}, started {session.created_at:%Y-%m-%d %H:%M:%S %Z}",
        "# Statements in the order they ran; outputs and errors are comments. Spark SQL is written",
        '# as spark.sql(r"""...""").show(), Scala as a comment block.',
        "",
    ]
    for stmt in statements:
        position = getattr(stmt, "position", "?")
        lines.append(f"# [{position}] {KIND_LABELS.get(stmt.kind, stmt.kind)} · {stmt.state}"
                     f" · {stmt.created_at:%Y-%m-%d %H:%M:%S}")
        lines.extend(_code_lines(stmt))
        shown = output_summary_lines(stmt.output)
        if stmt.error_name:
            shown = [f"{stmt.error_name}: {stmt.error_value}".rstrip(": ")]
        if shown:
            lines.append("# Output:")
            lines.extend(f"# {line}".rstrip() for line in shown)
        lines.append("")
    return "\n".join(lines) + "\n"


def file_name(session: SparkSession) -> str:
    """The download name: the session's name with anything but word characters, dots and
    dashes replaced by ``-``, and ``.py`` (``session-<pk>.py`` for an empty name)."""
    safe = re.sub(r"[^\w.-]+", "-", session.name) or f"session-{session.pk}"
    return f"{safe}.py"
