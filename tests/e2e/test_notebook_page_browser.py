"""The notebook page in headless Chromium against an HTTP fake of Apache Livy (``responses`` in
the live server's thread): editing cells, autosave and reload, keyboard shortcuts, Run all
stopped by a failing cell, a conflict from a second tab, a save that fails and is retried, a
local copy restored on reload, a sign-in that expired (the Django session, or the Microsoft token
as livy/middleware.py answers it) with the edit kept through signing in again, a Run whose
answer is lost, two tabs' local copies, and "Reload theirs" bringing outputs back. No sleeps:
Playwright's expect waits with a deadline.
Screenshots (desktop and phone) land in test-artifacts/."""

from __future__ import annotations

import json
import re

import pytest
import responses
from django.contrib.sessions.models import Session
from django.test import RequestFactory
from playwright.sync_api import expect

from livy.middleware import sign_in_again
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


def _draft_key(page):
    """This tab's local copy's key (``livy-draft-<user>-notebook-<id>-tab-<tab id>``)."""
    return page.evaluate("window.LivyNotebook.notebookPage.state().draftKey")


def _drafts(page):
    """Every local copy in the browser, as {key: value}."""
    return page.evaluate("Object.fromEntries(Object.entries(localStorage).filter(([k]) => k.startsWith('livy-draft-')))")


def _sign_in_form(page, username="erin"):
    page.fill("#id_username", username)
    page.fill("#id_password", "correct horse battery")
    page.click("button[type=submit]")


SIGNED_OUT = "Signed out: sign in again, your edits are kept in this browser"


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
    key = _draft_key(page)
    assert key.startswith(f"livy-draft-{user.pk}-notebook-{notebook.pk}-tab-")
    draft = page.evaluate(f"localStorage.getItem('{key}')")
    assert draft and "kept = True" in draft
    assert _sources(notebook) == [("pyspark", "")]
    # Reloaded while the server never got it: the local copy comes back and is saved.
    page.unroute(save_url)
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-notebook-ready", "true")
    expect(page.locator(CELLS).nth(0).locator(".cm-content")).to_have_text("kept = True")
    _saved(page)
    assert _sources(notebook) == [("pyspark", "kept = True")]
    assert _draft_key(page) == key  # the same tab: the same copy
    assert _drafts(page) == {}
    # And a network error followed by the network coming back: retried until saved.
    page.route(save_url, lambda route: route.abort("connectionrefused"))
    _type(page, 0, "kept = 2")
    expect(page.locator("#nb-save-state")).to_contain_text("retrying", timeout=15_000)
    page.unroute(save_url)
    _saved(page)
    assert _sources(notebook) == [("pyspark", "kept = 2")]
    assert csp_violations(page) == []


def test_an_expired_session_keeps_the_edit_through_signing_in_again(page, sign_in, live_server):
    watch_csp(page)
    user = sign_in(page)
    notebook = service.create(user, title="Expiring", cells=[NotebookCell("pyspark", "x = 1")])
    _open(page, live_server, notebook)
    Session.objects.all().delete()  # the Django session expired: login_required answers its redirect
    _type(page, 0, "x = 'typed after expiry'")
    expect(page.locator("#nb-save-state")).to_have_text(SIGNED_OUT, timeout=15_000)
    expect(page.locator("#nb-error")).to_contain_text("your edits are kept in this browser")
    assert _sources(notebook) == [("pyspark", "x = 1")]
    # The sign-in page (signed out, but not by the Sign out button) keeps the local copy.
    page.get_by_role("link", name="Sign in again").click()
    page.wait_for_url(re.compile(rf".*/accounts/login/\?next=%2Fnotebooks%2F{notebook.pk}%2F$"))
    expect(page.locator("html")).to_have_attribute("data-notebook-ready", "true")
    assert any("typed after expiry" in v for v in _drafts(page).values())
    _sign_in_form(page)
    page.wait_for_url(f"{live_server.url}/notebooks/{notebook.pk}/")
    expect(page.locator("html")).to_have_attribute("data-notebook-ready", "true")
    expect(page.locator(CELLS).nth(0).locator(".cm-content")).to_have_text("x = 'typed after expiry'")
    _saved(page)
    assert _sources(notebook) == [("pyspark", "x = 'typed after expiry'")]
    assert _drafts(page) == {}
    assert csp_violations(page) == []


def test_a_sign_in_answer_to_a_poll_keeps_the_edit_and_comes_back(page, sign_in, live_server, fake_livy):
    """The Microsoft token expired during a run: livy/middleware.py answers the page's poll
    (a fetch with X-Livy-Fragment) with 204 and X-Livy-Redirect; the page writes its copy,
    goes to sign in, and is back with the edit once signed in."""
    watch_csp(page)
    user = sign_in(page)
    notebook = service.create(user, title="Token", cells=[NotebookCell("pyspark", "spin()"),
                                                          NotebookCell("pyspark", "")])
    _open(page, live_server, notebook)
    page.locator(CELLS).nth(0).locator('[data-act="run"]').click()  # runs until told otherwise
    expect(page.locator(CELLS).nth(0).locator(".nb-output .badge")).to_have_text("running", timeout=30_000)
    save_url = re.compile(rf".*/notebooks/{notebook.pk}/save/$")
    page.route(save_url, lambda route: route.abort("connectionrefused"))
    _type(page, 1, "kept = 'over sign-in'")
    expect(page.locator("#nb-save-state")).to_contain_text("retrying", timeout=15_000)
    seen = []

    def token_expired(route):
        request = route.request
        seen.append(request.headers)
        django_request = RequestFactory().post(request.url, data=request.post_data or "", content_type="application/json",
                                               headers={k: v for k, v in request.headers.items() if k.startswith("x-livy")})
        answer = sign_in_again(django_request)
        route.fulfill(status=answer.status_code, headers={k: v for k, v in answer.items()})

    page.route(re.compile(rf".*/notebooks/{notebook.pk}/poll/$"), token_expired)
    page.wait_for_url(re.compile(rf".*/accounts/login/\?next=%2Fnotebooks%2F{notebook.pk}%2F$"), timeout=15_000)
    assert seen[0]["x-livy-fragment"] == "1" and seen[0]["x-livy-page"].endswith(f"/notebooks/{notebook.pk}/")
    page.unroute_all()
    assert _sources(notebook)[1] == ("pyspark", "")
    _sign_in_form(page)
    page.wait_for_url(f"{live_server.url}/notebooks/{notebook.pk}/")
    expect(page.locator(CELLS).nth(1).locator(".cm-content")).to_have_text("kept = 'over sign-in'")
    _saved(page)
    assert _sources(notebook)[1] == ("pyspark", "kept = 'over sign-in'")
    assert csp_violations(page) == []


