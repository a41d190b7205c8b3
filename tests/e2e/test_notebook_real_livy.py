"""The notebook in headless Chromium against the real local Apache Livy (scripts/livy/livy.sh).

One Livy session serves the whole module (a start takes 15-20 s on two cores): the fixture
creates it on Livy and each test gives its user a session row for it, as the notebook would
have after a first Run. Statements therefore share variables across tests, as they would in
one user's notebook. The local Livy's Python has matplotlib (scripts/livy/requirements-spark.txt)
for ``%matplot``.
"""

from __future__ import annotations

import os
import re
import time

import pytest
import requests
from playwright.sync_api import expect

from livy.models import SparkSession, Statement
from livy.remote.backends import ApacheLivyBackend
from livy.remote.client import LivyClient
from livy.remote.errors import LivyError
from livy.remote.states import SessionState
from livy.remote.types import SessionSpec
from tests.e2e.notebook_helpers import (
    STATEMENTS,
    csp_violations,
    run_code,
    type_code,
    wait_finished,
    wait_js,
    watch_csp,
)
from tests.support.polling import wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.livy, pytest.mark.django_db(transaction=True)]

#: Seconds a statement may take on the local Livy (the first SQL one starts its interpreter).
STATEMENT_TIMEOUT = 120_000
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def shared_livy_session(real_livy):
    """One Livy session for the module: (base URL, Livy id, name). Deleted at the end."""
    client = LivyClient(ApacheLivyBackend(real_livy), timeout=30)
    name = f"{os.environ['LIVY_SESSION_NAME_PREFIX']}e2e-{time.strftime('%Y%m%d-%H%M%S')}-{time.monotonic_ns() % 1_000_000}"
    livy = client.create_session(SessionSpec(name=name, kind="pyspark"))
    try:
        wait_for(lambda: client.get_session(livy.id).state is SessionState.IDLE or
                 client.get_session(livy.id).state.is_terminal, timeout=240, interval=1, what="the session to start")
        assert client.get_session(livy.id).state is SessionState.IDLE, "the shared Livy session did not start"
        yield real_livy, livy.id, name
    finally:
        try:
            client.delete_session(livy.id)
        except LivyError:
            pass


@pytest.fixture
def nb(page, sign_in, settings, shared_livy_session):
    """A signed-in editor whose notebook uses the shared Livy session; checks the page's CSP."""
    url, livy_id, name = shared_livy_session
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_BASE_ENDPOINT": url})
    watch_csp(page)
    user = sign_in(page)
    SparkSession.objects.create(owner=user, backend="apache", endpoint=url, livy_id=livy_id, name=name,
                                state="idle", active=True)
    page.reload()
    expect(page.locator("#session-state")).to_have_text("idle")
    expect(page.locator("html")).to_have_attribute("data-notebook-ready", "true")
    page.user = user
    page.livy = (url, livy_id, name)
    yield page
    assert csp_violations(page) == []


def _run(page, code, kind=None):
    stmt = run_code(page, code, kind)
    expect(stmt).to_have_attribute("data-open", "0", timeout=STATEMENT_TIMEOUT)
    return stmt


