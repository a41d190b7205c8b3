"""Rendering of Livy outputs by MIME type, and the whole-result downloads."""

from livy.export import output_summary_lines
from livy.output import (
    TABLE_MIME,
    full_text,
    render_parts,
    result_table,
    table_csv,
)

SQL_RESULT = {  # as Livy's SQLInterpreter writes it (schema from Spark's StructType.json)
    "schema": {"type": "struct", "fields": [
        {"name": "name", "type": "string", "nullable": True, "metadata": {}},
        {"name": "total", "type": "long", "nullable": True, "metadata": {}},
        {"name": "tags", "type": {"type": "array", "elementType": "string", "containsNull": True},
         "nullable": True, "metadata": {}},
    ]},
    "data": [["a", 1, ["x"]], ["b", None, []], [None, 3, None]],
}


def test_livy_table_becomes_columns_with_types_and_rows():
    data = {"headers": [{"name": "id", "type": "BIGINT_TYPE"}, {"name": "name", "type": "STRING_TYPE"}],
            "data": [[1, "a"], [2, None]]}
    (part,) = render_parts({"status": "ok", "data": {TABLE_MIME: data, "text/plain": "ignored"}}, table_rows=100)
    assert part.kind == "table"
    assert [(c.name, c.type_label, c.numeric) for c in part.columns] == [("id", "bigint", True), ("name", "string", False)]
    assert [[c.text for c in row] for row in part.rows] == [["1", "a"], ["2", "null"]]
    assert part.rows[1][1].null and part.rows[0][0].numeric and not part.rows[0][1].numeric
    assert part.chartable and part.total_rows == 2


def test_sql_result_is_the_same_table_component():
    (part,) = render_parts({"status": "ok", "data": {"application/json": SQL_RESULT}}, table_rows=100)
    assert part.kind == "table"
    assert [(c.name, c.type_label, c.numeric) for c in part.columns] == [
        ("name", "string", False), ("total", "long", True), ("tags", "array", False)]
    assert [c.text for c in part.rows[0]] == ["a", "1", '["x"]']
    assert part.rows[2][0].null and part.rows[1][1].null


def test_big_table_shows_the_first_rows_and_the_csv_has_all():
    data = {"headers": [{"name": "n", "type": "INT_TYPE"}, {"name": "s", "type": "STRING_TYPE"}],
            "data": [[i, f"v,{i}"] for i in range(250)] + [[None, None]]}
    output = {"status": "ok", "data": {TABLE_MIME: data}}
    (part,) = render_parts(output, table_rows=100)
    assert len(part.rows) == 100 and part.total_rows == 251 and part.hidden_rows == 151
    csv_text = "".join(table_csv(result_table(output)))
    lines = csv_text.splitlines()
    assert lines[0] == "n,s" and lines[1] == '0,"v,0"' and lines[250] == '249,"v,249"' and lines[251] == ","
    assert len(lines) == 252


def test_png_becomes_data_uri_and_bad_base64_falls_back_to_text():
    (img,) = render_parts({"status": "ok", "data": {"image/png": "iVBORw0KGgo=\n", "text/plain": "<Figure>"}})
    assert img.kind == "image" and img.src == "data:image/png;base64,iVBORw0KGgo="
    (text,) = render_parts({"status": "ok", "data": {"image/png": "not base64!", "text/plain": "<Figure>"}})
    assert text.kind == "text" and text.text == "<Figure>"


def test_json_is_pretty_printed_and_summarised():
    (part,) = render_parts({"status": "ok", "data": {"application/json": {"a": [1, 2], "b": None}}})
    assert part.kind == "json" and '"a": [' in part.text and part.summary == "JSON object, 2 keys"
    assert full_text({"status": "ok", "data": {"application/json": {"a": 1}}}) == ('{\n  "a": 1\n}', "json")


def test_big_text_is_cut_in_the_page_and_whole_in_the_download():
    text = "".join(f"line {i:07d} ünïcode\n" for i in range(200_000))  # > 4 MB
    output = {"status": "ok", "data": {"text/plain": text}}
    (part,) = render_parts(output, inline_bytes=100_000)
    assert part.truncated and part.total_bytes == len(text.encode()) and len(part.text.encode()) <= 100_000
    assert part.text.endswith("\n") and text.startswith(part.text)
    assert full_text(output) == (text, "txt")
    (small,) = render_parts({"status": "ok", "data": {"text/plain": "short"}}, inline_bytes=100_000)
    assert not small.truncated and small.text == "short"


def test_html_is_sanitised():
    (part,) = render_parts({"status": "ok", "data": {"text/html": "<b>x</b><script>alert(1)</script>"}})
    assert part.kind == "html" and "<b>x</b>" in part.html and "script" not in part.html


def test_error_output_has_no_parts_and_no_downloads():
    error = {"status": "error", "ename": "E", "evalue": "v", "traceback": []}
    assert render_parts(error) == [] and render_parts(None) == []
    assert result_table(error) is None and full_text(error) is None


def test_export_lines():
    assert output_summary_lines({"status": "ok", "data": {"application/json": SQL_RESULT}})[:2] == [
        "name | total | tags", 'a | 1 | ["x"]']
    lines = output_summary_lines({"status": "ok", "data": {"text/plain": "\n".join(map(str, range(100)))}}, 5)
    assert lines == ["0", "1", "2", "3", "4", "... 95 more lines"]


def test_a_failed_magic_is_shown_as_an_error_and_unknown_types_as_json():
    # What Livy 0.9 answers for `%matplot plt` when `plt` is not defined.
    data = {"msg_type": "execute_reply",
            "content": {"ename": "KeyError", "evalue": "'plt'", "traceback": ["KeyError: 'plt'\n"], "status": "error"}}
    (part,) = render_parts({"status": "ok", "data": data})
    assert part.kind == "error" and part.summary == "KeyError: 'plt'" and part.text == "KeyError: 'plt'\n"
    (other,) = render_parts({"status": "ok", "data": {"application/x-custom": [1]}})
    assert other.kind == "text" and '"application/x-custom"' in other.text
