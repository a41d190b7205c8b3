"""The Jobs page's upload limits in headless Chromium: a file over the limit is caught before
it is sent (the form and what was typed stay), and a browser that sends it anyway gets the
form page back with the server's message, the body unread (livy/uploads.py)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from livy.models import Batch, Notebook
from tests.e2e.notebook_helpers import csp_violations, watch_csp

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def small_limit(settings, tmp_path):
    settings.CONFIG = settings.CONFIG.model_copy(update={
        "LIVY_BATCH_UPLOAD_DIR": str(tmp_path / "uploads"), "LIVY_BATCH_MAX_UPLOAD_BYTES": 4096,
    })
    return tmp_path / "uploads"


def test_an_oversize_upload_is_caught_before_sending_and_refused_unread(page, sign_in, live_server, small_limit,
                                                                        tmp_path):
    big = tmp_path / "big_job.py"
    big.write_bytes(b"#" * (2 * 1024 * 1024))  # over the 4 KB limit and over the request limit (~1 MB)
    watch_csp(page)
    sign_in(page)
    page.goto(f"{live_server.url}/jobs/new/")
    page.fill("input[name=label]", "typed by hand")
    page.set_input_files("input[name=file_upload]", str(big))
    page.click("#submit-job")
    expect(page.locator("#upload-check")).to_have_text(
        "big_job.py is larger than 4 KB: job files of up to 4 KB each, at most 10 at once, are accepted.")
    assert page.url == f"{live_server.url}/jobs/new/"
    expect(page.locator("input[name=label]")).to_have_value("typed by hand")
    # Sent anyway (form.submit() skips the page's check): the server refuses it unread.
    page.evaluate("document.getElementById('job-form').submit()")
    expect(page.locator(".messages")).to_contain_text("Nothing was received or stored.", timeout=20_000)
    assert not Batch.objects.exists()
    assert not small_limit.exists() or not any(p.is_file() for p in small_limit.rglob("*"))
    assert csp_violations(page) == []


def test_a_3_mb_notebook_imports_from_the_list_page(page, sign_in, live_server, tmp_path, settings):
    """The import page declares NOTEBOOK_MAX_IMPORT_BYTES: a file over the limit of URLs that
    declare none (DATA_UPLOAD_MAX_MEMORY_SIZE) still imports (its outputs are not kept)."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.metadata["title"] = "Large export"
    cell = nbformat.v4.new_code_cell("print('big')")
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="z" * (3 * 1024 * 1024))]
    nb.cells = [cell]
    path = tmp_path / "large.ipynb"
    path.write_text(nbformat.writes(nb))
    assert path.stat().st_size > 3 * 1024 * 1024 > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    watch_csp(page)
    sign_in(page)
    page.goto(f"{live_server.url}/notebooks/")
    page.set_input_files("#import-file", str(path))
    page.get_by_role("button", name="Import", exact=True).click()
    expect(page.locator(".messages")).to_contain_text("Imported \u201cLarge export\u201d: 1 cells.", timeout=20_000)
    assert Notebook.objects.get().title == "Large export"
    assert csp_violations(page) == []
