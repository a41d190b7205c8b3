"""What the notebook tests do in the page: type into the editor, run, wait for statements,
and watch for Content-Security-Policy violations. No sleeps: Playwright's expect and
tests.support.polling wait for states with a deadline."""

from __future__ import annotations

from playwright.sync_api import Page, expect

#: Collects the page's CSP violations into ``window.__cspViolations`` (init scripts run before
#: the page's own and are not subject to its CSP).
CSP_WATCH = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " " + (e.blockedURI || "") + " " + (e.sourceFile || "") + ":" + e.lineNumber);
});
"""


def watch_csp(page: Page) -> None:
    page.add_init_script(CSP_WATCH)


def csp_violations(page: Page) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def editor(page: Page):
    """The CodeMirror editor's content element (the textarea #id_code is hidden under it)."""
    return page.locator("#run-form .cm-content")


def type_code(page: Page, code: str) -> None:
    """Replace the editor's text with ``code``, as typing (or pasting) it would."""
    box = editor(page)
    box.click()
    page.keyboard.press("Control+A")
    if code:
        page.keyboard.insert_text(code)
    else:
        page.keyboard.press("Delete")
    expect(page.locator("#id_code")).to_have_value(code)


STATEMENTS = "#statements > li.statement"


def run_code(page: Page, code: str, kind: str | None = None, timeout: float = 30_000):
    """Pick ``kind`` (pyspark, sql, spark), type ``code``, press Ctrl+Enter, wait for the new
    statement to be on the page and return a locator of it (by its id, so it stays the same
    statement when more are added)."""
    if kind:
        page.select_option("#id_kind", kind)
    type_code(page, code)
    before = page.locator(STATEMENTS).count()
    page.keyboard.press("Control+Enter")
    expect(page.locator(STATEMENTS)).to_have_count(before + 1, timeout=timeout)
    return last_statement(page)


def last_statement(page: Page):
    """The newest statement on the page now, as a locator by id."""
    return page.locator("#" + page.locator(STATEMENTS).last.get_attribute("id"))


def wait_finished(page: Page, timeout: float = 30_000):
    """Wait until the newest statement is finished (data-open="0") and return it."""
    stmt = last_statement(page)
    expect(stmt).to_have_attribute("data-open", "0", timeout=timeout)
    return stmt


def wait_js(page: Page, expression: str, timeout: float = 20.0, what: str = ""):
    """Poll a JavaScript expression until it is truthy (page.wait_for_function would need eval,
    which the page's CSP forbids)."""
    from tests.support.polling import wait_for

    return wait_for(lambda: page.evaluate(expression), timeout=timeout, interval=0.05, what=what or expression)
