"""Notebooks in and out: ``.ipynb`` (nbformat v4, read and validated with the Jupyter
project's ``nbformat``) and ``.py`` in the percent format (``# %%``) that VS Code, Spyder and
Jupytext read. No Django here: the service (:mod:`livy.notebooks.service`) turns rows into
:class:`NotebookCell` values and back.

**Import** (:func:`read_ipynb`) takes exports of Jupyter with sparkmagic, Microsoft Fabric
(and Synapse) and Databricks. A code cell's kind (``pyspark``, ``sql``, ``spark`` = Scala)
is decided by, first to last:

1. a cell magic on the first line, removed from the source: ``%%pyspark``/``%%python`` →
   pyspark, ``%%sql``/``%%sparksql`` → sql, ``%%spark``/``%%scala`` → spark (Fabric's
   meaning; sparkmagic's ``%%spark -l python`` → pyspark), ``%%md``/``%%markdown`` →
   markdown; Databricks' ``%python``, ``%sql``, ``%scala``, ``%md`` alone on the first line
   likewise. Options after the magic (``%%sql -o df``) are kept in the cell's metadata and
   written back on export, with a notice (they do nothing here);
2. this app's own ``metadata.livy_web.kind`` (what :func:`write_ipynb` writes);
3. Fabric/Synapse's ``metadata.microsoft.language`` (``python``, ``sparksql``, ``scala``);
4. VS Code's ``metadata.vscode.languageId``;
5. the notebook's language: Databricks' ``application/vnd.databricks.v1+notebook``
   ``language``, Fabric's ``metadata.microsoft.language``, the ``kernelspec`` (sparkmagic's
   ``pysparkkernel``/``sparkkernel``, Fabric's ``synapse_pyspark``, its ``language``) or
   ``language_info.name``; PySpark when none says.

``%%configure`` (session settings, sparkmagic and Fabric) is not code to run: it becomes a
markdown cell showing the settings in a code block, and is written back as the original
``%%configure`` code cell on export while left unchanged. Any other magic (``%%local``,
``%%info``, ``%%sh``, ``%run``, ...) is kept in the source as it is, with a notice: running
it fails on Livy. Raw cells become markdown cells (notice). Outputs in the file are not
imported (runs are this app's statements). The papermill/Fabric ``parameters`` cell tag marks
the parameters cell (the first such cell; later ones lose the mark, with a notice).

**Export** (:func:`write_ipynb`) writes valid nbformat v4 (checked with
``nbformat.validate``) for the sparkmagic PySpark kernel (``pysparkkernel``): SQL and Scala
cells start with ``%%sql``/``%%spark`` (so they run in sparkmagic and Fabric) and carry their
language in ``metadata.microsoft.language`` and ``metadata.livy_web.kind``, so the file
imports back to the same sources, kinds and order. Each code cell's outputs come from its
last run (:class:`CellRun`): text as a ``stream`` (stdout), tables as an ``execute_result``
with ``text/html`` and ``text/plain``, images as ``display_data`` with ``image/png`` (or
jpeg/gif), JSON as ``application/json``, HTML (sanitised with nh3) as ``text/html``, errors as
``error`` with ``ename``, ``evalue`` and ``traceback``.

**Export as .py** (:func:`write_py`) follows Jupytext's percent format (as ``jupytext
--to py:percent`` writes it): a Jupytext YAML header, ``# %%`` before each code cell,
``# %% [markdown]`` before markdown cells (lines commented ``# ``), ``tags=["parameters"]``
on the parameters cell, and SQL and Scala cells as ``# %% language="sql"`` /
``# %% language="spark"`` with their lines commented (Python cannot run them; Jupytext reads
them back as ``%%sql``/``%%spark`` cells). Magic lines in PySpark cells (Livy's ``%table``,
``%json``, ``%matplot``) are commented as Jupytext does.

Errors: every file that cannot be imported raises :class:`NotebookFileError` with a message
for the user: too large (``max_bytes``), not UTF-8, not JSON, not a Jupyter notebook, an
nbformat version before 3, or too many cells (:data:`MAX_CELLS`).
"""