def test_basics_sum_group_by_error_table_state_and_a_second_visit(nb, browser, live_server):
    stmt = _run(nb, 'spark.range(100).selectExpr("sum(id)").show()')
    expect(stmt.locator(".out-text")).to_contain_text("4950")
    expect(stmt.locator(".badge")).to_have_text("available")

    stmt = _run(nb, "from pyspark.sql import functions as F\n"
                    "spark.range(10).groupBy((F.col('id') % 2).alias('parity')).count().orderBy('parity').show()")
    expect(stmt.locator(".out-text")).to_contain_text("|parity|count|")
    assert re.search(r"\|\s+0\|\s+5\|\s+\|\s+1\|\s+5\|", stmt.locator(".out-text").inner_text().replace("\n", " "))

    stmt = _run(nb, "1/0")
    expect(stmt.locator(".ename")).to_have_text("ZeroDivisionError")
    expect(stmt.locator(".evalue")).to_have_text("division by zero")
    expect(stmt.locator("details.traceback-details")).to_have_attribute("open", "")
    expect(stmt.locator(".traceback")).to_contain_text("Traceback (most recent call last)")

    _run(nb, "rows = [{'n': i, 'square': i * i} for i in range(5)]")
    stmt = _run(nb, "%table rows")
    expect(stmt.locator("thead th")).to_have_count(2)
    expect(stmt.locator("tbody tr").nth(4).locator("td.num").nth(1)).to_have_text("16")

    _run(nb, "x = 41")
    stmt = _run(nb, "x + 1")
    expect(stmt.locator(".out-text")).to_have_text("42")

    # A second visit (another browser, same user) uses the same Livy session: x is still there.
    url, livy_id, name = nb.livy
    other = browser.new_context(viewport={"width": 1280, "height": 900})
    second = other.new_page()
    watch_csp(second)
    second.goto(f"{live_server.url}/accounts/login/")
    second.fill("#id_username", nb.user.get_username())
    second.fill("#id_password", PASSWORD)
    second.click("button[type=submit]")
    second.wait_for_url(f"{live_server.url}/")
    expect(second.locator(STATEMENTS)).to_have_count(7)
    again = _run(second, "x + 1")
    expect(again.locator(".out-text")).to_have_text("42")
    assert csp_violations(second) == []
    other.close()
    row = SparkSession.objects.get(owner=nb.user, active=True)
    assert row.livy_id == livy_id and SparkSession.objects.filter(owner=nb.user).count() == 1
    listed = requests.get(f"{url}/sessions", params={"from": 0, "size": 1000}, timeout=10).json()["sessions"]
    assert [s["id"] for s in listed if s["name"] == name] == [int(livy_id)]


def test_matplot_shows_the_plot_as_an_image(nb):
    _run(nb, "import matplotlib.pyplot as plt\nplt.figure(figsize=(4, 3))\nplt.plot([1, 4, 9, 16])")
    stmt = _run(nb, "%matplot plt")
    image = stmt.locator("img.out-image")
    expect(image).to_have_attribute("src", re.compile(r"^data:image/png;base64,iVBORw0KGgo"))
    width = nb.evaluate("el => el.complete ? el.naturalWidth : 0", image.element_handle())
    assert width >= 200  # a decoded picture, not a broken image


def test_sql_renders_a_table_with_the_right_values_and_column_types(nb):
    stmt = _run(nb, "SELECT id, id * 2 AS twice, CAST(NULL AS STRING) AS nothing, 'v' || id AS label, "
                    "CAST(id AS DECIMAL(5,2)) / 4 AS quarter FROM range(3)", kind="sql")
    expect(stmt.locator(".kind")).to_have_text("SQL")
    heads = stmt.locator("thead th")
    assert [heads.nth(i).locator(".col-name").inner_text() for i in range(5)] == ["id", "twice", "nothing", "label", "quarter"]
    assert [heads.nth(i).locator(".col-type").inner_text() for i in range(4)] == ["long", "long", "string", "string"]
    assert heads.nth(4).locator(".col-type").inner_text().startswith("decimal(")
    last = stmt.locator("tbody tr").nth(2).locator("td")
    assert [last.nth(i).inner_text() for i in range(5)] == ["2", "4", "null", "v2", "0.5"]
    expect(last.nth(0)).to_have_class("num")
    expect(last.nth(2)).to_have_class("null")
    expect(stmt.locator(".row-count")).to_have_text("Showing 3 of 3 rows")


def test_table_magic_shows_the_first_rows_and_its_csv_holds_every_row(nb):
    _run(nb, "squares = [{'n': i, 'square': i * i, 'name': 'row %d' % i} for i in range(150)]")
    stmt = _run(nb, "%table squares")
    expect(stmt.locator(".row-count")).to_have_text("Showing 100 of 150 rows")
    expect(stmt.locator("tbody tr")).to_have_count(100)
    with nb.expect_download() as info:
        stmt.get_by_role("link", name="Download CSV").click()
    lines = open(info.value.path(), encoding="utf-8").read().splitlines()
    assert lines[0] == "n,name,square" and len(lines) == 151 and lines[150] == "149,row 149,22201"


