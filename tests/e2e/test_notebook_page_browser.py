"""The notebook page in headless Chromium against an HTTP fake of Apache Livy (``responses`` in
the live server's thread): editing cells, autosave and reload, keyboard shortcuts, Run all
stopped by a failing cell, a conflict from a second tab, a save that fails and is retried, and
a local copy restored on reload. No sleeps: Playwright's expect waits with a deadline.
Screenshots (desktop and phone) land in test-artifacts/."""

from __future__ import annotations

import json
import re

import pytest
import responses
from playwright.sync_api import expect

from livy.models import Cell
from livy.notebooks import service
from livy.notebooks.ipynb import NotebookCell
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.notebook_helpers import csp_violations, watch_csp
from tests.e2e.test_notebook_browser import ZERO_DIV, FakeLivy
from tests.support.livy_json import ok_output, session_json

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
CELLS = "#nb-cells > li.nb-cell"


class EchoingLivy(FakeLivy):
    """:class:`FakeLivy` that echoes the session name it was given, as Livy does (whatever
    ``LIVY_TEST_SESSION_PREFIX`` names the sessions)."""

    name = "pytest-1"

    def _create(self, request):
        self.name = json.loads(request.body).get("name") or self.name
        return 201, {}, json.dumps(session_json(0, "starting", name=self.name))

    def _session(self, request):
        self.session_polls += 1
        state = "starting" if self.session_polls < 3 else "idle"
        return 200, {}, json.dumps(session_json(0, state, name=self.name))


@pytest.fixture
def fake_livy(fake_session_names):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(re.compile(r"http://localhost:\d+"))
        yield EchoingLivy(mock, {"a = 20": ok_output("", 1), "1/0": ZERO_DIV, "print(a + 1)": ok_output("21", 2),
                              "b = 1": ok_output("", 3)})


def _open(page, live_server, notebook):
    page.goto(f"{live_server.url}/notebooks/{notebook.pk}/")
    expect(page.locator("html")).to_have_attribute("data-notebook-ready", "true")


def _type(page, index, code):
    box = page.locator(CELLS).nth(index).locator(".cm-content")
    box.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(code)


def _saved(page):
    expect(page.locator("#nb-save-state")).to_have_text("Saved", timeout=15_000)


def _sources(notebook):
    return [(c.kind, c.source) for c in Cell.objects.filter(notebook=notebook).order_by("position")]


def test_edit_autosave_reload_shortcuts_and_run_all(page, sign_in, live_server, fake_livy, browser):
    watch_csp(page)
    user = sign_in(page)
    notebook = service.create(user, title="Forecast")
    _open(page, live_server, notebook)
    _type(page, 0, "a = 20")
    expect(page.locator("#nb-save-state")).to_have_text("Saving…")
    _saved(page)
    assert _sources(notebook) == [("pyspark", "a = 20")]

    # Shift+Enter runs the cell and moves to a new one at the end; Ctrl+Enter runs that one.
    page.keyboard.press("Shift+Enter")
    expect(page.locator(CELLS)).to_have_count(2)
    expect(page.locator(CELLS).nth(1).locator(".cm-content")).to_be_focused()
    page.keyboard.insert_text("print(a + 1)")
    page.keyboard.press("Control+Enter")
    expect(page.locator(CELLS).nth(1).locator(".nb-output")).to_contain_text("21", timeout=30_000)
    expect(page.locator(CELLS).nth(0).locator(".nb-output .badge")).to_have_text("available")

    # A markdown cell, added above the second one, rendered by the server after Shift+Enter.
    page.locator(CELLS).nth(1).locator('[data-act="add-above"]').click()
    expect(page.locator(CELLS)).to_have_count(3)
    page.locator(CELLS).nth(1).locator("[data-kind-picker]").select_option("markdown")
    page.locator(CELLS).nth(1).locator("textarea[data-source]").fill("# Forecast\nThe *sum*.")
    page.locator(CELLS).nth(1).locator("textarea[data-source]").press("Shift+Enter")
    expect(page.locator(CELLS).nth(1).locator("[data-rendered] h1")).to_have_text("Forecast", timeout=15_000)
    _saved(page)

    # A failing cell between them: Run all stops there and says so.
    page.locator(CELLS).nth(0).locator('[data-act="add-below"]').click()
    _type(page, 1, "1/0")
    _saved(page)
    assert [s for _, s in _sources(notebook)] == ["a = 20", "1/0", "# Forecast\nThe *sum*.", "print(a + 1)"]
    expect(page.locator("#nb-meta-count")).to_have_text("4 cells")  # the header follows the saves
    page.get_by_role("button", name="Run all").click()
    expect(page.locator("#nb-run-notice")).to_have_text("Run all stopped: cell 2 failed.", timeout=30_000)
    expect(page.locator(CELLS).nth(1).locator(".nb-output")).to_contain_text("ZeroDivisionError")
    expect(page.locator(CELLS).nth(3).locator(".nb-output")).to_contain_text("Not run: cell 2 failed.")
    assert [s["code"] for s in fake_livy.statements].count("print(a + 1)") == 1  # not run again

    # Move the failing cell to the end and delete it; reload: the order and outputs stay.
    page.locator(CELLS).nth(1).locator('[data-act="down"]').click()
    page.locator(CELLS).nth(2).locator('[data-act="down"]').click()
    _saved(page)
    assert [s for _, s in _sources(notebook)][-1] == "1/0"
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(CELLS).nth(3).locator('[data-act="delete"]').click()
    _saved(page)
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-notebook-ready", "true")
    expect(page.locator(CELLS)).to_have_count(3)
    expect(page.locator(CELLS).nth(1).locator("[data-rendered] h1")).to_have_text("Forecast")
    expect(page.locator(CELLS).nth(2).locator(".cm-content")).to_have_text("print(a + 1)")
    expect(page.locator(CELLS).nth(2).locator(".nb-output")).to_contain_text("Not run: cell 2 failed.")
    expect(page.locator("#nb-session")).to_contain_text("runs this notebook")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "notebook-page-desktop.png"), full_page=True)
    phone = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True,
                                storage_state=page.context.storage_state())
    small = phone.new_page()
    _open(small, live_server, notebook)
    expect(small.get_by_role("button", name="Run all")).to_be_visible()
    width = small.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the phone layout scrolls sideways ({width}px)"
    small.screenshot(path=str(ARTIFACTS / "notebook-page-phone.png"), full_page=True)
    phone.close()
    assert csp_violations(page) == []