from __future__ import annotations

import copy
import html
import json
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import nbformat
import nh3
from nbformat import v4

PYSPARK, SQL, SPARK, MARKDOWN = "pyspark", "sql", "spark", "markdown"
#: The kinds a cell can have (``Cell.kind``).
KINDS = (PYSPARK, SQL, SPARK, MARKDOWN)
CODE_KINDS = (PYSPARK, SQL, SPARK)
#: Default import limit in bytes (20 MiB); the setting ``NOTEBOOK_MAX_IMPORT_BYTES`` overrides it.
DEFAULT_MAX_IMPORT_BYTES = 20 * 1024 * 1024
#: Most cells a notebook may have (an import of more is refused; a guard, not a Livy limit).
MAX_CELLS = 2000
#: This app's key in cell and notebook metadata.
META_KEY = "livy_web"
PARAMETERS_TAG = "parameters"

#: Cell magics (``%%name``) that give a kind.
_CELL_MAGIC_KINDS = {
    "pyspark": PYSPARK, "python": PYSPARK, "python3": PYSPARK,
    "sql": SQL, "sparksql": SQL,
    "spark": SPARK, "scala": SPARK,
    "md": MARKDOWN, "markdown": MARKDOWN,
}
#: Databricks' language magics (``%name`` alone on the first line).
_DATABRICKS_KINDS = {"python": PYSPARK, "sql": SQL, "scala": SPARK, "md": MARKDOWN, "md-sandbox": MARKDOWN}
#: Databricks' other first-line magics: kept as source, with a notice.
_DATABRICKS_OTHER = ("r", "sh", "fs", "run", "pip", "lsmagic")
#: Language names (kernels, Fabric, VS Code, Databricks) → kinds.
_LANGUAGE_KINDS = {
    "python": PYSPARK, "python3": PYSPARK, "pyspark": PYSPARK, "pysparkkernel": PYSPARK,
    "synapse_pyspark": PYSPARK, "pyspark3kernel": PYSPARK,
    "scala": SPARK, "spark": SPARK, "sparkkernel": SPARK, "synapse_spark": SPARK, "spylon-kernel": SPARK,
    "sql": SQL, "sparksql": SQL, "synapse_sparksql": SQL,
}
#: What the export writes as Fabric's ``microsoft.language`` and as the magic of each kind.
_FABRIC_LANGUAGE = {PYSPARK: "python", SQL: "sparksql", SPARK: "scala"}
_EXPORT_MAGIC = {SQL: "%%sql", SPARK: "%%spark"}
_KIND_LABELS = {PYSPARK: "PySpark", SQL: "Spark SQL", SPARK: "Scala", MARKDOWN: "Markdown"}

_CELL_MAGIC = re.compile(r"^\s*%%(?P<name>[A-Za-z_][\w-]*)(?P<args>[^\n]*)$")
_LINE_MAGIC = re.compile(r"^\s*%(?P<name>[A-Za-z][\w-]*)(?P<args>[^\n]*)$")
#: The sparkmagic ``%%spark`` option choosing the language: ``-l python`` / ``--language scala``.
_SPARK_LANGUAGE_ARG = re.compile(r"(?:^|\s)(?:-l|--language)[\s=]+(\w+)")
#: Lines of code that a percent-format reader would take for a magic or a cell marker.
_PY_MAGIC_LINE = re.compile(r"^\s*(%{1,2}|!{1,2})[A-Za-z]")
_PY_CELL_MARKER = re.compile(r"^\s*#\s*%%")

#: The kernel the export names: sparkmagic's PySpark kernel (code runs through Livy).
EXPORT_KERNELSPEC = {"name": "pysparkkernel", "display_name": "PySpark", "language": "python"}
EXPORT_LANGUAGE_INFO = {
    "name": "pyspark", "mimetype": "text/x-python", "codemirror_mode": {"name": "python", "version": 3},
    "file_extension": ".py", "pygments_lexer": "python3",
}