def test_a_run_whose_answer_is_lost_shows_the_outputs_of_the_run_that_started(page, sign_in, live_server, fake_livy):
    watch_csp(page)
    user = sign_in(page)
    notebook = service.create(user, title="Lost answer", cells=[NotebookCell("pyspark", "a = 20"),
                                                                NotebookCell("pyspark", "print(a + 1)")])
    _open(page, live_server, notebook)
    lost = []

    def lose_the_answer(route):
        route.fetch(timeout=30_000)  # the server gets the Run and starts it ...
        lost.append(route.request.url)
        route.abort("connectionreset")  # ... and the answer never reaches the page

    page.route(re.compile(rf".*/notebooks/{notebook.pk}/run/$"), lose_the_answer)
    page.get_by_role("button", name="Run all").click()
    expect(page.locator("#nb-error")).to_contain_text("the run may have started", timeout=15_000)
    expect(page.locator(CELLS).nth(1).locator(".nb-output")).to_contain_text("21", timeout=30_000)
    expect(page.locator(CELLS).nth(0).locator(".nb-output .badge")).to_have_text("available")
    assert len(lost) == 1
    assert [s["code"] for s in fake_livy.statements] == ["a = 20", "print(a + 1)"]
    assert csp_violations(page) == []


def test_one_tabs_save_never_deletes_another_tabs_unsaved_copy(page, sign_in, live_server):
    watch_csp(page)
    user = sign_in(page)
    notebook = service.create(user, title="Two tabs", cells=[NotebookCell("pyspark", "x = 1"),
                                                             NotebookCell("pyspark", "y = 1")])
    _open(page, live_server, notebook)
    other = page.context.new_page()
    _open(other, live_server, notebook)
    assert _draft_key(page) != _draft_key(other)
    other.route(re.compile(rf".*/notebooks/{notebook.pk}/save/$"), lambda route: route.abort("connectionrefused"))
    _type(other, 1, "y = 'from tab B'")
    expect(other.locator("#nb-save-state")).to_contain_text("retrying", timeout=15_000)
    _type(page, 0, "x = 'from tab A'")
    _saved(page)
    assert _sources(notebook) == [("pyspark", "x = 'from tab A'"), ("pyspark", "y = 1")]
    drafts = _drafts(page)
    assert list(drafts) == [_draft_key(other)] and "from tab B" in drafts[_draft_key(other)]
    # Tab B goes away before its save got through: the notebook opened in a new tab brings B's
    # text back, and shows what tab A saved meanwhile.
    other.on("dialog", lambda dialog: dialog.accept())
    other.close(run_before_unload=True)
    third = page.context.new_page()
    _open(third, live_server, notebook)
    conflict = third.locator("#nb-conflict")
    expect(conflict).to_be_visible(timeout=15_000)
    expect(conflict.locator('[data-conflict="yours"]')).to_contain_text("from tab B")
    expect(conflict.locator('[data-conflict="theirs"]')).to_contain_text("from tab A")
    assert csp_violations(page) == [] and csp_violations(third) == []


def test_reload_theirs_brings_the_outputs_back(page, sign_in, live_server, fake_livy):
    watch_csp(page)
    user = sign_in(page)
    notebook = service.create(user, title="Theirs", cells=[NotebookCell("pyspark", "print(a + 1)")])
    _open(page, live_server, notebook)
    other = page.context.new_page()
    _open(other, live_server, notebook)
    page.locator(CELLS).nth(0).locator('[data-act="run"]').click()
    expect(page.locator(CELLS).nth(0).locator(".nb-output")).to_contain_text("21", timeout=30_000)
    page.locator(CELLS).nth(0).locator('[data-act="add-below"]').click()
    _type(page, 1, "b = 1")
    _saved(page)
    _type(other, 0, "print('mine')")
    expect(other.locator("#nb-conflict")).to_be_visible(timeout=15_000)
    other.get_by_role("button", name="Reload theirs").click()
    expect(other.locator(CELLS)).to_have_count(2)
    expect(other.locator(CELLS).nth(0).locator(".cm-content")).to_have_text("print(a + 1)")
    expect(other.locator(CELLS).nth(0).locator(".nb-output")).to_contain_text("21", timeout=15_000)
    expect(other.locator(CELLS).nth(0).locator(".nb-output .badge")).to_have_text("available")
    _saved(other)
    assert csp_violations(page) == [] and csp_violations(other) == []
