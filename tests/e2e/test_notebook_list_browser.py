"""The notebook list in headless Chromium: new notebook, rename, save a copy, delete with its
confirmation, import of a sparkmagic .ipynb (and of a broken file), under the app's CSP.
Screenshots of the list (desktop and phone) land in test-artifacts/."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from livy.models import Notebook
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.notebook_helpers import csp_violations, watch_csp

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "notebooks"


def _row(page, title: str):
    return page.locator("tr[data-notebook]", has=page.locator(".nb-title a", has_text=title))


def test_notebook_list_create_rename_copy_delete_import(page, sign_in, live_server, browser):
    watch_csp(page)
    sign_in(page)
    page.get_by_role("link", name="Notebooks", exact=True).click()
    expect(page.get_by_role("heading", name="Notebooks")).to_be_visible()
    expect(page.locator(".nb-list")).to_contain_text("No notebooks yet.")

    page.get_by_role("button", name="New notebook").click()
    expect(page.get_by_role("heading", name="Untitled notebook")).to_be_visible()
    page.get_by_role("link", name="← Notebooks").click()
    row = _row(page, "Untitled notebook")
    expect(row.locator('td[data-label="Cells"]')).to_have_text("1")

    row.locator("summary", has_text="Rename").click()
    row.get_by_label("New title").fill("Q4 sales")
    row.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Renamed to “Q4 sales”.")
    expect(_row(page, "Q4 sales")).to_have_count(1)

    _row(page, "Q4 sales").get_by_role("button", name="Save a copy").click()
    expect(page.locator(".messages")).to_contain_text("Saved a copy: “Copy of Q4 sales”.")
    expect(page.locator("tr[data-notebook]")).to_have_count(2)

    _row(page, "Copy of Q4 sales").get_by_role("link", name="Delete").click()
    expect(page.get_by_role("heading", name="Delete this notebook?")).to_be_visible()
    expect(page.locator(".nb-confirm")).to_contain_text("Copy of Q4 sales")
    page.get_by_role("button", name="Delete notebook").click()
    expect(page.locator(".messages")).to_contain_text("Deleted “Copy of Q4 sales”.")
    expect(page.locator("tr[data-notebook]")).to_have_count(1)

    # A broken file: the reason, and nothing imported.
    page.set_input_files("#import-file", files=[{"name": "broken.ipynb", "mimeType": "application/json",
                                                  "buffer": b"{ this is not json"}])
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator("#import-error")).to_contain_text("broken.ipynb: This file is not a notebook: it is not "
                                                          "valid JSON (line 1, column 3).")
    expect(page.locator("tr[data-notebook]")).to_have_count(1)

    page.set_input_files("#import-file", str(FIXTURES / "sparkmagic.ipynb"))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.get_by_role("heading", name="Sales by region")).to_be_visible()  # its markdown, rendered
    expect(page.locator(".messages")).to_contain_text("Imported “sparkmagic”: 7 cells.")
    expect(page.locator(".messages")).to_contain_text("%%local is not supported here")
    expect(page.locator('.nb-cell[data-kind="sql"]')).to_have_count(1)  # the owner's notebook page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "notebook-imported-page.png"), full_page=True)
    page.get_by_role("link", name="← Notebooks").click()
    expect(_row(page, "sparkmagic").locator('td[data-label="Cells"]')).to_have_text("7")
    assert sorted(Notebook.objects.values_list("title", flat=True)) == ["Q4 sales", "sparkmagic"]

    with page.expect_download() as download:
        _row(page, "sparkmagic").get_by_role("link", name=".ipynb").click()
    assert download.value.suggested_filename == "sparkmagic.ipynb"

    page.screenshot(path=str(ARTIFACTS / "notebook-list-desktop.png"), full_page=True)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                has_touch=True, storage_state=page.context.storage_state())
    try:
        mobile = phone.new_page()
        watch_csp(mobile)
        mobile.goto(f"{live_server.url}/notebooks/")
        expect(mobile.locator("tr[data-notebook]")).to_have_count(2)
        _row(mobile, "Q4 sales").locator("summary", has_text="Rename").click()
        width = mobile.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the list scrolls sideways on a phone ({width} px)"
        mobile.screenshot(path=str(ARTIFACTS / "notebook-list-phone.png"), full_page=True)
        assert csp_violations(mobile) == []
    finally:
        phone.close()
    assert csp_violations(page) == []
