"""The notebook list and its actions, imports, exports, sharing and the JSON endpoints the
notebook page uses, through Django's test client."""

from __future__ import annotations

import json
from pathlib import Path

import jupytext
import nbformat
import pytest
from django.urls import reverse

from livy.models import Cell, Notebook, Statement
from livy.notebooks import ipynb, selectors, service
from tests.support.livy_json import session_row
from tests.support.notebooks import make_cast, mixed_notebook

pytestmark = pytest.mark.django_db
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "notebooks"


@pytest.fixture
def cast():
    return make_cast()


@pytest.fixture
def owner_client(client, cast):
    client.force_login(cast.owner)
    return client


def _messages(response) -> list[str]:
    return [str(m) for m in response.context["messages"]] if response.context else []


# ---------------------------------------------------------------------------------- list
def test_the_list_shows_the_users_notebooks_newest_first(owner_client, cast):
    older = mixed_notebook(cast.owner, "Older")
    service.create(cast.owner, title="Newer")
    mixed_notebook(cast.other, "Oscar's")
    service.rename(older, "Older, edited")
    body = owner_client.get(reverse("livy:notebook_list")).content.decode()
    assert body.index("Older, edited") < body.index("Newer")
    assert "Oscar&#x27;s" not in body and "Oscar's" not in body
    assert '<td data-label="Cells">4</td>' in body and '<td data-label="Cells">1</td>' in body
    assert reverse("livy:notebook_list") in owner_client.get(reverse("livy:notebook")).content.decode()  # top bar


def test_administrators_see_everyones_with_the_owner(client, cast):
    mixed_notebook(cast.owner, "Erin's forecast")
    client.force_login(cast.admin)
    body = client.get(reverse("livy:notebook_list")).content.decode()
    assert "Erin&#x27;s forecast" in body and ">erin's<" in body
    assert "Erin&#x27;s forecast" not in client.get(reverse("livy:notebook_list") + "?mine=1").content.decode()


def test_a_viewer_sees_what_is_shared_with_them_read_only(client, cast):
    notebook = mixed_notebook(cast.owner, "Shared forecast")
    client.force_login(cast.viewer)
    assert "Shared forecast" not in client.get(reverse("livy:notebook_list")).content.decode()
    service.share(notebook, cast.viewers)
    body = client.get(reverse("livy:notebook_list")).content.decode()
    assert "Shared forecast" in body and "shared with you" in body
    assert "New notebook" not in body and "Rename" not in body and "Delete" not in body
    assert reverse("livy:notebook_ipynb", args=[notebook.pk]) in body


def test_new_notebook_opens_it(owner_client, cast):
    response = owner_client.post(reverse("livy:notebook_new"))
    notebook = Notebook.objects.get(owner=cast.owner)
    assert response["Location"] == reverse("livy:notebook_detail", args=[notebook.pk])
    assert notebook.title == "Untitled notebook" and notebook.cells.count() == 1


def test_rename_copy_and_delete_from_the_list(owner_client, cast):
    notebook = mixed_notebook(cast.owner)
    response = owner_client.post(reverse("livy:notebook_rename", args=[notebook.pk]), {"title": "Q4 sales"},
                                 follow=True)
    assert "Renamed to “Q4 sales”." in _messages(response)
    response = owner_client.post(reverse("livy:notebook_rename", args=[notebook.pk]), {"title": "  "}, follow=True)
    assert "Give the notebook a title." in _messages(response)
    response = owner_client.post(reverse("livy:notebook_copy", args=[notebook.pk]), follow=True)
    assert "Saved a copy: “Copy of Q4 sales”." in _messages(response)
    copy = Notebook.objects.get(title="Copy of Q4 sales")
    assert copy.cells.count() == 4

    stmt = Statement.objects.create(session=session_row(cast.owner), author=cast.owner, code="regions = 3",
                                    cell=selectors.cells_of(notebook)[1])
    confirm = owner_client.get(reverse("livy:notebook_delete", args=[notebook.pk])).content.decode()
    assert "Delete this notebook?" in confirm and "Q4 sales" in confirm and "4 cells" in confirm
    assert Notebook.objects.filter(pk=notebook.pk).exists()  # a GET deletes nothing
    response = owner_client.post(reverse("livy:notebook_delete", args=[notebook.pk]), follow=True)
    assert "Deleted “Q4 sales”." in _messages(response)
    assert not Notebook.objects.filter(pk=notebook.pk).exists()
    stmt.refresh_from_db()
    assert stmt.cell is None  # the run stays in the history


