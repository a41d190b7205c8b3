"""Turn a Livy statement ``output`` into parts that are safe to show in a page.

Livy output is untrusted (it is whatever the user's code printed). ``data`` is keyed by MIME
type, as in Jupyter's display protocol, which Livy's REPL follows:

* ``text/plain``: shown as preformatted text, HTML-escaped by the template.
* ``application/json``: pretty-printed, then shown as text.
* ``application/vnd.livy.table.v1+json``: Livy's table (``{"headers": [{"name", "type"}],
  "data": [[...], ...]}``, from the ``%table`` magic), shown as an HTML table of escaped cells.
* ``text/html``: sanitised with nh3 (Ammonia's allow-list: no scripts, no event handlers,
  no ``javascript:`` URLs) before it is marked safe.
* ``image/png``, ``image/jpeg``, ``image/gif``: shown as ``data:`` URIs after checking the
  payload is base64 (``%matplot`` output).

The richest type wins, with ``text/plain`` as the fallback, as a notebook would choose.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any

import nh3
from django.utils.safestring import mark_safe

TABLE_MIME = "application/vnd.livy.table.v1+json"
IMAGE_MIMES = ("image/png", "image/jpeg", "image/gif")
#: Most rows of a Livy table shown in the page (the rest is counted, not rendered).
MAX_TABLE_ROWS = 1000


@dataclass(frozen=True)
class OutputPart:
    """One thing to show. ``kind`` is ``text``, ``table``, ``html`` or ``image``.

    ``text``: ``text`` (str, to be escaped). ``table``: ``headers`` and ``rows`` (cells as
    strings, to be escaped) and ``hidden_rows``. ``html``: ``html`` (already sanitised).
    ``image``: ``src`` (a ``data:`` URI).
    """

    kind: str
    text: str = ""
    html: str = ""
    src: str = ""
    headers: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)
    hidden_rows: int = 0


def _cell(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _table(payload: Any) -> OutputPart | None:
    if not isinstance(payload, dict):
        return None
    headers = [str(h.get("name", "")) if isinstance(h, dict) else str(h) for h in payload.get("headers") or []]
    data = payload.get("data") or []
    if not isinstance(data, list):
        return None
    rows = [[_cell(c) for c in row] if isinstance(row, list) else [_cell(row)] for row in data[:MAX_TABLE_ROWS]]
    return OutputPart("table", headers=headers, rows=rows, hidden_rows=max(0, len(data) - MAX_TABLE_ROWS))


def _image(mime: str, payload: Any) -> OutputPart | None:
    if not isinstance(payload, str):
        return None
    compact = "".join(payload.split())
    try:
        base64.b64decode(compact, validate=True)
    except (binascii.Error, ValueError):
        return None
    return OutputPart("image", src=f"data:{mime};base64,{compact}")


def render_parts(output: dict[str, Any] | None) -> list[OutputPart]:
    """The parts to show for a stored ``output`` (None or an error output gives ``[]``)."""
    if not output or output.get("status") == "error":
        return []
    data = output.get("data") or {}
    if not isinstance(data, dict):
        return [OutputPart("text", text=_cell(data))]
    if TABLE_MIME in data and (part := _table(data[TABLE_MIME])):
        return [part]
    for mime in IMAGE_MIMES:
        if mime in data and (part := _image(mime, data[mime])):
            return [part]
    if isinstance(data.get("text/html"), str):
        # Sanitised by nh3 right here, so it may be inserted as markup.
        return [OutputPart("html", html=mark_safe(nh3.clean(data["text/html"])))]
    if "application/json" in data:
        return [OutputPart("text", text=json.dumps(data["application/json"], indent=2, ensure_ascii=False))]
    if "text/plain" in data:
        return [OutputPart("text", text=_cell(data["text/plain"]))]
    return []
