"""The notebook in headless Chromium against a scripted HTTP fake of Apache Livy (``responses``
patches the live server thread's requests), for what a local Livy cannot produce on demand:
a statement stuck in ``cancelling``, a session Livy forgets, exact progress steps, a 10 MB
output, a ``%matplot`` image (matplotlib is not installed in the local Livy's Python).

Every page runs under the app's Content-Security-Policy (no inline script, no eval): each test
ends by checking the browser reported no violation.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field

import pytest
import responses
from playwright.sync_api import expect

from livy.models import SparkSession, Statement
from livy.output import TABLE_MIME
from tests.e2e.conftest import ARTIFACTS
from tests.e2e.notebook_helpers import (
    STATEMENTS,
    csp_violations,
    run_code,
    type_code,
    wait_finished,
    wait_js,
    watch_csp,
)
from tests.support.livy_json import LIVY, error_output, ok_output, session_json, statement_json

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
TEN_MB = "".join(f"line {i:09d} of a big output\n" for i in range(350_000))  # 10.5 MB


@dataclass
class Script:
    """How the fake runs one piece of code: ``reads`` GETs answered ``running`` (progress
    growing by ``step``) before ``output``; ``stuck`` statements never end and a cancel leaves
    them ``cancelling`` (Python code on the driver)."""

    output: dict | None = field(default_factory=lambda: ok_output("ok"))
    reads: int = 1
    step: float = 0.2
    stuck: bool = False


class ScriptedLivy:
    """Apache Livy's REST API for one session (id 0) whose statements follow :class:`Script`s."""

    def __init__(self, mock: responses.RequestsMock, scripts: dict[str, Script]):
        self.scripts = scripts
        self.start_reads = 2
        self.session_reads = 0
        self.statements: list[dict] = []
        self.gone = False
        self.creates = 0
        self.gate: threading.Event | None = None
        base = re.escape(LIVY)
        mock.add_callback("GET", f"{LIVY}/version", callback=lambda r: (200, {}, '{"version": "0.9.0-incubating"}'))
        mock.add_callback("POST", f"{LIVY}/sessions", callback=self._create)
        mock.add_callback("GET", re.compile(rf"{base}/sessions/0$"), callback=self._session)
        mock.add_callback("DELETE", re.compile(rf"{base}/sessions/0$"), callback=self._delete)
        mock.add_callback("POST", f"{LIVY}/sessions/0/statements", callback=self._submit)
        mock.add_callback("GET", re.compile(rf"{base}/sessions/0/statements/\d+$"), callback=self._statement)
        mock.add_callback("POST", re.compile(rf"{base}/sessions/0/statements/\d+/cancel$"), callback=self._cancel)
        mock.add_callback("POST", f"{LIVY}/sessions/0/completion", callback=self._complete)

    def _create(self, request):
        self.creates += 1
        self.gone = False
        self.session_reads = 0
        self.statements = []
        return 201, {}, json.dumps(session_json(0, "starting"))

    def _running(self) -> bool:
        return any(s["state"] in ("running", "cancelling") for s in self.statements)

    def _session(self, request):
        if self.gone:
            return 404, {}, '{"msg": "Session \'0\' not found."}'
        self.session_reads += 1
        state = "starting" if self.session_reads <= self.start_reads else ("busy" if self._running() else "idle")
        return 200, {}, json.dumps(session_json(0, state, app_id="local-1763790000000"))

    def _delete(self, request):
        self.gone = True
        return 200, {}, '{"msg": "deleted"}'

    def _submit(self, request):
        if self.gate is not None:
            self.gate.wait(20)
        body = json.loads(request.body)
        self.statements.append({"code": body["code"], "kind": body.get("kind"), "reads": 0, "state": "waiting"})
        return 201, {}, json.dumps(statement_json(len(self.statements) - 1, "waiting", body["code"]))

    def _statement(self, request):
        if self.gone:
            return 404, {}, '{"msg": "not found"}'
        sid = int(request.url.rsplit("/", 1)[1])
        stmt = self.statements[sid]
        script = self.scripts.get(stmt["code"], Script())
        stmt["reads"] += 1
        if stmt["state"] == "cancelling" and not script.stuck:
            stmt["state"] = "cancelled"
        if stmt["state"] in ("cancelling", "cancelled"):
            return 200, {}, json.dumps(statement_json(sid, stmt["state"], stmt["code"], progress=0.4))
        if script.stuck or stmt["reads"] <= script.reads:
            stmt["state"] = "running"
            progress = min(0.95, stmt["reads"] * script.step) if not script.stuck else 0.0
            return 200, {}, json.dumps(statement_json(sid, "running", stmt["code"], progress=progress))
        stmt["state"] = "available"
        return 200, {}, json.dumps(statement_json(sid, "available", stmt["code"], script.output, 1.0))

    def _cancel(self, request):
        self.statements[int(request.url.split("/")[-2])]["state"] = "cancelling"
        return 200, {}, '{"msg": "canceled"}'

    def _complete(self, request):
        body = json.loads(request.body)
        found = ["range", "read"] if body["code"][: body["cursor"]].endswith("spark.ran") else []
        return 200, {}, json.dumps({"candidates": found})


