"""The notebook in a real headless Chromium: sign in, run code, see the result appear
without a reload.

``test_run_code_on_real_livy`` runs against the real local Apache Livy. The other tests
drive the same page against a stateful HTTP-level fake of Livy's REST API (``responses``
patches the requests the live server thread sends), to pin what the page does on each
outcome: results, errors with tracebacks, cancel, and Livy being down.
"""

from __future__ import annotations

import json
import re

import pytest
import responses
from playwright.sync_api import expect

from tests.support.livy_json import LIVY, error_output, ok_output, refused, session_json, statement_json

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOW_4950 = "+-----+\n|total|\n+-----+\n| 4950|\n+-----+\n"
ZERO_DIV = error_output(
    "ZeroDivisionError", "division by zero",
    ["Traceback (most recent call last):\n", '  File "<stdin>", line 1, in <module>\n',
     "ZeroDivisionError: division by zero\n"],
)


class FakeLivy:
    """Apache Livy's REST API for one session: it starts, becomes idle after a few polls,
    and each statement runs for a poll or two before its scripted output is available."""

    def __init__(self, mock: responses.RequestsMock, outputs: dict[str, dict]):
        self.outputs = outputs
        self.session_polls = 0
        self.statements: list[dict] = []
        self.cancelled: set[int] = set()
        base = re.escape(LIVY)
        mock.add_callback("POST", f"{LIVY}/sessions", callback=self._create)
        mock.add_callback("GET", re.compile(rf"{base}/sessions/0$"), callback=self._session)
        mock.add_callback("POST", f"{LIVY}/sessions/0/statements", callback=self._submit)
        mock.add_callback("GET", re.compile(rf"{base}/sessions/0/statements/\d+$"), callback=self._statement)
        mock.add_callback("POST", re.compile(rf"{base}/sessions/0/statements/\d+/cancel$"), callback=self._cancel)
        mock.add_callback("DELETE", f"{LIVY}/sessions/0", callback=lambda r: (200, {}, '{"msg": "deleted"}'))

    def _create(self, request):
        return 201, {}, json.dumps(session_json(0, "starting"))

    def _session(self, request):
        self.session_polls += 1
        state = "starting" if self.session_polls < 3 else "idle"
        return 200, {}, json.dumps(session_json(0, state, app_id="local-1763790000000"))

    def _submit(self, request):
        code = json.loads(request.body)["code"]
        self.statements.append({"code": code, "polls": 0})
        return 201, {}, json.dumps(statement_json(len(self.statements) - 1, "waiting", code))

    def _statement(self, request):
        sid = int(request.url.rsplit("/", 1)[1])
        stmt = self.statements[sid]
        stmt["polls"] += 1
        if sid in self.cancelled:
            return 200, {}, json.dumps(statement_json(sid, "cancelled", stmt["code"]))
        output = self.outputs.get(stmt["code"])
        if output is None or stmt["polls"] < 2:
            return 200, {}, json.dumps(statement_json(sid, "running", stmt["code"], progress=0.5))
        return 200, {}, json.dumps(statement_json(sid, "available", stmt["code"], output, 1.0))

    def _cancel(self, request):
        self.cancelled.add(int(request.url.split("/")[-2]))
        return 200, {}, '{"msg": "canceled"}'


@pytest.fixture
def fake_livy(fake_session_names):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(re.compile(r"http://localhost:\d+"))
        yield FakeLivy(mock, {
            'spark.range(100).selectExpr("sum(id) AS total").show()': ok_output(SHOW_4950, 1),
            "1/0": ZERO_DIV,
        })


def _run(page, code):
    """Type ``code`` into the editor (CodeMirror, over the hidden #id_code) and press Ctrl+Enter."""
    from tests.e2e.notebook_helpers import run_code

    run_code(page, code)


def test_run_shows_result_and_error_without_reload(page, sign_in, fake_livy):
    sign_in(page)
    page.evaluate("window.__noReload = 'still here'")
    _run(page, 'spark.range(100).selectExpr("sum(id) AS total").show()')
    expect(page.locator("#session-state")).to_have_text("starting")
    result = page.locator(".statement").last
    expect(result.locator(".out-text")).to_contain_text("| 4950|", timeout=20_000)
    expect(page.locator("#session-state")).to_have_text("idle")

    _run(page, "1/0")
    error = page.locator(".statement").last.locator(".out-error")
    expect(error.locator(".ename")).to_have_text("ZeroDivisionError", timeout=20_000)
    expect(error.locator(".traceback")).to_contain_text("Traceback (most recent call last):")
    assert page.evaluate("window.__noReload") == "still here"  # the page never reloaded
    # Polling stops once everything is finished.
    expect(page.locator("#live")).to_have_attribute("data-live", "false", timeout=10_000)


def test_cancel_a_running_statement(page, sign_in, fake_livy):
    sign_in(page)
    _run(page, "import time; time.sleep(120)")
    stmt = page.locator(".statement").last
    expect(stmt.locator(".badge")).to_have_text("running", timeout=20_000)
    stmt.get_by_role("button", name="Cancel").click()
    expect(page.locator(".statement").last.locator(".badge")).to_have_text("cancelled", timeout=20_000)
    assert fake_livy.cancelled == {0}

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop session").click()
    expect(page.locator("#session-state")).to_have_text("killed", timeout=10_000)


def test_livy_down_shows_a_message_and_keeps_the_code(page, sign_in):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(re.compile(r"http://localhost:\d+"))
        mock.add("POST", f"{LIVY}/sessions", body=refused())
        sign_in(page)
        _run(page, "df = spark.range(10)")
        expect(page.locator(".notice-error")).to_contain_text("Your code was not run", timeout=10_000)
        expect(page.locator("#id_code")).to_have_value("df = spark.range(10)")
        # The draft survives a reload too (kept in the browser).
        page.reload()
        expect(page.locator("#id_code")).to_have_value("df = spark.range(10)")


@pytest.mark.livy
def test_run_code_on_real_livy(page, sign_in, real_livy, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_BASE_ENDPOINT": real_livy})
    sign_in(page)
    _run(page, 'spark.range(100).selectExpr("sum(id) AS total").show()')
    result = page.locator(".statement").last
    expect(result.locator(".out-text")).to_contain_text("| 4950|", timeout=240_000)
    _run(page, "1/0")
    error = page.locator(".statement").last.locator(".out-error")
    expect(error.locator(".ename")).to_have_text("ZeroDivisionError", timeout=120_000)
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Stop session").click()
    expect(page.locator("#session-state")).to_have_text("killed", timeout=60_000)
