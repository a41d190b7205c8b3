"""Notebooks in and out (livy.notebooks.ipynb): imports of sparkmagic, Fabric and Databricks
exports (fixtures in tests/fixtures/notebooks/, written as those tools write them), exports
that nbformat validates and Jupytext reads, round trips, and bad files."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest

from livy.notebooks import ipynb
from livy.notebooks.ipynb import CellRun, NotebookCell, NotebookFileError, TableData

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "notebooks"
EXPORTS = ("sparkmagic", "fabric", "databricks")


def _read(name: str) -> ipynb.ImportedNotebook:
    return ipynb.read_ipynb((FIXTURES / f"{name}.ipynb").read_bytes(), filename=f"{name}.ipynb")


def _shape(cells):
    return [(c.kind, c.source, c.is_parameters) for c in cells]


def _minimal(cells, **extra) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": extra.pop("metadata", {}),
                       "cells": cells, **extra})


def _code(source, **metadata):
    return {"cell_type": "code", "metadata": metadata, "source": source, "outputs": [], "execution_count": None}


# ------------------------------------------------------------------------------- imports
def test_sparkmagic_export_maps_magics_to_kinds():
    nb = _read("sparkmagic")
    assert nb.title == "sparkmagic"
    assert [c.kind for c in nb.cells] == ["markdown", "markdown", "pyspark", "pyspark", "sql", "pyspark", "pyspark"]
    configure, params, _, sql, local, table = nb.cells[1:]
    assert "%%configure -f" in configure.source and "executorMemory" in configure.source
    assert params.is_parameters and params.source == "regions = 3\nrows = 100"
    assert sql.source == "SELECT region, count(*) AS n FROM sales GROUP BY region ORDER BY region"
    assert local.source.startswith("%%local\n")  # unknown magic: kept as it is
    assert table.source.startswith("%table ")  # Livy's own line magic stays code
    assert any("Cell 2: %%configure" in n for n in nb.notices)
    assert any("Cell 5" in n and "-o top -q" in n for n in nb.notices)
    assert any("Cell 6: %%local is not supported" in n for n in nb.notices)
    assert any("Outputs saved in the file were not imported" in n for n in nb.notices)


def test_fabric_export_reads_microsoft_language_and_keeps_unknown_metadata():
    nb = _read("fabric")
    assert [c.kind for c in nb.cells] == ["markdown", "pyspark", "sql", "spark", "sql", "pyspark"]
    assert nb.cells[1].is_parameters and nb.cells[1].source == 'run_date = "2026-12-01"'
    assert nb.cells[4].source == "SELECT count(*) FROM sales.orders"  # %%sql removed, kind kept
    assert nb.cells[5].source.startswith("df = spark.sql(")  # %%pyspark removed
    assert nb.cells[2].metadata["nteract"] == {"transient": {"deleting": False}}
    assert "tags" not in nb.cells[1].metadata  # the parameters tag lives in is_parameters
    assert nb.notices == []
    exported = nbformat.reads(ipynb.write_ipynb(nb.title, nb.cells), as_version=4)
    assert exported["cells"][2]["metadata"]["nteract"] == {"transient": {"deleting": False}}
    assert exported["cells"][2]["metadata"]["microsoft"] == {"language": "sparksql", "language_group": "synapse_pyspark"}
    assert exported["cells"][1]["metadata"]["tags"] == ["parameters"]


def test_databricks_export_reads_language_magics_and_notebook_name():
    nb = _read("databricks")
    assert nb.title == "Orders per day"
    assert [c.kind for c in nb.cells] == ["markdown", "pyspark", "sql", "spark", "markdown", "pyspark"]
    assert nb.cells[2].source.startswith("SELECT day, sum(amount)")
    assert nb.cells[3].source == 'val days = spark.table("orders").count()'
    assert nb.cells[4].source == "Amounts are in **EUR**."
    assert nb.cells[5].source == "%run ./shared/helpers"
    assert nb.notices == ["Cell 6: %run is not supported here; the cell was kept as it is, but running it will fail."]


def test_notebook_language_decides_cells_without_magic_or_metadata():
    scala = _minimal([_code("val x = 1")], metadata={"kernelspec": {"name": "sparkkernel", "language": "scala",
                                                                    "display_name": "Spark"}})
    assert ipynb.read_ipynb(scala).cells[0].kind == "spark"
    vscode = _minimal([_code("SELECT 1", vscode={"languageId": "sql"})])
    assert ipynb.read_ipynb(vscode).cells[0].kind == "sql"
    r_notebook = ipynb.read_ipynb(_minimal([_code("x <- 1")], metadata={"kernelspec": {"name": "ir", "language": "R",
                                                                                       "display_name": "R"}}))
    assert r_notebook.cells[0].kind == "pyspark"
    assert any("'ir'" in n and "imported as PySpark" in n for n in r_notebook.notices)


def test_sparkmagic_spark_magic_language_option():
    nb = ipynb.read_ipynb(_minimal([_code("%%spark -l python\nspark.range(3).count()"), _code("%%spark\nval n = 1")]))
    assert _shape(nb.cells) == [("pyspark", "spark.range(3).count()", False), ("spark", "val n = 1", False)]


def test_raw_cells_become_markdown_and_a_second_parameters_tag_is_dropped():
    nb = ipynb.read_ipynb(_minimal([
        {"cell_type": "raw", "metadata": {}, "source": "raw text"},
        _code("a = 1", tags=["parameters"]),
        _code("b = 2", tags=["parameters", "keep-me"]),
    ]))
    assert _shape(nb.cells) == [("markdown", "raw text", False), ("pyspark", "a = 1", True), ("pyspark", "b = 2", False)]
    assert nb.cells[2].metadata["tags"] == ["keep-me"]
    assert any(n.startswith("Cell 1: a raw cell") for n in nb.notices)
    assert any(n.startswith("Cell 3: a second cell tagged") for n in nb.notices)


def test_nbformat_3_is_converted():
    v3 = {"nbformat": 3, "nbformat_minor": 0, "metadata": {"name": "old"},
          "worksheets": [{"cells": [{"cell_type": "code", "input": "print(1)", "language": "python", "outputs": [],
                                     "metadata": {}},
                                    {"cell_type": "markdown", "source": "# Old", "metadata": {}}], "metadata": {}}]}
    nb = ipynb.read_ipynb(json.dumps(v3), filename="old.ipynb")
    assert _shape(nb.cells) == [("pyspark", "print(1)", False), ("markdown", "# Old", False)]


def test_a_schema_slip_that_does_not_matter_is_imported_with_a_notice():
    cell = _code("print(1)")
    cell["outputs"] = [{"output_type": "stream", "text": "1\n"}]  # "name" is missing
    nb = ipynb.read_ipynb(_minimal([cell]))
    assert _shape(nb.cells) == [("pyspark", "print(1)", False)]
    assert any(n.startswith("The file does not fully follow nbformat 4") for n in nb.notices)


@pytest.mark.parametrize("data,message", [
    (b"\xff\xfe not text", "not UTF-8 text"),
    (b"print('hello')", "not valid JSON (line 1, column 1)"),
    (b"[1, 2]", "has no \"nbformat\" version"),
    (b'{"cells": []}', "has no \"nbformat\" version"),
    (b'{"nbformat": 2, "cells": []}', "nbformat version 2 cannot be imported"),
    (b'{"nbformat": "4", "cells": []}', "nbformat version '4' cannot be imported"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": {}}', "has no list of cells"),
    (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [42]}', "cannot be read"),
])
def test_bad_files_raise_one_error_with_a_clear_message(data, message):
    with pytest.raises(NotebookFileError) as caught:
        ipynb.read_ipynb(data)
    assert message in str(caught.value)


def test_too_large_and_too_many_cells():
    with pytest.raises(NotebookFileError, match=r"The file is 0\.0 MB; notebooks of up to 0\.0 MB can be imported"):
        ipynb.read_ipynb(_minimal([_code("x = 1")]), max_bytes=10)
    many = _minimal([_code(f"x = {i}") for i in range(ipynb.MAX_CELLS + 1)])
    with pytest.raises(NotebookFileError, match=f"has {ipynb.MAX_CELLS + 1} cells; at most {ipynb.MAX_CELLS}"):
        ipynb.read_ipynb(many)


# -------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("name", EXPORTS)
def test_import_export_import_keeps_sources_kinds_and_order(name):
    first = _read(name)
    text = ipynb.write_ipynb(first.title, first.cells)
    nbformat.validate(nbformat.reads(text, as_version=4))
    again = ipynb.read_ipynb(text)
    assert _shape(again.cells) == _shape(first.cells)
    assert again.title == first.title
    assert _shape(ipynb.read_ipynb(ipynb.write_ipynb(again.title, again.cells)).cells) == _shape(first.cells)


@pytest.mark.parametrize("name", EXPORTS)
def test_jupytext_reads_the_py_export_as_the_same_notebook(name):
    first = _read(name)
    text = ipynb.write_py(first.title, first.cells)
    read_by_jupytext = jupytext.reads(text, fmt="py:percent")
    again = ipynb.read_ipynb(nbformat.writes(read_by_jupytext))
    assert _shape(again.cells) == _shape(first.cells)


def test_configure_is_written_back_unless_edited():
    nb = _read("sparkmagic")
    exported = nbformat.reads(ipynb.write_ipynb(nb.title, nb.cells), as_version=4)
    configure = exported["cells"][1]
    assert configure["cell_type"] == "code"
    assert _source(configure).startswith("%%configure -f\n{\"executorMemory\"")
    nb.cells[1].source += "\n\nEdited."
    edited = nbformat.reads(ipynb.write_ipynb(nb.title, nb.cells), as_version=4)["cells"][1]
    assert edited["cell_type"] == "markdown" and _source(edited).endswith("Edited.")


def test_sql_options_are_written_back():
    nb = _read("sparkmagic")
    exported = nbformat.reads(ipynb.write_ipynb(nb.title, nb.cells), as_version=4)
    assert _source(exported["cells"][4]).startswith("%%sql -o top -q\nSELECT region")
    assert exported["metadata"]["kernelspec"]["name"] == "pysparkkernel"


# ------------------------------------------------------------------------------- outputs
def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _export_one(run: CellRun | None, kind: str = "pyspark", source: str = "x") -> dict:
    written = nbformat.reads(ipynb.write_ipynb("t", [NotebookCell(kind, source, run=run)]), as_version=4)
    nbformat.validate(written)
    return written["cells"][0]


def test_text_output_is_a_stdout_stream_with_the_execution_count():
    cell = _export_one(CellRun("available", {"status": "ok", "execution_count": 3, "data": {"text/plain": "4950"}}))
    assert cell["execution_count"] == 3
    assert cell["outputs"] == [{"output_type": "stream", "name": "stdout", "text": "4950"}]


def test_table_output_is_html_and_plain_text():
    table = TableData([("name", "string"), ("n", "long")], [["<b>a</b>", 1], [None, 2]])
    cell = _export_one(CellRun("available", {"status": "ok", "execution_count": 1, "data": {}}, table=table), "sql")
    out = cell["outputs"][0]
    assert out["output_type"] == "execute_result" and out["execution_count"] == 1
    assert "<td>&lt;b&gt;a&lt;/b&gt;</td>" in out["data"]["text/html"] and "<th>n</th>" in out["data"]["text/html"]
    assert out["data"]["text/plain"] == "name | n\n<b>a</b> | 1\nnull | 2"
    assert _source(cell).startswith("%%sql\n") and cell["metadata"]["microsoft"]["language"] == "sparksql"


def test_image_json_and_html_outputs():
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    image = _export_one(CellRun("available", {"status": "ok", "data": {"image/png": png}}))["outputs"][0]
    assert image["output_type"] == "display_data" and image["data"]["image/png"] == png
    data = _export_one(CellRun("available", {"status": "ok", "data": {"application/json": {"a": [1]}}}))["outputs"][0]
    assert data["data"]["application/json"] == {"a": [1]}
    html = _export_one(CellRun("available", {"status": "ok", "data": {
        "text/html": "<p onclick='x()'>hi</p><script>alert(1)</script>", "text/plain": "hi"}}))["outputs"][0]
    assert html["data"]["text/html"] == "<p>hi</p>"


def test_errors_keep_name_value_and_traceback():
    livy_error = {"status": "error", "execution_count": 2, "ename": "NameError", "evalue": "name 'x' is not defined",
                  "traceback": ["Traceback (most recent call last):\n", "NameError: name 'x' is not defined\n"]}
    out = _export_one(CellRun("error", livy_error, "NameError", "name 'x' is not defined"))["outputs"][0]
    assert out == {"output_type": "error", "ename": "NameError", "evalue": "name 'x' is not defined",
                   "traceback": livy_error["traceback"]}
    never_ran = _export_one(CellRun("failed", None, "SessionNotStarted", "Your code was not run: Livy is down"))
    assert never_ran["outputs"][0]["ename"] == "SessionNotStarted"


def test_unfinished_or_absent_runs_have_no_outputs():
    assert _export_one(None)["outputs"] == []
    assert _export_one(CellRun("running", None))["outputs"] == []


# ------------------------------------------------------------------------------- .py
def test_py_export_is_the_percent_format():
    cells = [NotebookCell("markdown", "# Title\n\nText"), NotebookCell("pyspark", "n = 10", is_parameters=True),
             NotebookCell("pyspark", "%table df\nx = 1"), NotebookCell("sql", "SELECT 1"),
             NotebookCell("spark", "val a = 1")]
    text = ipynb.write_py("Demo", cells)
    assert text.startswith("# ---\n# jupyter:\n")
    body = text.split("# ---\n", 2)[2]
    assert body == ("\n# %% [markdown]\n# # Title\n#\n# Text\n"
                    "\n# %% tags=[\"parameters\"]\nn = 10\n"
                    "\n# %%\n# %table df\nx = 1\n"
                    "\n# %% language=\"sql\"\n# SELECT 1\n"
                    "\n# %% language=\"spark\"\n# val a = 1\n")
    compile(text, "export.py", "exec")  # valid Python


def test_ipynb_module_imports_without_django():
    script = (
        "import importlib.abc, sys\n"
        "class NoDjango(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'django' or name.startswith('django.'):\n"
        "            raise ImportError('django is not installed here')\n"
        "sys.meta_path.insert(0, NoDjango())\n"
        "from livy.notebooks import ipynb\n"
        "print(len(ipynb.read_ipynb(ipynb.write_ipynb('t', [ipynb.NotebookCell('sql', 'SELECT 1')])).cells))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"


# ---------------------------------------------------------------------------- parameters
def test_parameters_code_is_papermills_injected_cell():
    values = {"run_date": "2026-12-01", "limit": 10, "ratio": 0.5, "dry": True, "none": None, "regions": ["EU", "US"],
              "conf": {"a": 1}}
    python = ipynb.parameters_code("pyspark", values)
    assert python == ("# Parameters\nrun_date = '2026-12-01'\nlimit = 10\nratio = 0.5\ndry = True\nnone = None\n"
                      "regions = ['EU', 'US']\nconf = {'a': 1}\n")
    namespace: dict = {}
    exec(python, namespace)  # the generated code, as Livy would run it
    assert {k: namespace[k] for k in values} == values
    scala = ipynb.parameters_code("spark", {"run_date": "2026-12-01", "limit": 10, "big": 2**40, "dry": False,
                                            "regions": ["EU"], "conf": {"a": 1}})
    assert scala == ('// Parameters\nval run_date = "2026-12-01"\nval limit = 10\nval big = 1099511627776L\n'
                     'val dry = false\nval regions = Seq("EU")\nval conf = Map("a" -> 1)\n')


@pytest.mark.parametrize("kind,values,message", [
    ("sql", {"a": 1}, "A Spark SQL cell cannot take parameters"),
    ("pyspark", {"not valid": 1}, "is not a valid parameter name"),
    ("pyspark", {"x": object()}, "must be JSON"),
])
def test_bad_parameters(kind, values, message):
    with pytest.raises(NotebookFileError, match=message):
        ipynb.parameters_code(kind, values)


def test_a_deeply_nested_file_is_refused_with_a_message():
    with pytest.raises(ipynb.NotebookFileError, match="nested too deeply"):
        ipynb.read_ipynb(b"[" * 200_000 + b"]" * 200_000)