def test_rename_goes_back_only_to_this_site(owner_client, cast):
    notebook = mixed_notebook(cast.owner)
    url = reverse("livy:notebook_rename", args=[notebook.pk])
    page = reverse("livy:notebook_detail", args=[notebook.pk])
    assert owner_client.post(url, {"title": "A", "next": page})["Location"] == page
    assert owner_client.post(url, {"title": "B", "next": "https://evil.example/"})["Location"] == \
        reverse("livy:notebook_list")


# ------------------------------------------------------------------------------- import
def test_import_opens_the_new_notebook_with_its_notices(owner_client, cast):
    with open(FIXTURES / "sparkmagic.ipynb", "rb") as upload:
        response = owner_client.post(reverse("livy:notebook_import"), {"file": upload}, follow=True)
    notebook = Notebook.objects.get(owner=cast.owner)
    assert response.redirect_chain[-1][0] == reverse("livy:notebook_detail", args=[notebook.pk])
    shown = _messages(response)
    assert "Imported “sparkmagic”: 7 cells." in shown
    assert any("%%local is not supported" in m for m in shown)
    body = response.content.decode()
    assert "<h1>Sales by region</h1>" in body and "SELECT region, count(*) AS n FROM sales" in body


@pytest.mark.parametrize("content,message", [
    (b"not a notebook", "it is not valid JSON"),
    (b'{"nbformat": 2}', "nbformat version 2 cannot be imported"),
])
def test_a_bad_import_says_why_and_creates_nothing(owner_client, cast, content, message, tmp_path):
    path = tmp_path / "broken.ipynb"
    path.write_bytes(content)
    with open(path, "rb") as upload:
        response = owner_client.post(reverse("livy:notebook_import"), {"file": upload})
    assert response.status_code == 400
    body = response.content.decode()
    assert "broken.ipynb: " in body and message in body and 'role="alert"' in body
    assert not Notebook.objects.exists()


def test_an_import_over_the_limit_is_refused_before_reading(owner_client, cast, settings, tmp_path):
    settings.NOTEBOOK_MAX_IMPORT_BYTES = 1024
    path = tmp_path / "big.ipynb"
    path.write_bytes((FIXTURES / "fabric.ipynb").read_bytes())
    with open(path, "rb") as upload:
        response = owner_client.post(reverse("livy:notebook_import"), {"file": upload})
    assert response.status_code == 400
    assert "notebooks of up to 0.0 MB can be imported" in response.content.decode()
    assert "up to 1.0\xa0KB" in response.content.decode()  # the form says the limit
    response = owner_client.post(reverse("livy:notebook_import"), {})
    assert response.status_code == 400 and "Choose an .ipynb file to import." in response.content.decode()
    assert not Notebook.objects.exists()


# ------------------------------------------------------------------------------ exports
def _with_outputs(owner):
    notebook = mixed_notebook(owner, "Sales: Q4/2026")
    session = session_row(owner)
    code, sql = selectors.cells_of(notebook)[2:]
    ran = Statement.objects.create(session=session, author=owner, code=code.source, cell=code, state="available",
                                   output={"status": "ok", "execution_count": 1, "data": {"text/plain": "done"}})
    failed = Statement.objects.create(session=session, author=owner, code=sql.source, cell=sql, state="error",
                                      error_name="AnalysisException", error_value="Table not found: t",
                                      output={"status": "error", "execution_count": 2, "ename": "AnalysisException",
                                              "evalue": "Table not found: t", "traceback": ["at line 1\n"]})
    Cell.objects.filter(pk=code.pk).update(last_statement=ran)
    Cell.objects.filter(pk=sql.pk).update(last_statement=failed)
    return notebook