def test_a_chart_appears_for_a_numeric_column(nb):
    _run(nb, "sales = [{'city': c, 'amount': a} for c, a in [('Lyon', 12.5), ('Nice', 7.25), ('Metz', 3.0)]]")
    stmt = _run(nb, "%table sales")
    stmt.get_by_role("button", name="Chart").click()
    canvas = stmt.locator(".chart-panel canvas")
    expect(canvas).to_be_visible()
    expect(stmt.locator("[data-chart-x]")).to_have_value("1")  # city, the text column
    assert nb.evaluate("el => Chart.getChart(el).data.datasets[0].data", canvas.element_handle()) == [12.5, 7.25, 3.0]
    canvas.scroll_into_view_if_needed()


def test_a_10_mb_output_is_cut_with_a_download_of_all_and_the_page_stays_responsive(nb, live_server, capsys):
    stmt = _run(nb, "print('\\n'.join('line %09d of a big output' % i for i in range(400_000)))")
    link = stmt.get_by_role("link", name=re.compile(r"Download the whole output \(\d+\.\d MB\)"))
    expect(link).to_be_visible()
    with nb.expect_download() as info:
        link.click()
    text = open(info.value.path(), encoding="utf-8").read()
    assert len(text.encode()) >= 10_000_000
    assert text.startswith("line 000000000 of a big output\n") and "line 000399999 of a big output" in text
    nb.goto(f"{live_server.url}/")
    expect(nb.locator("html")).to_have_attribute("data-notebook-ready", "true")
    timing = nb.evaluate("""() => {
        const nav = performance.getEntriesByType("navigation")[0];
        return {ready: LivyNotebook.readyAt, load: nav.loadEventEnd, bytes: nav.transferSize || nav.encodedBodySize};
    }""")
    with capsys.disabled():
        print(f"\n[figures] real Livy, notebook with a {len(text.encode()) / 1e6:.1f} MB output: interactive after "
              f"{timing['ready']:.0f} ms (load {timing['load']:.0f} ms), page {timing['bytes']:,} bytes")
    # The page carries the cut text, not the whole output (times are printed above, not asserted).
    assert timing["bytes"] < 1_000_000
    type_code(nb, "x = 1")  # the editor still takes input


def test_completion_offers_range_after_spark_ran(nb):
    # Apache Livy 0.9 completes Scala only (its Python and SQL interpreters answer no candidates).
    nb.select_option("#id_kind", "spark")
    type_code(nb, "")
    nb.keyboard.type("spark.ran")
    options = nb.locator(".cm-tooltip-autocomplete li")
    expect(options.filter(has_text=re.compile("^range$"))).to_have_count(1, timeout=20_000)
    nb.wait_for_timeout(120)  # the editor ignores Enter for 75 ms after the list opens (by design)
    options.filter(has_text=re.compile("^range$")).click()
    expect(nb.locator("#id_code")).to_have_value("spark.range")


def test_a_multi_stage_job_shows_a_progress_bar_then_its_result(nb):
    stmt = run_code(nb, "import time\n"
                        "sc.parallelize(range(8), 8).map(lambda x: (time.sleep(1.5), (x % 2, x))[1])"
                        ".reduceByKey(lambda a, b: a + b).sortByKey().collect()")
    bar = stmt.locator("progress.stmt-progress")
    expect(bar).to_be_visible(timeout=STATEMENT_TIMEOUT)
    pk = stmt.get_attribute("id")
    wait_js(nb, f"Number((document.querySelector('#{pk} progress') || {{}}).value) > 0", timeout=60,
            what="the progress bar to move")
    nb.screenshot(path="test-artifacts/real_livy_progress_bar.png", full_page=True)
    expect(stmt.locator(".out-text")).to_have_text("[(0, 12), (1, 16)]", timeout=STATEMENT_TIMEOUT)
    expect(bar).to_have_count(0)


def test_ctrl_enter_twice_fast_sends_one_statement(nb):
    url, livy_id, _ = nb.livy
    client = LivyClient(ApacheLivyBackend(url), timeout=30)
    before = len(client.list_statements(livy_id))
    type_code(nb, "twice = 'once'\ntwice")
    nb.keyboard.press("Control+Enter")
    nb.keyboard.press("Control+Enter")
    expect(nb.locator(STATEMENTS)).to_have_count(1)
    stmt = wait_finished(nb, timeout=STATEMENT_TIMEOUT)
    expect(stmt.locator(".out-text")).to_have_text("'once'")
    assert nb.locator(STATEMENTS).count() == 1 and Statement.objects.count() == 1
    assert len(client.list_statements(livy_id)) == before + 1