def test_a_second_tab_conflict_is_shown_and_the_user_chooses(page, sign_in, live_server):
    watch_csp(page)
    user = sign_in(page)
    notebook = service.create(user, title="Shared edits", cells=[NotebookCell("pyspark", "x = 1")])
    _open(page, live_server, notebook)
    other = page.context.new_page()
    _open(other, live_server, notebook)
    _type(page, 0, "x = 'from tab A'")
    _saved(page)
    _type(other, 0, "x = 'from tab B'")
    conflict = other.locator("#nb-conflict")
    expect(conflict).to_be_visible(timeout=15_000)
    expect(conflict.locator('[data-conflict="theirs"]')).to_contain_text("from tab A")
    expect(conflict.locator('[data-conflict="yours"]')).to_contain_text("from tab B")
    expect(other.locator("#nb-save-state")).to_contain_text("Not saved")
    assert _sources(notebook) == [("pyspark", "x = 'from tab A'")]  # the last writer did not silently win
    other.get_by_role("button", name="Keep mine (save over theirs)").click()
    _saved(other)
    assert _sources(notebook) == [("pyspark", "x = 'from tab B'")]
    # Tab A, editing again, now conflicts and reloads theirs.
    _type(page, 0, "x = 'A again'")
    expect(page.locator("#nb-conflict")).to_be_visible(timeout=15_000)
    page.get_by_role("button", name="Reload theirs").click()
    expect(page.locator(CELLS).nth(0).locator(".cm-content")).to_have_text("x = 'from tab B'")
    _saved(page)
    assert csp_violations(page) == [] and csp_violations(other) == []


def test_a_failed_save_is_retried_and_the_local_copy_survives_a_reload(page, sign_in, live_server):
    watch_csp(page)
    user = sign_in(page)
    notebook = service.create(user, title="Flaky", cells=[NotebookCell("pyspark", "")])
    _open(page, live_server, notebook)
    save_url = re.compile(rf".*/notebooks/{notebook.pk}/save/$")
    page.route(save_url, lambda route: route.abort("connectionrefused"))
    _type(page, 0, "kept = True")
    expect(page.locator("#nb-save-state")).to_have_text(re.compile(r"^Not saved: .*\(retrying\)$"), timeout=15_000)
    draft = page.evaluate(f"localStorage.getItem('livy-draft-{user.pk}-notebook-{notebook.pk}')")
    assert draft and "kept = True" in draft
    assert _sources(notebook) == [("pyspark", "")]
    # Reloaded while the server never got it: the local copy comes back and is saved.
    page.unroute(save_url)
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-notebook-ready", "true")
    expect(page.locator(CELLS).nth(0).locator(".cm-content")).to_have_text("kept = True")
    _saved(page)
    assert _sources(notebook) == [("pyspark", "kept = True")]
    assert page.evaluate(f"localStorage.getItem('livy-draft-{user.pk}-notebook-{notebook.pk}')") is None
    # And a network error followed by the network coming back: retried until saved.
    page.route(save_url, lambda route: route.abort("connectionrefused"))
    _type(page, 0, "kept = 2")
    expect(page.locator("#nb-save-state")).to_contain_text("retrying", timeout=15_000)
    page.unroute(save_url)
    _saved(page)
    assert _sources(notebook) == [("pyspark", "kept = 2")]
    assert csp_violations(page) == []