TABLE = {"status": "ok", "data": {TABLE_MIME: {
    "headers": [{"name": "city", "type": "STRING_TYPE"}, {"name": "people", "type": "INT_TYPE"}],
    "data": [["Lyon", 522], ["Nice", 342], ["Metz", None], ["Brest", 139]] * 40}}}

SCRIPTS = {
    "1+1": Script(ok_output("2")),
    "slow()": Script(ok_output("slow done"), reads=6, step=0.15),
    "long()": Script(ok_output("long done"), reads=10_000, step=0.0001),
    "import time; time.sleep(3600)": Script(stuck=True),
    "print(big)": Script(ok_output(TEN_MB)),
    "%table cities": Script(TABLE),
    "%matplot plt": Script({"status": "ok", "data": {"image/png": PNG, "text/plain": ""}}),
    "SELECT 1 AS one": Script({"status": "ok", "data": {"application/json": {
        "schema": {"type": "struct", "fields": [{"name": "one", "type": "integer", "nullable": False, "metadata": {}}]},
        "data": [[1]]}}}),
    "1/0": Script(error_output("ZeroDivisionError", "division by zero",
                               ["Traceback (most recent call last):\n", "ZeroDivisionError: division by zero\n"])),
}


@pytest.fixture
def livy(fake_session_names, settings):
    # A Run answers at once here (the wait for a quick result would hide the running state).
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_RUN_WAIT": 0.0, "LIVY_POLL_INTERVAL": 1.0})
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(re.compile(r"http://localhost:\d+"))
        yield ScriptedLivy(mock, SCRIPTS)


@pytest.fixture
def nb(page, sign_in, livy):
    """A signed-in editor at the notebook; checks, after the test, that the page's CSP saw no violation."""
    watch_csp(page)
    user = sign_in(page)
    page.user = user
    expect(page.locator("html")).to_have_attribute("data-notebook-ready", "true")
    yield page
    assert csp_violations(page) == []


def _start_session(page):
    page.get_by_role("button", name="Start session").click()
    expect(page.locator("#session-state")).to_have_text("idle", timeout=15_000)


# ------------------------------------------------------------------------------ the editor
def test_ctrl_enter_twice_sends_one_statement_and_the_button_says_running(nb, livy):
    _start_session(nb)
    livy.gate = threading.Event()  # Livy takes its time to accept the statement
    type_code(nb, "1+1")
    nb.keyboard.press("Control+Enter")
    nb.keyboard.press("Control+Enter")
    button = nb.locator("#run-button")
    expect(button).to_have_text("Running…")
    expect(button).to_have_attribute("aria-busy", "true")
    expect(button).to_be_disabled()
    livy.gate.set()
    expect(wait_finished(nb).locator(".out-text")).to_have_text("2")
    expect(button).to_have_text("Run")
    expect(button).not_to_have_attribute("aria-busy", "true")
    assert len(livy.statements) == 1 and Statement.objects.count() == 1


