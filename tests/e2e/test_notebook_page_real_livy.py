"""The notebook page in headless Chromium against the real local Apache Livy
(scripts/livy/livy.sh): a notebook of a PySpark, a Spark SQL and a markdown cell made in the
page, Run all from no session (the cells queue while it starts), reload and the outputs are
there; reorder and run again; a failing cell stops Run all; the .ipynb export validates with
nbformat. The Livy session the page started is deleted at the end."""

from __future__ import annotations

import json

import nbformat
import pytest
from playwright.sync_api import expect

from livy.models import Cell, Notebook, SparkSession
from livy.remote.backends import ApacheLivyBackend
from livy.remote.client import LivyClient
from livy.remote.errors import LivyError
from tests.e2e.notebook_helpers import csp_violations, watch_csp

pytestmark = [pytest.mark.e2e, pytest.mark.livy, pytest.mark.django_db(transaction=True)]
CELLS = "#nb-cells > li.nb-cell"
#: A Run all from no session: the session starts (15-40 s on two shared cores), then the cells run.
RUN_TIMEOUT = 240_000

PYSPARK = "df = spark.range(5).selectExpr('id', 'id * 2 AS twice')\ndf.createOrReplaceTempView('nums')\nprint(df.count())"
SQL = "SELECT sum(twice) AS total FROM nums"
MARKDOWN = "# Numbers\nTwice the ids."


def _type(page, index, code):
    page.locator(CELLS).nth(index).locator(".cm-content").click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(code)


def _saved(page):
    expect(page.locator("#nb-save-state")).to_have_text("Saved", timeout=15_000)


def _ready(page):
    expect(page.locator("html")).to_have_attribute("data-notebook-ready", "true")


def test_notebook_page_on_real_livy(page, sign_in, settings, real_livy, live_server):
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_BASE_ENDPOINT": real_livy})
    watch_csp(page)
    user = sign_in(page)
    try:
        page.get_by_role("link", name="Notebooks", exact=True).click()
        page.get_by_role("button", name="New notebook").click()
        _ready(page)
        notebook = Notebook.objects.get(owner=user)
        _type(page, 0, PYSPARK)
        page.locator(CELLS).nth(0).locator('[data-act="add-below"]').click()
        page.locator(CELLS).nth(1).locator("[data-kind-picker]").select_option("sql")
        _type(page, 1, SQL)
        page.get_by_role("button", name="Add cell").click()
        page.locator(CELLS).nth(2).locator("[data-kind-picker]").select_option("markdown")
        page.locator(CELLS).nth(2).locator("textarea[data-source]").fill(MARKDOWN)
        page.locator(CELLS).nth(2).locator("textarea[data-source]").press("Shift+Enter")
        expect(page.locator(CELLS).nth(2).locator("[data-rendered] h1")).to_have_text("Numbers", timeout=15_000)
        _saved(page)
        # Shift+Enter on the last cell made a new empty one: delete it.
        if page.locator(CELLS).count() == 4:
            page.locator(CELLS).nth(3).locator('[data-act="delete"]').click()
            _saved(page)

        page.get_by_role("button", name="Run all").click()
        expect(page.locator(CELLS).nth(1).locator(".result-table")).to_contain_text("20", timeout=RUN_TIMEOUT)
        expect(page.locator(CELLS).nth(0).locator(".nb-output")).to_contain_text("5")
        expect(page.locator("#nb-session")).to_contain_text("runs this notebook")

        page.reload()
        _ready(page)
        expect(page.locator(CELLS).nth(0).locator(".nb-output")).to_contain_text("5")
        expect(page.locator(CELLS).nth(1).locator(".result-table")).to_contain_text("total")
        expect(page.locator(CELLS).nth(2).locator("[data-rendered] h1")).to_have_text("Numbers")

        # Reorder: the markdown cell first; run all again.
        page.locator(CELLS).nth(2).locator('[data-act="up"]').click()
        page.locator(CELLS).nth(1).locator('[data-act="up"]').click()
        _saved(page)
        assert [c.kind for c in Cell.objects.filter(notebook=notebook).order_by("position")] == \
            ["markdown", "pyspark", "sql"]
        before = page.locator(CELLS).nth(2).get_attribute("data-key")
        page.get_by_role("button", name="Run all").click()
        expect(page.locator(CELLS).nth(2)).not_to_have_attribute("data-key", before or "", timeout=RUN_TIMEOUT)
        expect(page.locator(CELLS).nth(2).locator(".result-table")).to_contain_text("20", timeout=RUN_TIMEOUT)

        # A failing cell stops Run all: the cell after it is not run.
        page.get_by_role("button", name="Add cell").click()
        _type(page, 3, "1/0")
        page.get_by_role("button", name="Add cell").click()
        _type(page, 4, "print('after the failure')")
        _saved(page)
        page.get_by_role("button", name="Run all").click()
        expect(page.locator("#nb-run-notice")).to_have_text("Run all stopped: cell 4 failed.", timeout=RUN_TIMEOUT)
        expect(page.locator(CELLS).nth(3).locator(".nb-output")).to_contain_text("ZeroDivisionError")
        expect(page.locator(CELLS).nth(4).locator(".nb-output")).to_contain_text("Not run: cell 4 failed.")
        assert "after the failure" not in page.locator(CELLS).nth(4).locator(".nb-output").inner_text()

        with page.expect_download() as download:
            page.get_by_role("link", name="Export .ipynb").click()
        exported = nbformat.reads(open(download.value.path(), encoding="utf-8").read(), as_version=4)
        nbformat.validate(exported)
        assert [c.cell_type for c in exported.cells] == ["markdown", "code", "code", "code", "code"]
        assert exported.cells[2].source.endswith(SQL)
        assert any("20" in json.dumps(o) for o in exported.cells[2].outputs)
        assert csp_violations(page) == []
    finally:
        client = LivyClient(ApacheLivyBackend(real_livy), timeout=30)
        for row in SparkSession.objects.filter(owner=user).exclude(livy_id=""):
            try:
                client.delete_session(row.livy_id)
            except LivyError:
                pass