class NotebookFileError(ValueError):
    """A file that cannot be imported; ``str(exc)`` is the message for the user."""


@dataclass(frozen=True)
class TableData:
    """A whole table result: ``columns`` as ``(name, type)`` and ``rows`` of JSON values."""

    columns: list[tuple[str, str]]
    rows: list[list[Any]]


@dataclass(frozen=True)
class CellRun:
    """A cell's last run, for the export: the statement's ``state``, Livy's ``output`` object
    (``status``, ``execution_count``, ``data`` by MIME type, ``ename``, ``evalue``,
    ``traceback``), the error fields copied out of it (or our own reason when the code never
    ran) and its table, if it has one (``livy.output.result_table``)."""

    state: str
    output: dict[str, Any] | None = None
    error_name: str = ""
    error_value: str = ""
    traceback: str = ""
    table: TableData | None = None


@dataclass
class NotebookCell:
    """A cell as the converters see it: ``kind`` (one of :data:`KINDS`), ``source``, whether it
    is the parameters cell, ``metadata`` kept from an import (without this app's own keys and
    the ``parameters`` tag), and its last run (export only)."""

    kind: str
    source: str
    is_parameters: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    run: CellRun | None = None


@dataclass
class ImportedNotebook:
    """What :func:`read_ipynb` found: a ``title`` (from the file's metadata, else its name),
    the cells in order, and ``notices`` for the user (one line each, naming the cell)."""

    title: str
    cells: list[NotebookCell]
    notices: list[str]


# ------------------------------------------------------------------------------- import
def download_name(title: str, pk: int, suffix: str) -> str:
    """The file name of a notebook's download (``Content-Disposition``): its ``title`` made
    ASCII-safe (runs of other characters become ``-``), at most 100 characters, then ``.suffix``
    (``"ipynb"``, ``"py"``); ``notebook-<pk>`` when nothing of the title is left. Used by the
    pages' and the API's exports alike."""
    stem = re.sub(r"[^\w.-]+", "-", title, flags=re.ASCII).strip("-.") or f"notebook-{pk}"
    return f"{stem[:100]}.{suffix}"