def test_draft_survives_a_reload_and_is_gone_after_sign_out(nb, live_server):
    nb.select_option("#id_kind", "sql")
    type_code(nb, "SELECT 'draft' AS kept")
    key = f"livy-draft-{nb.user.pk}"
    assert json.loads(nb.evaluate(f"localStorage.getItem('{key}')")) == {"code": "SELECT 'draft' AS kept", "kind": "sql"}
    nb.reload()
    expect(nb.locator("#id_code")).to_have_value("SELECT 'draft' AS kept")
    expect(nb.locator("#id_kind")).to_have_value("sql")
    expect(nb.locator("#run-form .cm-content")).to_contain_text("SELECT 'draft' AS kept")
    nb.evaluate("localStorage.setItem('livy-draft-999', 'another user')")
    nb.get_by_role("button", name="Sign out").click()
    nb.wait_for_url(re.compile(r".*/accounts/(signed-out|login)/.*"))
    assert nb.evaluate("Object.keys(localStorage).filter(k => k.startsWith('livy-draft-'))") == []
    # The login page clears drafts too (a draft written by a tab still open elsewhere).
    nb.evaluate(f"localStorage.setItem('{key}', 'left behind')")
    nb.goto(f"{live_server.url}/accounts/login/")
    assert nb.evaluate("Object.keys(localStorage).filter(k => k.startsWith('livy-draft-'))") == []


def test_shift_enter_runs_and_clears_and_copy_to_editor_brings_code_and_kind_back(nb, livy):
    run_code(nb, "SELECT 1 AS one", kind="sql")
    stmt = wait_finished(nb, timeout=20_000)
    expect(stmt.locator(".kind")).to_have_text("SQL")
    expect(stmt.locator("td.num")).to_have_text("1")
    nb.select_option("#id_kind", "pyspark")
    type_code(nb, "1+1")
    nb.keyboard.press("Shift+Enter")
    expect(nb.locator("#id_code")).to_have_value("")
    expect(nb.locator(STATEMENTS)).to_have_count(2)
    expect(wait_finished(nb).locator(".out-text")).to_have_text("2")
    nb.locator("#statements > li.statement").first.get_by_role("button", name="Copy to editor").click()
    expect(nb.locator("#id_code")).to_have_value("SELECT 1 AS one")
    expect(nb.locator("#id_kind")).to_have_value("sql")
    assert [s["kind"] for s in livy.statements] == ["sql", "pyspark"]


def test_completion_offers_livys_candidates_for_scala_only(nb, livy):
    _start_session(nb)
    asked = []
    nb.on("request", lambda r: asked.append(r.post_data) if r.url.endswith("/complete/") else None)
    nb.select_option("#id_kind", "spark")
    type_code(nb, "")
    nb.keyboard.type("spark.ran")
    options = nb.locator(".cm-tooltip-autocomplete li")
    expect(options.first).to_have_text("range")
    nb.wait_for_timeout(120)  # the editor ignores Enter for 75 ms after the list opens (by design)
    nb.keyboard.press("Enter")
    expect(nb.locator("#id_code")).to_have_value("spark.range")
    assert asked and "kind=spark" in asked[-1]
    count = len(asked)
    nb.select_option("#id_kind", "pyspark")  # Livy completes only Scala: the page does not ask
    type_code(nb, "")
    nb.keyboard.type("spark.ran")
    expect(nb.locator("#id_code")).to_have_value("spark.ran")
    expect(nb.locator(".cm-tooltip-autocomplete")).to_have_count(0)
    assert len(asked) == count


def test_a_completion_answer_after_leaving_the_editor_opens_no_popup(nb, livy):
    """Typing starts a completion request (after 250 ms); the user moves on before Livy answers:
    the answer opens no list in the editor they left (it would hang over the page)."""
    _start_session(nb)
    nb.select_option("#id_kind", "spark")
    type_code(nb, "")
    with nb.expect_response(lambda r: r.url.endswith("/complete/")):
        nb.keyboard.type("spark.ran")
        nb.locator("#id_kind").focus()  # leave the editor while the request is pending
    # Let the page apply the answer (a promise, then a render frame) before looking.
    nb.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
    expect(nb.locator(".cm-tooltip-autocomplete")).to_have_count(0)
    nb.locator("#run-form .cm-content").click()
    nb.keyboard.press("Control+Space")  # asked for again in the editor, it opens there
    expect(nb.locator(".cm-tooltip-autocomplete li").first).to_have_text("range")


