"""Rendering of Livy outputs by MIME type."""

from livy.output import MAX_TABLE_ROWS, TABLE_MIME, render_parts


def test_livy_table_becomes_headers_and_rows():
    data = {"headers": [{"name": "id", "type": "BIGINT_TYPE"}, {"name": "name", "type": "STRING_TYPE"}],
            "data": [[1, "a"], [2, None]]}
    (part,) = render_parts({"status": "ok", "data": {TABLE_MIME: data, "text/plain": "ignored"}})
    assert part.kind == "table" and part.headers == ["id", "name"] and part.rows == [["1", "a"], ["2", "null"]]


def test_big_table_is_cut_and_counted():
    data = {"headers": [{"name": "n"}], "data": [[i] for i in range(MAX_TABLE_ROWS + 5)]}
    (part,) = render_parts({"status": "ok", "data": {TABLE_MIME: data}})
    assert len(part.rows) == MAX_TABLE_ROWS and part.hidden_rows == 5


def test_png_becomes_data_uri_and_bad_base64_falls_back_to_text():
    (img,) = render_parts({"status": "ok", "data": {"image/png": "iVBORw0KGgo=\n", "text/plain": "<Figure>"}})
    assert img.kind == "image" and img.src == "data:image/png;base64,iVBORw0KGgo="
    (text,) = render_parts({"status": "ok", "data": {"image/png": "not base64!", "text/plain": "<Figure>"}})
    assert text.kind == "text" and text.text == "<Figure>"


def test_json_is_pretty_printed():
    (part,) = render_parts({"status": "ok", "data": {"application/json": {"a": [1, 2]}}})
    assert part.kind == "text" and '"a": [' in part.text


def test_error_output_has_no_parts():
    assert render_parts({"status": "error", "ename": "E", "evalue": "v", "traceback": []}) == []
    assert render_parts(None) == []