def read_ipynb(data: bytes | str, *, filename: str = "", max_bytes: int = DEFAULT_MAX_IMPORT_BYTES) -> ImportedNotebook:
    """Read an ``.ipynb`` file (nbformat 3 or 4; version 3 is converted) into cells.

    ``filename`` gives the title when the file names none. Raises :class:`NotebookFileError`
    for a file larger than ``max_bytes``, not UTF-8 text, not JSON, not a Jupyter notebook,
    of an nbformat version before 3, or with more than :data:`MAX_CELLS` cells. A notebook
    that breaks nbformat's schema in ways that do not matter here (an output of the wrong
    shape, an unknown key) is imported, with a notice.
    """
    raw_bytes = data.encode("utf-8") if isinstance(data, str) else data
    if len(raw_bytes) > max_bytes:
        raise NotebookFileError(
            f"The file is {_megabytes(len(raw_bytes))}; notebooks of up to {_megabytes(max_bytes)} can be imported."
        )
    try:
        text = raw_bytes.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise NotebookFileError("This file is not a notebook: it is not UTF-8 text.") from exc
    try:
        loaded = json.loads(text)
    except RecursionError as exc:
        raise NotebookFileError("This file is not a notebook: its JSON is nested too deeply.") from exc
    except ValueError as exc:
        where = f" (line {exc.lineno}, column {exc.colno})" if isinstance(exc, json.JSONDecodeError) else ""
        raise NotebookFileError(f"This file is not a notebook: it is not valid JSON{where}.") from exc
    if not isinstance(loaded, dict) or "nbformat" not in loaded:
        raise NotebookFileError("This JSON file is not a Jupyter notebook: it has no \"nbformat\" version.")
    major = loaded.get("nbformat")
    if not isinstance(major, int) or isinstance(major, bool) or major < 3:
        raise NotebookFileError(
            f"nbformat version {major!r} cannot be imported: open and save the notebook in a current "
            "Jupyter (nbformat 4) first."
        )
    if major == 4 and not isinstance(loaded.get("cells"), list):
        raise NotebookFileError("This notebook has no list of cells (\"cells\"): it is not a valid nbformat 4 file.")
    problems: dict[str, Any] = {}
    try:
        nb = nbformat.reads(text, as_version=4, capture_validation_error=problems)
    except Exception as exc:  # nbformat raises many kinds for a malformed file
        raise NotebookFileError(f"This notebook cannot be read: {_one_line(exc)}") from exc
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise NotebookFileError("This notebook has no list of cells: it is not a valid nbformat file.")
    if len(cells) > MAX_CELLS:
        raise NotebookFileError(f"This notebook has {len(cells)} cells; at most {MAX_CELLS} can be imported.")
    notices: list[str] = []
    if problems.get("ValidationError") is not None:
        notices.append("The file does not fully follow nbformat 4 "
                       f"({_one_line(problems['ValidationError'])}); its cells were imported.")
    metadata = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    default_kind = _notebook_kind(metadata, notices)
    imported: list[NotebookCell] = []
    had_outputs = False
    for number, cell in enumerate(cells, start=1):
        if not isinstance(cell, dict):
            raise NotebookFileError(f"Cell {number} of this notebook is not an object: it is not a valid nbformat file.")
        had_outputs = had_outputs or bool(cell.get("outputs"))
        imported.append(_import_cell(cell, number, default_kind, notices))
    _one_parameters_cell(imported, notices)
    if had_outputs:
        notices.append("Outputs saved in the file were not imported: run the notebook to see its results here.")
    return ImportedNotebook(title=_title(metadata, filename), cells=imported, notices=notices)


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _megabytes(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MB"


def _one_line(exc: Any) -> str:
    text = str(getattr(exc, "message", None) or exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:300]


def _language_kind(name: Any) -> str | None:
    return _LANGUAGE_KINDS.get(name.strip().lower()) if isinstance(name, str) else None


def _notebook_kind(metadata: dict[str, Any], notices: list[str]) -> str:
    """The notebook's language as a kind (see the module docstring, step 5)."""
    databricks = metadata.get("application/vnd.databricks.v1+notebook")
    microsoft = metadata.get("microsoft")
    kernelspec = metadata.get("kernelspec")
    language_info = metadata.get("language_info")
    names = [
        databricks.get("language") if isinstance(databricks, dict) else None,
        microsoft.get("language") if isinstance(microsoft, dict) else None,
        kernelspec.get("name") if isinstance(kernelspec, dict) else None,
        kernelspec.get("language") if isinstance(kernelspec, dict) else None,
        language_info.get("name") if isinstance(language_info, dict) else None,
    ]
    for name in names:
        if (kind := _language_kind(name)) is not None:
            return kind
    named = next((n for n in names if isinstance(n, str) and n.strip()), None)
    if named is not None:
        notices.append(f"The notebook's language {named!r} is not run here: its code cells were imported as PySpark.")
    return PYSPARK


def _title(metadata: dict[str, Any], filename: str) -> str:
    ours = metadata.get(META_KEY)
    databricks = metadata.get("application/vnd.databricks.v1+notebook")
    for candidate in (
        ours.get("title") if isinstance(ours, dict) else None,
        databricks.get("notebookName") if isinstance(databricks, dict) else None,
        metadata.get("title"),
    ):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()[:200]
    stem = re.sub(r"\.ipynb$", "", filename.rsplit("/", 1)[-1].rsplit("\\", 1)[-1], flags=re.I).strip()
    return stem[:200] or "Imported notebook"


def _source_text(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    if isinstance(source, list):
        return "".join(str(line) for line in source)
    return source if isinstance(source, str) else ""


def _kept_metadata(cell: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The cell's metadata without this app's key and the ``parameters`` tag, and whether
    the tag was there."""
    metadata = copy.deepcopy(_dict(cell.get("metadata")))
    metadata.pop(META_KEY, None)
    tags = metadata.get("tags")
    is_parameters = isinstance(tags, list) and PARAMETERS_TAG in tags
    if isinstance(tags, list):
        rest = [t for t in tags if t != PARAMETERS_TAG]
        if rest:
            metadata["tags"] = rest
        else:
            metadata.pop("tags")
    return metadata, is_parameters


def _import_cell(cell: dict[str, Any], number: int, default_kind: str, notices: list[str]) -> NotebookCell:
    source = _source_text(cell)
    metadata, is_parameters = _kept_metadata(cell)
    original = _dict(cell.get("metadata"))
    cell_type = cell.get("cell_type")
    if cell_type == "markdown":
        return NotebookCell(MARKDOWN, source, is_parameters, metadata)
    if cell_type != "code":
        notices.append(f"Cell {number}: a {cell_type or 'raw'} cell, imported as a markdown cell.")
        return NotebookCell(MARKDOWN, source, is_parameters, metadata)
    first, _, rest = source.partition("\n")
    if (magic := _CELL_MAGIC.match(first)) is not None:
        name, args = magic.group("name").lower(), magic.group("args").strip()
        if name == "configure":
            return _configure_cell(source, is_parameters, metadata, number, notices)
        kind = _CELL_MAGIC_KINDS.get(name)
        if name == "spark" and (language := _SPARK_LANGUAGE_ARG.search(args)):
            kind = _language_kind(language.group(1)) or kind
            args = _SPARK_LANGUAGE_ARG.sub("", args).strip()
        if kind is not None:
            if args:
                metadata.setdefault(META_KEY, {})["magic_args"] = args
                notices.append(f"Cell {number}: the options {args!r} of %%{name} do nothing here; they are kept "
                               "for the export.")
            return NotebookCell(kind, rest, is_parameters, metadata)
        notices.append(f"Cell {number}: %%{name} is not supported here; the cell was kept as it is, but running "
                       "it will fail.")
        return NotebookCell(_meta_kind(original) or default_kind, source, is_parameters, metadata)
    if (line_magic := _LINE_MAGIC.match(first)) is not None:
        name, args = line_magic.group("name").lower(), line_magic.group("args").strip()
        if name in _DATABRICKS_KINDS and not args:
            return NotebookCell(_DATABRICKS_KINDS[name], rest, is_parameters, metadata)
        if name in _DATABRICKS_OTHER:
            notices.append(f"Cell {number}: %{name} is not supported here; the cell was kept as it is, but running "
                           "it will fail.")
    return NotebookCell(_meta_kind(original) or default_kind, source, is_parameters, metadata)


def _meta_kind(metadata: dict[str, Any]) -> str | None:
    """The kind a cell's metadata names (this app's, Fabric's, VS Code's), or None."""
    ours = metadata.get(META_KEY)
    if isinstance(ours, dict) and ours.get("kind") in CODE_KINDS:
        return str(ours["kind"])
    microsoft = metadata.get("microsoft")
    if isinstance(microsoft, dict) and (kind := _language_kind(microsoft.get("language"))):
        return kind
    vscode = metadata.get("vscode")
    if isinstance(vscode, dict) and (kind := _language_kind(vscode.get("languageId"))):
        return kind
    return None


def _fence(text: str) -> str:
    """A backtick fence longer than any run of backticks in ``text``."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    return "`" * max(3, longest + 1)


def configure_markdown(source: str) -> str:
    """The markdown an imported ``%%configure`` cell becomes: a note and the settings."""
    fence = _fence(source)
    return ("**Session settings** (`%%configure`): not applied here, where the administrator sets the "
            f"session's Spark configuration.\n\n{fence}\n{source}\n{fence}")


def _configure_cell(source: str, is_parameters: bool, metadata: dict[str, Any], number: int,
                    notices: list[str]) -> NotebookCell:
    metadata.setdefault(META_KEY, {})["configure"] = source
    notices.append(f"Cell {number}: %%configure (session settings) is not applied here; it was kept as a "
                   "markdown cell and is written back on export.")
    return NotebookCell(MARKDOWN, configure_markdown(source), is_parameters, metadata)


def _one_parameters_cell(cells: list[NotebookCell], notices: list[str]) -> None:
    seen = False
    for number, cell in enumerate(cells, start=1):
        if cell.is_parameters and seen:
            cell.is_parameters = False
            notices.append(f"Cell {number}: a second cell tagged \"parameters\"; only the first one is the "
                           "parameters cell.")
        seen = seen or cell.is_parameters


# ------------------------------------------------------------------------------- export
def _cell_metadata(cell: NotebookCell) -> dict[str, Any]:
    metadata = copy.deepcopy(cell.metadata)
    ours = dict(metadata.pop(META_KEY, None) or {})
    if cell.is_parameters:
        tags = metadata.get("tags")
        tags = tags if isinstance(tags, list) else []
        metadata["tags"] = [PARAMETERS_TAG] + [t for t in tags if t != PARAMETERS_TAG]
    if cell.kind in CODE_KINDS:
        microsoft = _dict(metadata.get("microsoft"))
        metadata["microsoft"] = {**microsoft, "language": _FABRIC_LANGUAGE[cell.kind]}
        ours["kind"] = cell.kind
    ours.pop("configure", None)
    if ours:
        metadata[META_KEY] = ours
    return metadata


def _export_source(cell: NotebookCell) -> str:
    magic = _EXPORT_MAGIC.get(cell.kind)
    if magic is None:
        return cell.source
    args = (cell.metadata.get(META_KEY) or {}).get("magic_args") if isinstance(cell.metadata.get(META_KEY),
                                                                               dict) else None
    first = f"{magic} {args}" if isinstance(args, str) and args else magic
    return f"{first}\n{cell.source}"


def _unchanged_configure(cell: NotebookCell) -> str | None:
    """The original ``%%configure`` source of an imported settings cell not edited since."""
    ours = cell.metadata.get(META_KEY)
    original = ours.get("configure") if isinstance(ours, dict) else None
    if cell.kind == MARKDOWN and isinstance(original, str) and cell.source == configure_markdown(original):
        return original
    return None


def _text(value: Any) -> str:
    if isinstance(value, list):
        return "".join(str(v) for v in value)
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _table_html(table: TableData) -> str:
    head = "".join(f"<th>{html.escape(name)}</th>" for name, _ in table.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_cell_text(v))}</td>" for v in row) + "</tr>" for row in table.rows
    )
    return f'<table border="1" class="dataframe"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell_text(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _table_plain(table: TableData) -> str:
    lines = [" | ".join(name for name, _ in table.columns)]
    lines += [" | ".join(_cell_text(v) for v in row) for row in table.rows]
    return "\n".join(lines)


def _execution_count(run: CellRun | None) -> int | None:
    count = (run.output or {}).get("execution_count") if run is not None else None
    return count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None


def _traceback_lines(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(line) for line in value]
    if isinstance(value, str) and value:
        return value.splitlines(keepends=True)
    return []


def cell_outputs(run: CellRun | None) -> list[Any]:
    """nbformat outputs for a cell's last run (see the module docstring); ``[]`` when it has
    not finished or finished with no output."""
    if run is None:
        return []
    output = run.output if isinstance(run.output, dict) else None
    if output is not None and output.get("status") == "error":
        return [_output("error", ename=str(output.get("ename") or run.error_name or "Error"),
                              evalue=str(output.get("evalue") or run.error_value or ""),
                              traceback=_traceback_lines(output.get("traceback") or run.traceback))]
    if output is None:
        if run.error_name:
            return [_output("error", ename=run.error_name, evalue=run.error_value,
                                  traceback=_traceback_lines(run.traceback))]
        return []
    count = _execution_count(run)
    if run.table is not None:
        return [_output("execute_result", execution_count=count,
                              data={"text/html": _table_html(run.table), "text/plain": _table_plain(run.table)})]
    data = output.get("data")
    if not isinstance(data, dict):
        return [_output("stream", name="stdout", text=_text(data))] if data else []
    for mime in ("image/png", "image/jpeg", "image/gif"):
        if isinstance(data.get(mime), str):
            return [_output("display_data", data={mime: "".join(data[mime].split()), "text/plain": "<image>"})]
    if isinstance(data.get("text/html"), str):
        plain = _text(data.get("text/plain", "")) or "<HTML output>"
        return [_output("execute_result", execution_count=count,
                              data={"text/html": nh3.clean(data["text/html"]), "text/plain": plain})]
    if "application/json" in data:
        value = data["application/json"]
        return [_output("execute_result", execution_count=count,
                              data={"application/json": value,
                                    "text/plain": json.dumps(value, indent=2, ensure_ascii=False)})]
    if "text/plain" in data:
        text = _text(data["text/plain"])
        return [_output("stream", name="stdout", text=text)] if text else []
    return []


def _output(output_type: str, **fields: Any) -> Any:
    """An nbformat output (validated with the whole notebook, once: ``v4.new_output`` would
    validate each one with the JSON schema, the slowest part of a large export)."""
    out: dict[str, Any] = {"output_type": output_type, **fields}
    if output_type in ("display_data", "execute_result"):
        out.setdefault("metadata", {})
    return nbformat.from_dict(out)


def _new_cell(cell_type: str, source: str, metadata: dict[str, Any], **fields: Any) -> Any:
    """An nbformat 4.5 cell with a fresh ``id`` (as ``v4.new_*_cell`` make them, unvalidated)."""
    return nbformat.from_dict({"id": uuid.uuid4().hex[:8], "cell_type": cell_type, "metadata": metadata,
                               "source": source, **fields})


def to_notebook_node(title: str, cells: Sequence[NotebookCell]) -> Any:
    """The notebook as an nbformat v4 ``NotebookNode`` (validated; see :func:`write_ipynb`)."""
    nb_cells = []
    for cell in cells:
        metadata = _cell_metadata(cell)
        if (configure := _unchanged_configure(cell)) is not None:
            nb_cells.append(_new_cell("code", configure, metadata, outputs=[], execution_count=None))
        elif cell.kind == MARKDOWN:
            nb_cells.append(_new_cell("markdown", cell.source, metadata))
        else:
            nb_cells.append(_new_cell("code", _export_source(cell), metadata, outputs=cell_outputs(cell.run),
                                      execution_count=_execution_count(cell.run)))
    nb = v4.new_notebook(cells=nb_cells, metadata={
        "kernelspec": dict(EXPORT_KERNELSPEC),
        "language_info": copy.deepcopy(EXPORT_LANGUAGE_INFO),
        META_KEY: {"title": title},
    })
    nbformat.validate(nb)
    return nb


def write_ipynb(title: str, cells: Sequence[NotebookCell]) -> str:
    """The notebook as ``.ipynb`` text (nbformat 4.5, validated with ``nbformat.validate``,
    which raises ``nbformat.ValidationError`` if this code ever wrote an invalid file)."""
    # Validated once, in to_notebook_node (nbformat.writes would validate a second time).
    return str(v4.writes(to_notebook_node(title, cells)))


def _comment(lines: Sequence[str]) -> list[str]:
    return [f"# {line}" if line else "#" for line in lines]


def _percent_code(source: str) -> list[str]:
    lines = source.split("\n") if source else []
    return [f"# {line}" if _PY_MAGIC_LINE.match(line) or _PY_CELL_MARKER.match(line) else line for line in lines]


def write_py(title: str, cells: Sequence[NotebookCell]) -> str:
    """The notebook as a ``.py`` file in Jupytext's percent format (see the module docstring).
    ``title`` is written in the header's notebook metadata."""
    out = [
        "# ---",
        "# jupyter:",
        "#   jupytext:",
        "#     text_representation:",
        "#       extension: .py",
        "#       format_name: percent",
        "#   kernelspec:",
        f"#     display_name: {EXPORT_KERNELSPEC['display_name']}",
        f"#     language: {EXPORT_KERNELSPEC['language']}",
        f"#     name: {EXPORT_KERNELSPEC['name']}",
        f"#   {META_KEY}:",
        f"#     title: {json.dumps(title, ensure_ascii=False)}",
        "# ---",
    ]
    for cell in cells:
        options: list[str] = []
        if cell.kind == MARKDOWN:
            options.append("[markdown]")
        elif cell.kind != PYSPARK:
            options.append(f'language="{cell.kind}"')
            ours = cell.metadata.get(META_KEY)
            args = ours.get("magic_args") if isinstance(ours, dict) else None
            if isinstance(args, str) and args:
                options.append(f"magic_args={json.dumps(args)}")
        if cell.is_parameters:
            options.append(f'tags=["{PARAMETERS_TAG}"]')
        out.append("")
        out.append(" ".join(["# %%", *options]))
        if cell.kind == PYSPARK:
            out.extend(_percent_code(cell.source))
        elif cell.source:
            out.extend(_comment(cell.source.split("\n")))
    return "\n".join(out) + "\n"


def kind_label(kind: str) -> str:
    """The kind as users read it: ``PySpark``, ``Spark SQL``, ``Scala``, ``Markdown``."""
    return _KIND_LABELS.get(kind, kind)


# ---------------------------------------------------------------------------- parameters
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _python_literal(value: Any) -> str:
    if isinstance(value, (dict, list, str, int, float, bool)) or value is None:
        return repr(value)
    raise NotebookFileError(f"A parameter value must be JSON (text, number, true/false, null, list or object), "
                            f"not {type(value).__name__}.")


def _scala_literal(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value}L" if not -(2**31) <= value < 2**31 else str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a Scala string literal
    if isinstance(value, list):
        return "Seq(" + ", ".join(_scala_literal(v) for v in value) + ")"
    if isinstance(value, dict):
        return "Map(" + ", ".join(f"{json.dumps(str(k))} -> {_scala_literal(v)}" for k, v in value.items()) + ")"
    raise NotebookFileError(f"A parameter value must be JSON, not {type(value).__name__}.")


def parameters_code(kind: str, parameters: dict[str, Any]) -> str:
    """The code of the cell papermill injects after the parameters cell (tag
    ``injected-parameters``): ``# Parameters`` then one assignment per value, in ``kind``
    (``pyspark``: ``name = <Python literal>``; ``spark``: ``val name = <Scala literal>``,
    lists as ``Seq``, objects as ``Map``). Raises :class:`NotebookFileError` for a name that
    is not an identifier, a value that is not JSON, or another kind."""
    if kind not in (PYSPARK, SPARK):
        raise NotebookFileError(f"A {kind_label(kind)} cell cannot take parameters: make the parameters cell "
                                "PySpark or Scala.")
    lines = ["// Parameters" if kind == SPARK else "# Parameters"]
    for name, value in parameters.items():
        if not isinstance(name, str) or not _IDENTIFIER.match(name):
            raise NotebookFileError(f"{name!r} is not a valid parameter name (letters, digits and _).")
        lines.append(f"val {name} = {_scala_literal(value)}" if kind == SPARK else f"{name} = {_python_literal(value)}")
    return "\n".join(lines) + "\n"