def test_keyboard_alone_reaches_and_uses_the_run_button(nb, livy):
    nb.locator("#run-form .cm-content").click()
    nb.keyboard.insert_text("1+1")
    # Escape then Tab leaves the editor. The first Escape may only close the completion the
    # editor has pending for 250 ms after typing; the second arms Tab (as a user would retry).
    nb.keyboard.press("Escape")
    nb.keyboard.press("Escape")
    nb.keyboard.press("Tab")
    assert nb.evaluate("document.activeElement.id") == "run-button"
    outline = nb.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"
    nb.keyboard.press("Enter")
    expect(wait_finished(nb, timeout=20_000).locator(".out-text")).to_have_text("2")


# ------------------------------------------------------------------------------ polling
def _watch_polls(page):
    """Every poll the page makes, with whether another was in flight when it started."""
    seen = {"inflight": 0, "max": 0, "urls": []}

    def started(request):
        if "/live/" in request.url:
            seen["inflight"] += 1
            seen["max"] = max(seen["max"], seen["inflight"])
            seen["urls"].append(request.url)

    def ended(request):
        if "/live/" in request.url:
            seen["inflight"] -= 1

    page.on("request", started)
    page.on("requestfinished", ended)
    page.on("requestfailed", ended)
    return seen


def test_polling_is_adaptive_stops_when_done_and_never_overlaps(nb, livy):
    seen = _watch_polls(nb)
    run_code(nb, "slow()")  # the session starts: the queued statement goes out with POSTs
    stmt = wait_finished(nb, timeout=30_000)
    expect(stmt.locator(".out-text")).to_have_text("slow done")
    assert any(url.endswith("/live/dispatch/") for url in seen["urls"])  # dispatching: POST
    assert any("/live/?open=" in url for url in seen["urls"])  # reading: GET with open and after
    expect(nb.locator("#live")).to_have_attribute("data-live", "false")
    assert nb.evaluate("LivyNotebook.poller.timer === null && LivyNotebook.poller.inflight === null")
    assert seen["max"] == 1
    # A GET poll asks for the unfinished statements and those after the newest on the page.
    pk = Statement.objects.get(code="slow()").pk
    assert any(f"open={pk}&after={pk}" in url for url in seen["urls"])


