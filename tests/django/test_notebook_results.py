"""How results look in the page and what the downloads hold: Spark SQL and ``%table`` results
as one table (types, right-aligned numbers, nulls, the first rows, a CSV of every row), big
text cut with a download of the whole, and the session exported as a ``.py`` file."""

from __future__ import annotations

import csv
import io
import re

import pytest
from django.urls import reverse

from livy.models import Statement
from livy.output import TABLE_MIME
from tests.support.livy_json import FAKE_SESSION_NAME, error_output, ok_output, session_row

pytestmark = pytest.mark.django_db

SQL = {"status": "ok", "execution_count": 1, "data": {"application/json": {
    "schema": {"type": "struct", "fields": [
        {"name": "city", "type": "string", "nullable": True, "metadata": {}},
        {"name": "people", "type": "long", "nullable": True, "metadata": {}},
        {"name": "share", "type": "decimal(5,2)", "nullable": True, "metadata": {}},
    ]},
    "data": [["Lyon", 522250, 1.5], ["Nice", None, 0.25], [None, 3, None]],
}}}


@pytest.fixture
def session(editor):
    return session_row(editor, state="killed", active=False)


def _stmt(session, code, output=None, **kw):
    kw.setdefault("state", "available")
    return Statement.objects.create(session=session, author=session.owner, code=code, output=output, **kw)


def _page(client) -> str:
    return client.get(reverse("livy:notebook")).content.decode()


def test_a_sql_result_is_a_table_with_types_numbers_right_and_nulls_marked(as_editor, session):
    _stmt(session, "SELECT * FROM cities", SQL, kind="sql")
    page = _page(as_editor)
    heads = re.findall(r'<th scope="col" data-type="([^"]+)"([^>]*)><span class="col-name">([^<]+)</span>', page)
    assert [(name, kind, "num" in rest) for kind, rest, name in heads] == [
        ("city", "string", False), ("people", "long", True), ("share", "decimal(5,2)", True)]
    assert '<td class="num">522250</td>' in page and "<td>Lyon</td>" in page
    assert '<td class="null num">null</td>' in page and '<td class="null">null</td>' in page
    assert "Showing 3 of 3 rows" in page and 'data-chart-toggle' in page


def test_a_big_table_shows_the_first_rows_and_the_csv_holds_all(as_editor, session, editor, other_editor, client):
    rows = [[i, f"name {i}", None if i % 7 == 0 else i * 1.5] for i in range(1, 1001)]
    table = {"headers": [{"name": "id", "type": "BIGINT_TYPE"}, {"name": "name", "type": "STRING_TYPE"},
                         {"name": "score", "type": "DOUBLE_TYPE"}], "data": rows}
    stmt = _stmt(session, "%table rows", {"status": "ok", "data": {TABLE_MIME: table}})
    page = _page(as_editor)
    assert "Showing 100 of 1000 rows" in page and "<td>name 100</td>" in page and "<td>name 101</td>" not in page
    response = as_editor.get(reverse("livy:statement_csv", args=[stmt.pk]))
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == f'attachment; filename="statement-{stmt.pk}.csv"'
    parsed = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert parsed[0] == ["id", "name", "score"] and len(parsed) == 1001
    assert parsed[7] == ["7", "name 7", ""] and parsed[1000] == ["1000", "name 1000", "1500.0"]
    # Only who may see the statement may download it.
    client.force_login(other_editor)
    assert client.get(reverse("livy:statement_csv", args=[stmt.pk])).status_code == 404


def test_big_text_is_cut_with_a_download_of_the_whole(as_editor, session, settings):
    text = "".join(f"row {i:08d}\n" for i in range(1_000_000))  # 13 MB
    stmt = _stmt(session, "print(rows)", ok_output(text))
    page = _page(as_editor)
    assert len(page.encode()) < 150_000
    assert "Download the whole output (12.4\xa0MB)" in page and "row 00000000" in page and "row 00900000" not in page
    response = as_editor.get(reverse("livy:statement_output", args=[stmt.pk]))
    assert response.content.decode() == text
    assert response["Content-Disposition"] == f'attachment; filename="statement-{stmt.pk}.txt"'
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_OUTPUT_INLINE_BYTES": 20_000_000})
    assert "Download the whole output" not in _page(as_editor)


def test_json_output_is_formatted_and_collapsible(as_editor, session):
    _stmt(session, "%json data", {"status": "ok", "data": {"application/json": {"b": [1, 2], "a": {"c": None}}}})
    page = _page(as_editor)
    assert '<details class="out-json" open><summary>JSON object, 2 keys</summary>' in page
    assert "&quot;b&quot;: [\n    1,\n    2\n  ]" in page


def test_matplot_image_is_shown(as_editor, session):
    png = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
    _stmt(session, "%matplot plt", {"status": "ok", "data": {"image/png": png, "text/plain": ""}})
    assert f'<img class="out-image" src="data:image/png;base64,{png}"' in _page(as_editor)


def test_only_the_newest_errors_traceback_is_open(as_editor, session):
    for code in ("1/0", "2/0"):
        _stmt(session, code, error_output("ZeroDivisionError", "division by zero", ["tb\n"]),
              error_name="ZeroDivisionError", error_value="division by zero", traceback=f"Traceback of {code}\n")
    page = _page(as_editor)
    assert page.count('<details class="traceback-details">') == 1
    assert page.count('<details class="traceback-details" open data-auto-open>') == 1
    assert page.index("Traceback of 1/0") < page.index("data-auto-open")


def test_export_the_session_as_a_python_file(as_editor, session):
    _stmt(session, "x = 41\nprint(x + 1)", ok_output("42\n"))
    _stmt(session, "SELECT * FROM cities", SQL, kind="sql")
    _stmt(session, 'val s = "scala"', ok_output("s: String = scala"), kind="spark")
    _stmt(session, "1/0", state="error", error_name="ZeroDivisionError", error_value="division by zero")
    page = as_editor.get(reverse("livy:session_detail", args=[session.pk])).content.decode()
    url = reverse("livy:export_session", args=[session.pk])
    assert f'href="{url}" download>Export as .py' in page
    response = as_editor.get(url)
    assert response["Content-Disposition"] == f'attachment; filename="{FAKE_SESSION_NAME}.py"'
    text = response.content.decode()
    assert "# [1] PySpark · available" in text and "x = 41\nprint(x + 1)\n# Output:\n# 42\n" in text
    assert 'spark.sql(r"""SELECT * FROM cities""").show()' in text and "# city | people | share" in text
    assert '# --- Scala ---\n# val s = "scala"\n# --- end of Scala ---' in text
    assert "# [4] PySpark · error" in text and "# ZeroDivisionError: division by zero" in text
    compile(text, "export.py", "exec")  # a valid Python file


def test_statements_are_numbered_by_their_position_in_the_session_everywhere(as_editor, session):
    for i in range(3):
        _stmt(session, f"step({i})", ok_output(str(i), count=i + 7))
    for page in (_page(as_editor), as_editor.get(reverse("livy:session_detail", args=[session.pk])).content.decode()):
        assert re.findall(r'class="stmt-number"[^>]*>\[(\d+)\]', page) == ["1", "2", "3"]
