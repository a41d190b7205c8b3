"""Notebook writes (livy.notebooks.service) and reads (livy.notebooks.selectors): versions and
conflicts, cells, copies, deletes that keep the audit trail, imports, sharing, and running
cells through the lifecycle against an HTTP fake of Apache Livy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import responses

from livy.clients import livy_client
from livy.models import Cell, Notebook, Statement
from livy.notebooks import selectors, service
from livy.notebooks.ipynb import NotebookFileError
from livy.notebooks.service import CellInput, Conflict, NotebookError
from livy.output import TABLE_MIME
from livy.remote.errors import LivyError
from tests.support.livy_json import LIVY, refused, session_json, session_row, statement_json
from tests.support.notebooks import make_cast, mixed_notebook

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "notebooks"


@pytest.fixture
def cast():
    return make_cast()


def _inputs(notebook):
    return [CellInput(c.pk, c.kind, c.source, c.is_parameters) for c in selectors.cells_of(notebook)]


def _shape(notebook):
    return [(c.kind, c.source, c.is_parameters) for c in selectors.cells_of(notebook)]


# ------------------------------------------------------------------------------ notebooks
def test_a_new_notebook_has_one_empty_pyspark_cell(cast):
    notebook = service.create(cast.owner)
    assert notebook.title == "Untitled notebook" and notebook.version == 1
    assert _shape(notebook) == [("pyspark", "", False)]


def test_save_edits_reorders_adds_and_deletes_against_the_version(cast):
    notebook = mixed_notebook(cast.owner)
    md, params, code, sql = _inputs(notebook)
    saved = service.save(notebook, version=1, cells=[
        sql, CellInput(code.id, "pyspark", "spark.range(5).createOrReplaceTempView('t')"), CellInput(None, "spark", "val a = 1"),
        CellInput(params.id, "pyspark", "regions = 4", True),
    ], title="Sales v2")
    assert saved.version == 2 and saved.title == "Sales v2"
    assert _shape(notebook) == [("sql", "SELECT count(*) AS n FROM t", False),
                                ("pyspark", "spark.range(5).createOrReplaceTempView('t')", False),
                                ("spark", "val a = 1", False), ("pyspark", "regions = 4", True)]
    assert not Cell.objects.filter(pk=md.id).exists()
    assert [c.position for c in selectors.cells_of(notebook)] == [0, 1, 2, 3]


def test_a_stale_save_is_a_conflict_and_changes_nothing(cast):
    notebook = mixed_notebook(cast.owner)
    tab_a = Notebook.objects.get(pk=notebook.pk)
    tab_b = Notebook.objects.get(pk=notebook.pk)
    cells = _inputs(notebook)
    service.save(tab_a, version=1, cells=[CellInput(cells[0].id, "markdown", "# From tab A")] + cells[1:])
    with pytest.raises(Conflict) as caught:
        service.save(tab_b, version=1, cells=[CellInput(cells[0].id, "markdown", "# From tab B")] + cells[1:])
    assert caught.value.version == 2
    assert [c.source for c in caught.value.cells][0] == "# From tab A"
    assert _shape(notebook)[0] == ("markdown", "# From tab A", False)
    assert Notebook.objects.get(pk=notebook.pk).version == 2


@pytest.mark.parametrize("bad,message", [
    ([CellInput(999999, "pyspark", "x")], "Cell 1 is not a cell of this notebook"),
    ([CellInput(None, "r", "x")], "unknown kind 'r'"),
    ([CellInput(None, "pyspark", "a", True), CellInput(None, "pyspark", "b", True)], "Only one cell"),
    ([CellInput(None, "pyspark", "x" * 200_001)], "a cell has at most 200,000"),
])
def test_bad_saves_are_refused_and_change_nothing(cast, bad, message):
    notebook = mixed_notebook(cast.owner)
    before = _shape(notebook)
    with pytest.raises(NotebookError, match=message):
        service.save(notebook, version=1, cells=bad)
    assert _shape(notebook) == before and Notebook.objects.get(pk=notebook.pk).version == 1


def test_a_cell_of_another_notebook_cannot_be_saved_into_this_one(cast):
    mine = mixed_notebook(cast.owner)
    theirs = mixed_notebook(cast.other)
    foreign = selectors.cells_of(theirs)[0]
    with pytest.raises(NotebookError):
        service.save(mine, version=1, cells=[CellInput(foreign.pk, "pyspark", "stolen")])
    foreign.refresh_from_db()
    assert foreign.notebook_id == theirs.pk and foreign.source != "stolen"


def test_add_move_delete_cells_and_the_parameters_cell(cast):
    notebook = mixed_notebook(cast.owner)
    added = service.add_cell(notebook, version=1, position=1, kind="sql", source="SELECT 1")
    assert [c.pk for c in selectors.cells_of(notebook)].index(added.pk) == 1
    service.move_cell(notebook, added, version=2, position=99)
    assert list(selectors.cells_of(notebook))[-1].pk == added.pk
    with pytest.raises(Conflict):
        service.delete_cell(notebook, added, version=2)
    service.delete_cell(notebook, added, version=3)
    assert not Cell.objects.filter(pk=added.pk).exists()
    code = selectors.cells_of(notebook)[2]
    service.set_parameters_cell(notebook, code, version=4)
    assert [c.is_parameters for c in selectors.cells_of(notebook)] == [False, False, True, False]
    with pytest.raises(NotebookError):
        service.set_parameters_cell(notebook, selectors.cells_of(notebook)[0], version=5)  # markdown
    assert Notebook.objects.get(pk=notebook.pk).version == 5


def test_rename_keeps_the_version(cast):
    notebook = mixed_notebook(cast.owner)
    service.rename(notebook, "  Sales   by region ")
    notebook.refresh_from_db()
    assert (notebook.title, notebook.version) == ("Sales by region", 1)
    with pytest.raises(NotebookError, match="Give the notebook a title"):
        service.rename(notebook, "   ")


def test_a_copy_has_the_cells_without_runs_or_shares(cast):
    notebook = mixed_notebook(cast.owner)
    service.share(notebook, cast.viewers)
    session = session_row(cast.owner)
    stmt = Statement.objects.create(session=session, author=cast.owner, code="regions = 3", state="available")
    Cell.objects.filter(notebook=notebook).update(last_statement=stmt)
    copy = service.duplicate(notebook, cast.other)
    assert (copy.owner, copy.title, copy.version) == (cast.other, "Copy of Sales", 1)
    assert _shape(copy) == _shape(notebook)
    assert not copy.cells.exclude(last_statement=None).exists()
    assert not copy.shared_with.exists()


def test_deleting_a_notebook_keeps_its_statements(cast):
    notebook = mixed_notebook(cast.owner)
    cell = selectors.cells_of(notebook)[2]
    stmt = Statement.objects.create(session=session_row(cast.owner), author=cast.owner, code=cell.source, cell=cell)
    service.delete(notebook)
    stmt.refresh_from_db()
    assert stmt.cell is None and stmt.code == cell.source
    assert not Notebook.objects.filter(pk=notebook.pk).exists()


# ------------------------------------------------------------------------------- imports
def test_import_creates_a_notebook_with_notices(cast):
    notebook, notices = service.import_notebook(cast.owner, (FIXTURES / "sparkmagic.ipynb").read_bytes(),
                                                filename="Regional sales.ipynb")
    assert notebook.title == "Regional sales" and notebook.owner == cast.owner
    assert [k for k, _, _ in _shape(notebook)] == ["markdown", "markdown", "pyspark", "pyspark", "sql", "pyspark",
                                                   "pyspark"]
    assert selectors.cells_of(notebook)[4].metadata == {"livy_web": {"magic_args": "-o top -q"}}
    assert any("%%local" in n for n in notices)


def test_a_bad_or_too_large_import_creates_nothing(cast, settings):
    with pytest.raises(NotebookFileError, match="not valid JSON"):
        service.import_notebook(cast.owner, b"{not json")
    settings.NOTEBOOK_MAX_IMPORT_BYTES = 100
    with pytest.raises(NotebookFileError, match="notebooks of up to 0.0 MB"):
        service.import_notebook(cast.owner, (FIXTURES / "fabric.ipynb").read_bytes())
    assert not Notebook.objects.exists()


def test_the_import_limit_defaults_to_20_mib(settings):
    if hasattr(settings, "NOTEBOOK_MAX_IMPORT_BYTES"):
        del settings.NOTEBOOK_MAX_IMPORT_BYTES
    assert service.max_import_bytes() == 20 * 1024 * 1024


# ---------------------------------------------------------------------------- visibility
def test_who_sees_and_changes_a_notebook(cast):
    notebook = mixed_notebook(cast.owner)
    visible = {name: selectors.notebooks_visible_to(user).filter(pk=notebook.pk).exists()
               for name, user in vars(cast).items() if name != "viewers"}
    assert visible == {"owner": True, "other": False, "viewer": False, "admin": True}
    service.share(notebook, cast.viewers)
    assert selectors.notebooks_visible_to(cast.viewer).filter(pk=notebook.pk).exists()
    assert not selectors.notebooks_visible_to(cast.other).filter(pk=notebook.pk).exists()
    assert [selectors.can_edit(u, notebook) for u in (cast.owner, cast.viewer, cast.admin)] == [True, False, False]
    assert [selectors.can_run(u, notebook) for u in (cast.owner, cast.viewer, cast.admin)] == [True, False, False]
    service.unshare(notebook, cast.viewers)
    assert not selectors.notebooks_visible_to(cast.viewer).filter(pk=notebook.pk).exists()


def test_the_list_is_newest_first_with_cell_counts(cast):
    first = mixed_notebook(cast.owner, "First")
    second = service.create(cast.owner, title="Second")
    service.rename(first, "First, edited")
    listed = list(selectors.notebook_list(cast.owner))
    assert [(n.title, n.cell_count) for n in listed] == [("First, edited", 4), ("Second", 1)]
    assert second in selectors.notebook_list(cast.admin)
    assert list(selectors.notebook_list(cast.admin, mine_only=True)) == []


# ----------------------------------------------------------------------------------- runs
def _statement_ids(mock):
    sent = []

    def answer(request):
        body = json.loads(request.body)
        sent.append((body["kind"], body["code"]))
        return 201, {}, json.dumps(statement_json(len(sent) - 1, "waiting", body["code"]))

    mock.add_callback(responses.POST, f"{LIVY}/sessions/4/statements", callback=answer,
                      content_type="application/json")
    return sent


def test_queue_cells_sends_code_cells_in_order_and_links_them(cast, livy_api):
    session_row(cast.owner)
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    sent = _statement_ids(livy_api)
    notebook = mixed_notebook(cast.owner)
    cells = list(selectors.cells_of(notebook))
    statements = service.queue_cells(notebook, reversed(cells), cast.owner, livy_client())
    assert sent == [("pyspark", "regions = 3"), ("pyspark", "spark.range(10).createOrReplaceTempView('t')"),
                    ("sql", "SELECT count(*) AS n FROM t")]
    assert [s.cell_id for s in statements] == [c.pk for c in cells[1:]]
    assert [c.last_statement_id for c in selectors.cells_of(notebook)] == [None] + [s.pk for s in statements]
    assert Notebook.objects.get(pk=notebook.pk).version == 1  # a run is not an edit


def test_queue_cells_when_livy_is_down_keeps_the_code_and_stops(cast, livy_api):
    session_row(cast.owner, state="dead", active=False)
    livy_api.post(f"{LIVY}/sessions", body=refused())
    notebook = mixed_notebook(cast.owner)
    cells = list(selectors.cells_of(notebook))
    with pytest.raises(LivyError):
        service.queue_cells(notebook, cells, cast.owner, livy_client())
    first = Cell.objects.get(pk=cells[1].pk)
    assert first.last_statement is not None
    assert (first.last_statement.state, first.last_statement.code) == ("failed", "regions = 3")
    assert Cell.objects.get(pk=cells[2].pk).last_statement is None
    assert not Statement.objects.filter(cell=cells[3]).exists()


def test_queue_cells_refuses_cells_of_another_notebook(cast):
    mine = mixed_notebook(cast.owner)
    theirs = mixed_notebook(cast.other)
    with pytest.raises(NotebookError):
        service.queue_cells(mine, list(selectors.cells_of(theirs)), cast.owner, livy_client())


def test_export_cells_carry_the_last_runs(cast):
    notebook = mixed_notebook(cast.owner)
    sql = selectors.cells_of(notebook)[3]
    table = {"headers": [{"name": "n", "type": "BIGINT_TYPE"}], "data": [[10]]}
    stmt = Statement.objects.create(session=session_row(cast.owner), author=cast.owner, code=sql.source, cell=sql,
                                    state="available", output={"status": "ok", "execution_count": 2,
                                                               "data": {TABLE_MIME: table}})
    Cell.objects.filter(pk=sql.pk).update(last_statement=stmt)
    exported = selectors.export_cells(notebook)
    assert exported[3].run is not None and exported[3].run.table is not None
    assert exported[3].run.table.columns == [("n", "BIGINT_TYPE")] and exported[3].run.table.rows == [[10]]
    assert exported[0].run is None
    assert list(selectors.cell_statements_visible_to(cast.viewer)) == []
    service.share(notebook, cast.viewers)
    assert list(selectors.cell_statements_visible_to(cast.viewer)) == [stmt]


def test_a_run_with_parameters_injects_them_after_the_parameters_cell(cast, livy_api):
    session_row(cast.owner)
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    sent = _statement_ids(livy_api)
    notebook = mixed_notebook(cast.owner)
    cells = list(selectors.cells_of(notebook))
    statements = service.queue_cells(notebook, cells, cast.owner, livy_client(), parameters={"regions": 5})
    assert [code for _, code in sent] == ["regions = 3", "# Parameters\nregions = 5\n",
                                          "spark.range(10).createOrReplaceTempView('t')", "SELECT count(*) AS n FROM t"]
    assert statements[1].cell_id == cells[1].pk
    assert Cell.objects.get(pk=cells[1].pk).last_statement_id == statements[0].pk  # the cell's own run


def test_parameters_need_a_parameters_cell_and_good_values(cast):
    notebook = service.create(cast.owner, cells=[])
    with pytest.raises(NotebookError, match="no parameters cell"):
        service.queue_cells(notebook, [], cast.owner, livy_client(), parameters={"a": 1})
    notebook = mixed_notebook(cast.owner)
    with pytest.raises(NotebookError, match="not a valid parameter name"):
        service.queue_cells(notebook, list(selectors.cells_of(notebook)), cast.owner, livy_client(),
                            parameters={"1x": 1})
    assert not Statement.objects.exists()


def test_the_parameters_mark_moves_with_a_save(cast):
    notebook = mixed_notebook(cast.owner)
    md, params, code, sql = _inputs(notebook)
    service.save(notebook, version=1, cells=[md, CellInput(params.id, params.kind, params.source, False),
                                             CellInput(code.id, code.kind, code.source, True), sql])
    assert [c.is_parameters for c in selectors.cells_of(notebook)] == [False, False, True, False]
    service.save(notebook, version=2, cells=[CellInput(None, "pyspark", "p = 1", True)] + _inputs(notebook)[:2]
                 + [CellInput(code.id, code.kind, code.source, False), sql])
    assert [c.is_parameters for c in selectors.cells_of(notebook)] == [True, False, False, False, False]