def test_ipynb_export_is_valid_nbformat_with_outputs(owner_client, cast):
    notebook = _with_outputs(cast.owner)
    response = owner_client.get(reverse("livy:notebook_ipynb", args=[notebook.pk]))
    assert response["Content-Type"] == "application/x-ipynb+json"
    assert response["Content-Disposition"] == 'attachment; filename="Sales-Q4-2026.ipynb"'
    nb = nbformat.reads(response.content.decode(), as_version=4)
    nbformat.validate(nb)
    assert [c.cell_type for c in nb.cells] == ["markdown", "code", "code", "code"]
    assert nb.cells[2].outputs == [{"output_type": "stream", "name": "stdout", "text": "done"}]
    assert nb.cells[3].outputs[0]["ename"] == "AnalysisException" and nb.cells[3].execution_count == 2
    assert nb.cells[1].metadata["tags"] == ["parameters"]
    again = ipynb.read_ipynb(response.content)
    assert [(c.kind, c.source) for c in again.cells] == [(c.kind, c.source) for c in selectors.cells_of(notebook)]


def test_py_export_is_percent_format(owner_client, cast):
    notebook = _with_outputs(cast.owner)
    response = owner_client.get(reverse("livy:notebook_py", args=[notebook.pk]))
    assert response["Content-Disposition"] == 'attachment; filename="Sales-Q4-2026.py"'
    text = response.content.decode()
    assert "# %% [markdown]\n# # Sales\n" in text and '# %% language="sql"\n# SELECT count(*) AS n FROM t' in text
    cells = jupytext.reads(text, fmt="py:percent").cells
    assert [c.cell_type for c in cells] == ["markdown", "code", "code", "code"]
    assert cells[3].source == "%%sql\nSELECT count(*) AS n FROM t"


# ------------------------------------------------------------------------------ sharing
def test_the_owner_shares_with_groups(owner_client, cast, client):
    notebook = mixed_notebook(cast.owner)
    form = owner_client.get(reverse("livy:notebook_share", args=[notebook.pk])).content.decode()
    assert f'value="{cast.viewers.pk}"' in form and "Administrators" in form
    response = owner_client.post(reverse("livy:notebook_share", args=[notebook.pk]), {"group": [cast.viewers.pk]},
                                 follow=True)
    assert "Shared read-only with Viewers." in _messages(response)
    assert "shared read-only with Viewers" in response.content.decode()
    owner_client.post(reverse("livy:notebook_share", args=[notebook.pk]), {})
    assert not notebook.shared_with.exists()


# ---------------------------------------------------------------------------------- JSON
def test_notebook_json_shape(owner_client, cast):
    notebook = _with_outputs(cast.owner)
    Cell.objects.filter(notebook=notebook, position=0).update(source="# Sales <script>x()</script>")
    data = owner_client.get(reverse("livy:notebook_json", args=[notebook.pk])).json()
    assert {k: data[k] for k in ("id", "title", "version", "owner", "can_edit", "can_run", "shared_with")} == {
        "id": notebook.pk, "title": "Sales: Q4/2026", "version": 1, "owner": "erin", "can_edit": True,
        "can_run": True, "shared_with": []}
    assert data["urls"]["save"] == reverse("livy:notebook_save", args=[notebook.pk])
    md, params, code, sql = data["cells"]
    assert md["kind"] == "markdown" and "<script" not in md["html"] and md["html"].startswith("<h1>Sales")
    assert params == {"id": params["id"], "position": 1, "kind": "pyspark", "source": "regions = 3",
                      "is_parameters": True, "html": None, "last_statement": None}
    assert code["last_statement"]["state"] == "available" and code["last_statement"]["execution_count"] == 1
    assert sql["last_statement"]["error_name"] == "AnalysisException"
    assert set(sql["last_statement"]) == {"id", "state", "kind", "session_id", "is_terminal", "progress",
                                          "execution_count", "created_at", "started_at", "completed_at",
                                          "duration_seconds", "error_name", "error_value"}