def test_polling_pauses_while_the_tab_is_hidden(nb, livy):
    stmt = run_code(nb, "long()")
    expect(stmt.locator("progress")).to_be_visible(timeout=20_000)
    nb.evaluate("""() => {
        Object.defineProperty(document, "visibilityState", {configurable: true, get: () => "hidden"});
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    wait_js(nb, "LivyNotebook.poller.timer === null && LivyNotebook.poller.inflight === null")
    paused_at = nb.evaluate("LivyNotebook.poller.polls")
    assert nb.evaluate("document.getElementById('live').dataset.live") == "true"  # still live, only paused
    nb.evaluate("""() => {
        delete document.visibilityState;
        document.dispatchEvent(new Event("visibilitychange"));
    }""")
    wait_js(nb, f"LivyNotebook.poller.polls > {paused_at}")
    stmt.get_by_role("button", name="Cancel").click()
    expect(stmt.locator(".badge")).to_have_text("cancelled", timeout=20_000)


def test_a_running_statement_keeps_its_height_and_the_progress_bar_gives_way_to_the_result(nb, livy):
    stmt = run_code(nb, "long()")
    bar = stmt.locator("progress")
    expect(bar).to_be_visible(timeout=20_000)
    nb.evaluate("""() => {
        window.__heights = [];
        const list = document.getElementById("statements");
        new MutationObserver(() => {
            const li = list.querySelector("li.statement:last-child");
            window.__heights.push([li.dataset.state, Math.round(li.getBoundingClientRect().height)]);
        }).observe(list, {childList: true, subtree: true, attributes: true});
    }""")
    wait_js(nb, "window.__heights.filter(h => h[0] === 'running').length >= 4")
    heights = {h for state, h in nb.evaluate("window.__heights") if state == "running"}
    assert len(heights) == 1, heights  # swapped in place, same height
    nb.screenshot(path=str(ARTIFACTS / "running_statement_with_progress.png"))
    stmt.get_by_role("button", name="Cancel").click()
    expect(stmt.locator(".badge")).to_have_text("cancelled", timeout=20_000)
    expect(stmt.locator("progress")).to_have_count(0)

    slow = run_code(nb, "slow()")
    expect(slow.locator("progress")).to_be_visible(timeout=20_000)
    wait_js(nb, "Number((document.querySelector('#statements > li.statement:last-child progress') || {}).value) > 0")
    expect(slow.locator(".out-text")).to_have_text("slow done", timeout=20_000)
    expect(slow.locator("progress")).to_have_count(0)


def test_python_that_cannot_be_cancelled_is_explained_and_the_session_restarts(nb, livy):
    stmt = run_code(nb, "import time; time.sleep(3600)")
    expect(stmt.locator(".badge")).to_have_text("running", timeout=20_000)
    expect(stmt.locator(".elapsed")).to_have_text(re.compile(r"^\d+ s$"))
    stmt.get_by_role("button", name="Cancel").click()
    expect(stmt.locator(".badge")).to_have_text("cancelling")
    note = stmt.locator(".cancelling-note")
    expect(note).to_contain_text("Python code running on the Spark driver cannot be interrupted")
    expect(note).to_contain_text("(about 30 s) and the session busy until the code ends")
    nb.screenshot(path=str(ARTIFACTS / "cancelling_statement_offers_restart.png"), full_page=True)
    old = SparkSession.objects.get(active=True)
    nb.once("dialog", lambda dialog: dialog.accept())
    note.get_by_role("button", name="Restart session").click()
    expect(nb.locator("#session-state")).to_have_text(re.compile("starting|not_started|idle"), timeout=15_000)
    expect(stmt.locator(".badge")).to_have_text("cancelled", timeout=15_000)
    old.refresh_from_db()
    new = SparkSession.objects.get(active=True)
    assert old.state == "killed" and not old.active and new.pk != old.pk and livy.creates == 2


def test_a_session_livy_forgot_keeps_its_statements_with_a_rerun(nb, livy):
    run_code(nb, "1+1")
    expect(wait_finished(nb, timeout=20_000).locator(".out-text")).to_have_text("2")
    livy.gone = True  # Livy restarted: it no longer knows the session
    nb.reload()
    expect(nb.locator("#session-state")).to_have_text("dead")
    expect(nb.locator("#session-bar")).to_contain_text("ended: its variables are gone")
    first = nb.locator("#statements > li.statement").first
    expect(first.locator(".out-text")).to_have_text("2")
    expect(first.get_by_role("button", name="Copy to editor")).to_be_visible()
    first.get_by_role("button", name="Re-run").click()
    divider = nb.locator(".session-divider")
    expect(divider).to_contain_text("ended (dead): its variables are gone")
    expect(divider).to_contain_text("New session")
    again = nb.locator("#statements > li.statement").last
    expect(again.locator(".stmt-number")).to_have_text("[1]")
    expect(again.locator(".out-text")).to_have_text("2", timeout=20_000)
    assert Statement.objects.filter(code="1+1").count() == 2


# ------------------------------------------------------------------------------ results
def test_a_table_has_types_a_csv_of_every_row_and_a_chart(nb, livy):
    run_code(nb, "%table cities")
    stmt = wait_finished(nb, timeout=20_000)
    table = stmt.locator("table.result-table")
    expect(table.locator("th").nth(1)).to_contain_text("people")
    expect(table.locator("th").nth(1).locator(".col-type")).to_have_text("int")
    expect(stmt.locator(".row-count")).to_have_text("Showing 100 of 160 rows")
    expect(table.locator("tbody tr").nth(2).locator("td").nth(1)).to_have_class("null num")
    with nb.expect_download() as info:
        stmt.get_by_role("link", name="Download CSV").click()
    lines = open(info.value.path(), encoding="utf-8").read().splitlines()
    assert lines[0] == "city,people" and len(lines) == 161 and lines[3] == "Metz,"
    stmt.get_by_role("button", name="Chart").click()
    canvas = stmt.locator(".chart-panel canvas")
    expect(canvas).to_be_visible()
    assert nb.evaluate("el => !!Chart.getChart(el)", canvas.element_handle())
    stmt.locator("[data-chart-type]").select_option("line")
    assert nb.evaluate("el => Chart.getChart(el).config.type", canvas.element_handle()) == "line"
    canvas.scroll_into_view_if_needed()
    nb.screenshot(path=str(ARTIFACTS / "table_with_chart.png"), full_page=True)


def test_matplot_shows_the_image(nb, livy):
    run_code(nb, "%matplot plt")
    image = wait_finished(nb, timeout=20_000).locator("img.out-image")
    expect(image).to_have_attribute("src", f"data:image/png;base64,{PNG}")
    assert nb.evaluate("el => el.naturalWidth", image.element_handle()) == 1


def test_an_error_shows_its_traceback_open_only_for_the_newest(nb, livy):
    run_code(nb, "1/0")
    first = wait_finished(nb, timeout=20_000)
    expect(first.locator("details.traceback-details")).to_have_attribute("open", "")
    run_code(nb, "1/0")
    second = wait_finished(nb, timeout=20_000)
    expect(second.locator("details.traceback-details")).to_have_attribute("open", "")
    expect(first.locator("details.traceback-details")).not_to_have_attribute("open", "")
    expect(second.locator(".traceback")).to_contain_text("ZeroDivisionError: division by zero")


def test_a_10_mb_output_is_cut_downloadable_and_the_page_stays_responsive(nb, livy, live_server, capsys):
    run_code(nb, "print(big)")
    stmt = wait_finished(nb, timeout=30_000)
    link = stmt.get_by_role("link", name=re.compile(r"Download the whole output \(10\.\d MB\)"))
    expect(link).to_be_visible()
    with nb.expect_download() as info:
        link.click()
    assert open(info.value.path(), encoding="utf-8").read() == TEN_MB
    # Time to interactive of the notebook with that output in it.
    nb.goto(f"{live_server.url}/")
    nb.wait_for_function("document.documentElement.dataset.notebookReady === 'true'")
    timing = nb.evaluate("""() => {
        const nav = performance.getEntriesByType("navigation")[0];
        return {ready: LivyNotebook.readyAt, dcl: nav.domContentLoadedEventEnd, load: nav.loadEventEnd,
                bytes: nav.transferSize || nav.encodedBodySize};
    }""")
    latency = nb.evaluate("""() => new Promise(resolve => {
        const start = performance.now();
        const box = document.querySelector("#run-form .cm-content");
        box.focus();
        document.execCommand("insertText", false, "x");
        requestAnimationFrame(() => resolve(performance.now() - start));
    })""")
    with capsys.disabled():
        print(f"\n[figures] notebook with a 10 MB output: interactive after {timing['ready']:.0f} ms "
              f"(DOMContentLoaded {timing['dcl']:.0f} ms, load {timing['load']:.0f} ms), "
              f"page {timing['bytes']:,} bytes; a keystroke paints after {latency:.0f} ms")
    # The page carries the cut text, not the whole output (times are printed above, not asserted).
    assert timing["bytes"] < 1_000_000


def test_the_session_bar_shows_starting_time_livy_version_and_links(nb, livy):
    livy.start_reads = 6
    nb.get_by_role("button", name="Start session").click()
    bar = nb.locator("#session-bar")
    expect(bar.locator("#session-state")).to_have_text(re.compile("starting|not_started"))
    expect(bar).to_contain_text("starting for")
    expect(nb.locator("#livy-status")).to_have_text("Livy 0.9.0-incubating at http://127.0.0.1:8998: reachable")
    expect(bar.locator("#session-state")).to_have_text("idle", timeout=20_000)
    expect(bar).to_contain_text("ready")
    expect(bar.locator(".start-took")).to_have_text(re.compile(r"took \d+ s to start"))
    expect(bar.get_by_role("link", name="Log")).to_be_visible()
    expect(bar.get_by_role("button", name="Stop session")).to_be_visible()


def test_phone_layout(browser, sign_in, livy, live_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    page = context.new_page()
    watch_csp(page)
    sign_in(page)
    run_code(page, "%table cities")
    wait_finished(page, timeout=20_000)
    run_code(page, "1/0")
    wait_finished(page, timeout=20_000)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing wider than the phone
    box = page.locator("#run-button").bounding_box()
    assert box["width"] >= 44 or box["height"] >= 30
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "test_phone_layout_390x844.png"), full_page=True)
    assert csp_violations(page) == []
    context.close()


# ------------------------------------------------------------------------------ cells
ADD_CELL = """() => {
    // A second cell, as the notebook page will render one per cell (frontend/src/app/cell.js).
    const form = document.createElement("form");
    form.id = "cell-2";
    form.method = "post";
    form.action = document.getElementById("run-form").getAttribute("action");
    form.setAttribute("data-draft-key", document.getElementById("run-form").dataset.draftKey + "-2");
    const token = document.createElement("input");
    token.type = "hidden"; token.name = "csrfmiddlewaretoken";
    token.value = document.querySelector("meta[name=csrf-token]").content;
    const scope = document.createElement("input");
    scope.type = "hidden"; scope.name = "scope"; scope.value = "notebook";
    const kind = document.getElementById("id_kind").cloneNode(true);
    kind.removeAttribute("id");
    const code = document.createElement("textarea");
    code.name = "code"; code.setAttribute("aria-label", "Code of cell 2");
    const run = document.createElement("button");
    run.type = "submit"; run.textContent = "Run";
    const outputs = document.createElement("ol");
    outputs.setAttribute("data-cell-outputs", "");
    form.append(token, scope, kind, code, run, outputs);
    document.getElementById("run-form").after(form);
    window.__changes = [];
    window.__cell2 = LivyNotebook.mount(form, {onChange: (source) => window.__changes.push(source)});
    return LivyNotebook.cells.length;
}"""


def test_two_cells_on_one_page_each_run_and_show_their_own_statements(nb, livy):
    assert nb.evaluate(ADD_CELL) == 2
    cell2 = nb.locator("#cell-2")
    cell2.locator(".cm-content").click()
    nb.keyboard.insert_text("slow()")
    assert nb.evaluate("window.__changes.at(-1)") == {"code": "slow()", "kind": "pyspark"}
    nb.keyboard.press("Control+Enter")  # the key runs the cell that has the focus
    own = cell2.locator("[data-cell-outputs] > li.statement")
    expect(own).to_have_count(1, timeout=20_000)
    expect(own.locator("progress")).to_be_visible(timeout=20_000)  # polled in place, in the cell
    expect(own.locator(".out-text")).to_have_text("slow done", timeout=20_000)
    expect(nb.locator(STATEMENTS)).to_have_count(0)  # not in the console's list
    # The console cell still runs into the page's list; the second cell's source is its own.
    run_code(nb, "1+1")
    expect(wait_finished(nb, timeout=20_000).locator(".out-text")).to_have_text("2")
    assert nb.evaluate("window.__cell2.getSource().code") == "slow()"
    nb.evaluate("window.__cell2.setSource('SELECT 1 AS one', 'sql')")
    expect(cell2.locator("select[name=kind]")).to_have_value("sql")
    expect(cell2.locator(".cm-content")).to_have_text("SELECT 1 AS one")
    nb.evaluate("window.__cell2.run()")
    expect(own).to_have_count(2, timeout=20_000)
    expect(own.last.locator("td.num")).to_have_text("1", timeout=20_000)
    assert [s["kind"] for s in livy.statements] == ["pyspark", "pyspark", "sql"]
    # destroy() gives the textarea back and leaves the page's cells; its statements stay.
    nb.evaluate("window.__cell2.destroy()")
    expect(cell2.locator(".cm-editor")).to_have_count(0)
    expect(cell2.locator("textarea")).to_be_visible()
    assert nb.evaluate("LivyNotebook.cells.length") == 1
    expect(own).to_have_count(2)
