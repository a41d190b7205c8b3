"""Turn a Livy statement ``output`` into parts that are safe to show in a page, and into the
whole-result downloads (CSV of a table, the full text). The ``.py`` export of a session,
which writes outputs as comments, is :mod:`livy.export`.

Livy output is untrusted (it is whatever the user's code printed). ``data`` is keyed by MIME
type, as in Jupyter's display protocol, which Livy's REPL follows:

* ``application/vnd.livy.table.v1+json``: Livy's table (``{"headers": [{"name", "type"}],
  "data": [[...], ...]}``, from the ``%table`` magic; types such as ``BIGINT_TYPE``).
* ``application/json`` with ``schema`` (``{"type": "struct", "fields": [{"name", "type",
  "nullable", "metadata"}]}``) and ``data`` (rows as arrays): a Spark SQL result, as Livy's
  ``SQLInterpreter`` writes it (at most ``spark.livy.sql.max-result`` rows, 1000 by default).
  Both become one :class:`OutputPart` of kind ``table``: column names and types, the first
  ``LIVY_TABLE_ROWS`` rows, cells as escaped strings with nulls marked.
* other ``application/json`` (``%json``): pretty-printed, shown collapsible.
* ``text/html``: sanitised with nh3 (Ammonia's allow-list: no scripts, no event handlers,
  no ``javascript:`` URLs, no image sources) before it is marked safe.
* ``image/png``, ``image/jpeg``, ``image/gif``: shown as ``data:`` URIs after checking the
  payload is base64 (``%matplot`` output).
* ``text/plain``: preformatted text, HTML-escaped by the template; beyond
  ``LIVY_OUTPUT_INLINE_BYTES`` (UTF-8) only the start is put in the page, with a download
  of the whole text (:func:`full_text`).

The richest type wins, with ``text/plain`` as the fallback, as a notebook would choose.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import nh3
from django.utils.safestring import mark_safe

TABLE_MIME = "application/vnd.livy.table.v1+json"
JSON_MIME = "application/json"
IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif")

#: Column types that are numbers: Livy's ``%table`` names and Spark SQL's schema names.
_NUMERIC_TYPES = {
    "INT_TYPE", "BIGINT_TYPE", "DOUBLE_TYPE", "DECIMAL_TYPE", "FLOAT_TYPE", "SMALLINT_TYPE", "TINYINT_TYPE",
    "byte", "short", "integer", "long", "float", "double", "decimal",
}


def table_rows_limit() -> int:
    """Rows of a table shown in the page: ``LIVY_TABLE_ROWS``."""
    from myapp.config import current_config

    return current_config().LIVY_TABLE_ROWS


def inline_bytes_limit() -> int:
    """Bytes of text shown in the page: ``LIVY_OUTPUT_INLINE_BYTES``."""
    from myapp.config import current_config

    return current_config().LIVY_OUTPUT_INLINE_BYTES


@dataclass(frozen=True)
class Column:
    """A table column: ``name``, ``type`` as the source names it (``long``, ``BIGINT_TYPE``…)
    and ``numeric`` (right-aligned, offered as a chart's y axis)."""

    name: str
    type: str
    numeric: bool

    @property
    def type_label(self) -> str:
        """The type as shown: ``BIGINT_TYPE`` → ``bigint``; Spark's names as they are."""
        return self.type[:-5].lower() if self.type.endswith("_TYPE") else self.type


@dataclass(frozen=True)
class Cell:
    """A table cell as text to escape; ``null`` marks a missing value (shown muted),
    ``numeric`` a cell of a numeric column (right-aligned)."""

    text: str
    null: bool = False
    numeric: bool = False


@dataclass(frozen=True)
class Table:
    """A whole table (every row Livy returned): ``columns`` and ``rows`` of raw JSON values."""

    columns: list[Column]
    rows: list[list[Any]]


@dataclass(frozen=True)
class OutputPart:
    """One thing to show. ``kind`` is ``text``, ``json``, ``table``, ``html``, ``image`` or
    ``error`` (a magic that failed: ``summary`` is ``Name: value``, ``text`` the traceback).

    ``text`` and ``json``: ``text`` (to be escaped), ``total_bytes`` (the size of the whole
    text when only its start is shown, else 0) and, for ``json``, ``summary``. ``table``:
    ``columns``, ``rows`` (lists of :class:`Cell`) and ``total_rows``. ``html``: ``html``
    (already sanitised). ``image``: ``src`` (a ``data:`` URI).
    """

    kind: str
    text: str = ""
    html: str = ""
    src: str = ""
    summary: str = ""
    total_bytes: int = 0
    columns: list[Column] = field(default_factory=list)
    rows: list[list[Cell]] = field(default_factory=list)
    total_rows: int = 0

    @property
    def truncated(self) -> bool:
        return self.total_bytes > 0

    @property
    def hidden_rows(self) -> int:
        return max(0, self.total_rows - len(self.rows))

    @property
    def chartable(self) -> bool:
        """A table with rows and a numeric column can be drawn as a chart."""
        return self.kind == "table" and bool(self.rows) and any(c.numeric for c in self.columns)


# ----------------------------------------------------------------------------- helpers
def cell_text(value: Any) -> str:
    """A JSON value as a cell reads: ``null``, ``true``/``false``, numbers and strings as they
    are, arrays and objects as JSON."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _type_name(value: Any) -> str:
    """A schema field's type: a name (``long``, ``decimal(10,2)``) or, for complex types, the
    object's ``type`` (``array``, ``struct``, ``map``)."""
    if isinstance(value, dict):
        return str(value.get("type") or "struct")
    return str(value or "")


def _column(name: Any, type_: Any) -> Column:
    kind = _type_name(type_)
    return Column(str(name), kind, kind in _NUMERIC_TYPES or kind.startswith("decimal"))


def _rows(data: Any, width: int) -> list[list[Any]] | None:
    if not isinstance(data, list):
        return None
    rows = [row if isinstance(row, list) else [row] for row in data]
    return [row + [None] * (width - len(row)) if len(row) < width else row for row in rows]


def _livy_table(payload: Any) -> Table | None:
    if not isinstance(payload, dict):
        return None
    headers = payload.get("headers") or []
    if not isinstance(headers, list):
        return None
    columns = [_column(h.get("name", ""), h.get("type")) if isinstance(h, dict) else _column(h, "") for h in headers]
    rows = _rows(payload.get("data") or [], len(columns))
    return Table(columns, rows) if rows is not None else None


def _sql_table(payload: Any) -> Table | None:
    if not (isinstance(payload, dict) and isinstance(payload.get("schema"), dict) and "data" in payload):
        return None
    fields = payload["schema"].get("fields")
    if not isinstance(fields, list):
        return None
    columns = [_column(f.get("name", ""), f.get("type")) for f in fields if isinstance(f, dict)]
    rows = _rows(payload.get("data") or [], len(columns))
    return Table(columns, rows) if rows is not None else None


def result_table(output: dict[str, Any] | None) -> Table | None:
    """The whole table of an output (Livy's ``%table`` or a Spark SQL result), or None."""
    data = (output or {}).get("data")
    if not isinstance(data, dict) or (output or {}).get("status") == "error":
        return None
    if TABLE_MIME in data and (table := _livy_table(data[TABLE_MIME])):
        return table
    if JSON_MIME in data:
        return _sql_table(data[JSON_MIME])
    return None


def full_text(output: dict[str, Any] | None) -> tuple[str, str] | None:
    """The whole text an output shows as text, and its file extension: ``text/plain`` (``txt``)
    or pretty-printed ``%json`` (``json``); None for tables, images, HTML and errors."""
    data = (output or {}).get("data")
    if not isinstance(data, dict) or (output or {}).get("status") == "error":
        return None
    if TABLE_MIME in data or any(m in data for m in IMAGE_MIMES) or isinstance(data.get("text/html"), str):
        return None
    if JSON_MIME in data:
        if _sql_table(data[JSON_MIME]) is not None:
            return None
        return json.dumps(data[JSON_MIME], indent=2, ensure_ascii=False), "json"
    if "text/plain" in data:
        return cell_text(data["text/plain"]), "txt"
    return None


def table_csv(table: Table) -> Iterator[str]:
    """The table as CSV lines (header first; nulls as empty fields), for a streaming download."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def flush() -> str:
        text = buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        return text

    writer.writerow([c.name for c in table.columns])
    yield flush()
    for row in table.rows:
        writer.writerow(["" if v is None else cell_text(v) for v in row])
        yield flush()


def _clip(text: str, limit: int) -> tuple[str, int]:
    """The start of ``text`` that fits ``limit`` UTF-8 bytes (cut at a line end when one is
    near), and the whole size in bytes when it was cut (else 0)."""
    if len(text) <= limit // 4:  # fits whatever the characters: no need to encode
        return text, 0
    encoded = text.encode("utf-8")
    if len(encoded) <= limit:
        return text, 0
    shown = encoded[:limit].decode("utf-8", "ignore")
    line_end = shown.rfind("\n")
    if line_end > len(shown) * 0.8:
        shown = shown[: line_end + 1]
    return shown, len(encoded)


def _table_part(table: Table, rows: int) -> OutputPart:
    numeric = [c.numeric for c in table.columns]
    cells = [[Cell(cell_text(v), v is None, i < len(numeric) and numeric[i]) for i, v in enumerate(row)]
             for row in table.rows[:rows]]
    return OutputPart("table", columns=table.columns, rows=cells, total_rows=len(table.rows))


def _json_summary(value: Any) -> str:
    if isinstance(value, dict):
        return f"JSON object, {len(value)} key{'s' if len(value) != 1 else ''}"
    if isinstance(value, list):
        return f"JSON array, {len(value)} item{'s' if len(value) != 1 else ''}"
    return "JSON value"


def _no_image_src(element: str, attribute: str, value: str) -> str | None:
    """nh3 attribute filter: ``<img>`` in HTML output keeps no ``src``. Ammonia already drops
    ``data:`` URLs, so a ``src`` left would fetch from another site (a tracking pixel; the
    Content-Security-Policy blocks it too) or from this one with the user's cookies."""
    return None if element == "img" and attribute == "src" else value


def _image(mime: str, payload: Any) -> OutputPart | None:
    if not isinstance(payload, str):
        return None
    compact = "".join(payload.split())
    try:
        base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    return OutputPart("image", src=f"data:{mime};base64,{compact}")


def render_parts(output: dict[str, Any] | None, *, table_rows: int | None = None,
                 inline_bytes: int | None = None) -> list[OutputPart]:
    """The parts to show for a stored ``output`` (None or an error output gives ``[]``):
    tables cut to ``table_rows`` rows and text to ``inline_bytes`` bytes (by default the
    configured :func:`table_rows_limit` and :func:`inline_bytes_limit`)."""
    if not output or output.get("status") == "error":
        return []
    rows = table_rows if table_rows is not None else table_rows_limit()
    limit = inline_bytes if inline_bytes is not None else inline_bytes_limit()
    data = output.get("data") or {}
    if not isinstance(data, dict):
        text, total = _clip(cell_text(data), limit)
        return [OutputPart("text", text=text, total_bytes=total)]
    if (table := result_table(output)) is not None:
        return [_table_part(table, rows)]
    for mime in IMAGE_MIMES:
        if mime in data and (part := _image(mime, data[mime])):
            return [part]
    if isinstance(data.get("text/html"), str):
        html, total = _clip(data["text/html"], limit)
        # Sanitised by nh3 right here (it also closes what the cut left open), so it may be
        # inserted as markup.
        return [OutputPart("html", html=mark_safe(nh3.clean(html, attribute_filter=_no_image_src)), total_bytes=total)]
    if JSON_MIME in data:
        text, total = _clip(json.dumps(data[JSON_MIME], indent=2, ensure_ascii=False), limit)
        return [OutputPart("json", text=text, total_bytes=total, summary=_json_summary(data[JSON_MIME]))]
    if "text/plain" in data:
        text, total = _clip(cell_text(data["text/plain"]), limit)
        return [OutputPart("text", text=text, total_bytes=total)]
    if (failed := _magic_error(data)) is not None:
        return [failed]
    if data:
        # A MIME type this page does not know: show what Livy sent, rather than nothing.
        text, total = _clip(json.dumps(data, indent=2, ensure_ascii=False), limit)
        return [OutputPart("text", text=text, total_bytes=total)]
    return []


def _magic_error(data: dict[str, Any]) -> OutputPart | None:
    """Livy 0.9's PySpark magics (``%table``, ``%json``, ``%matplot``) report their own
    failure (e.g. an unknown name) as an ``ok`` output whose ``data`` is an ``execute_reply``
    with an error ``content``: shown as the error it is."""
    content = data.get("content")
    if data.get("msg_type") != "execute_reply" or not isinstance(content, dict) or content.get("status") != "error":
        return None
    tb = content.get("traceback")
    trace = "".join(str(line) for line in tb) if isinstance(tb, list) else ""
    return OutputPart("error", summary=f"{content.get('ename') or 'Error'}: {content.get('evalue') or ''}".rstrip(": "),
                      text=trace)