def _save(client, notebook, body, **extra):
    return client.post(reverse("livy:notebook_save", args=[notebook.pk]), json.dumps(body),
                       content_type="application/json", **extra)


def test_save_returns_the_new_version_and_new_cell_ids(owner_client, cast):
    notebook = mixed_notebook(cast.owner)
    cells = [{"id": c.pk, "kind": c.kind, "source": c.source, "is_parameters": c.is_parameters}
             for c in selectors.cells_of(notebook)]
    cells.insert(1, {"id": None, "kind": "sql", "source": "SELECT 2"})
    response = _save(owner_client, notebook, {"version": 1, "cells": cells[::-1], "title": "Reordered"})
    assert response.status_code == 200
    data = response.json()
    assert data["version"] == 2 and data["title"] == "Reordered"
    assert [c["source"] for c in data["cells"]][::-1] == [c["source"] for c in cells]
    assert all(isinstance(c["id"], int) for c in data["cells"])


def test_a_stale_save_is_409_with_the_current_notebook(owner_client, cast):
    notebook = mixed_notebook(cast.owner)
    cells = [{"id": c.pk, "kind": c.kind, "source": c.source} for c in selectors.cells_of(notebook)]
    first = _save(owner_client, notebook, {"version": 1, "cells": [dict(cells[0], source="tab A")] + cells[1:]})
    assert first.status_code == 200
    second = _save(owner_client, notebook, {"version": 1, "cells": [dict(cells[0], source="tab B")] + cells[1:]})
    assert second.status_code == 409
    data = second.json()
    assert data["error"] == "conflict" and "another tab" in data["message"]
    assert data["notebook"]["version"] == 2 and data["notebook"]["cells"][0]["source"] == "tab A"
    assert selectors.cells_of(notebook)[0].source == "tab A"


@pytest.mark.parametrize("body,message", [
    ("not json", "The body is not valid JSON."),
    (json.dumps([1]), "The body must be a JSON object."),
    (json.dumps({"cells": []}), "\"version\" must be"),
    (json.dumps({"version": 1}), "\"cells\" must be"),
    (json.dumps({"version": 1, "cells": [{"id": "x", "kind": "sql"}]}), "Cell 1: \"id\" must be"),
    (json.dumps({"version": 1, "cells": [{"id": None, "kind": "cobol", "source": ""}]}), "unknown kind 'cobol'"),
])
def test_a_bad_save_is_400_and_changes_nothing(owner_client, cast, body, message):
    notebook = mixed_notebook(cast.owner)
    response = owner_client.post(reverse("livy:notebook_save", args=[notebook.pk]), body,
                                 content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"] == "invalid" and message in response.json()["message"]
    assert Notebook.objects.get(pk=notebook.pk).version == 1 and notebook.cells.count() == 4


def test_the_read_page_renders_markdown_and_outputs(owner_client, cast):
    notebook = _with_outputs(cast.owner)
    body = owner_client.get(reverse("livy:notebook_detail", args=[notebook.pk])).content.decode()
    assert "<h1>Sales</h1>" in body and "<p>Counts per region.</p>" in body
    assert '<pre class="out-text">done</pre>' in body
    assert "AnalysisException" in body and "parameters" in body


def test_a_save_over_the_upload_limit_is_413(owner_client, cast, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    notebook = mixed_notebook(cast.owner)
    response = _save(owner_client, notebook, {"version": 1, "cells": [{"id": None, "kind": "pyspark",
                                                                       "source": "x" * 2000}]})
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert notebook.cells.count() == 4
