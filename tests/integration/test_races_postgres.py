"""Races between gunicorn worker processes on PostgreSQL: one user presses Run in several
browsers at the same moment, then every page polls as notebook.js does.

The app runs as in production (gunicorn, 3 workers x 2 threads) in its own migrated database,
against a fake Apache Livy on a loopback port that counts what it is sent. Expected: one
session row, one Livy session, every statement sent exactly once, all results stored.

Runs only when DATABASE_URL names a PostgreSQL server (``scripts/test-postgres.sh``); the
test creates and drops its own database there (the role needs CREATEDB). DEBUG is on in the
served app only so that its cookies are not ``Secure`` over plain HTTP.
"""

from __future__ import annotations

import secrets
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.support.fake_livy_server import FakeLivyServer
from tests.support.polling import wait_for
from tests.support.served_app import Browser, app_environment, gunicorn, manage, postgres_url, throwaway_database

pytestmark = pytest.mark.skipif(
    postgres_url() is None,
    reason="needs PostgreSQL: set DATABASE_URL=postgres://... (scripts/test-postgres.sh starts one and does)",
)

WORKERS = 3
THREADS = 2
#: Run requests fired at once, each from its own signed-in browser.
RUNS = 8
TERMINAL = ("available", "error", "cancelled", "failed")
USERS = ("erin", "oscar")
CREATE_USERS = (
    "from django.contrib.auth.models import Group, User\n"
    f"for name in {USERS!r}:\n"
    "    User.objects.create_user(name, password='race-pw-' + name).groups.add(Group.objects.get(name='Editors'))\n"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """(app URL, fake Livy, database URL): gunicorn on a fresh, migrated PostgreSQL database."""
    server_url = postgres_url()
    assert server_url
    log = tmp_path_factory.mktemp("gunicorn") / "gunicorn.log"
    with FakeLivyServer(start_seconds=0.5, create_delay=0.3) as livy, throwaway_database(server_url) as db_url:
        env = app_environment(
            DEBUG="true",
            DJANGO_SECRET=secrets.token_urlsafe(50),
            DATABASE_URL=db_url,
            LIVY_BASE_ENDPOINT=livy.url,
            LIVY_REQUESTS_TIMEOUT="10",
            LIVY_REFRESH_MIN_INTERVAL="0",  # every poll may read and dispatch: the most racing
        )
        manage(env, "migrate", "--no-input", "-v", "0")
        manage(env, "setup_roles", "-v", "0")
        manage(env, "shell", "-c", CREATE_USERS)
        with gunicorn(env, workers=WORKERS, threads=THREADS, log=log) as url:
            yield url, livy, db_url, log


def _errors(log) -> str:
    """The server's log from its first traceback on (for assertion messages)."""
    text = log.read_text()
    start = text.find("Traceback")
    return text[max(0, start - 200):][:6000] if start >= 0 else "(no traceback in the gunicorn log)"


def _rows(db_url: str, sql: str, *params: object) -> list[tuple]:
    import psycopg

    with psycopg.connect(db_url, connect_timeout=10) as conn:
        return conn.execute(sql, params).fetchall()


def _sessions(db_url: str, username: str) -> list[tuple]:
    return _rows(db_url, "SELECT s.id, s.active, s.livy_id, s.name FROM livy_sparksession s "
                         "JOIN auth_user u ON u.id = s.owner_id WHERE u.username = %s ORDER BY s.id", username)


def _statements(db_url: str, username: str) -> list[tuple]:
    return _rows(db_url, "SELECT st.code, st.state, st.livy_id FROM livy_statement st "
                         "JOIN auth_user u ON u.id = st.author_id WHERE u.username = %s ORDER BY st.id", username)


def _signed_in(url: str, username: str, count: int) -> list[Browser]:
    browsers = [Browser(url) for _ in range(count)]
    for browser in browsers:
        browser.sign_in(username, f"race-pw-{username}")
    return browsers


def _at_once(calls: list) -> list:
    """Run the calls in parallel threads released together by a barrier; their results."""
    barrier = threading.Barrier(len(calls))

    def go(call):
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(go, calls))


def _poll_until_settled(served, username: str, browsers: list[Browser], session_id: int) -> None:
    """Every browser polls at once, as the page does (a POST to dispatch while something is
    queued, a GET of the live fragment otherwise), until every statement is terminal."""
    db_url, log = served[2], served[3]

    def settled() -> bool:
        queued = any(state == "queued" for _, state, _ in _statements(db_url, username))
        if queued:
            calls = [lambda b=b: b.post(f"/sessions/{session_id}/dispatch/") for b in browsers]
        else:
            calls = [lambda b=b: b.get(f"/sessions/{session_id}/live/") for b in browsers]
        statuses = {response.status_code for response in _at_once(calls)}
        assert statuses <= {200, 204}, f"{statuses}\n{_errors(log)}"
        return all(state in TERMINAL for _, state, _ in _statements(db_url, username))

    wait_for(settled, timeout=60, interval=0.2, what=f"{username}'s statements to finish")


def _run_race(served, username: str, browsers: list[Browser]) -> list[str]:
    codes = [f"print({i})  # {username}, browser {i}" for i in range(len(browsers))]
    responses = _at_once([lambda b=b, c=c: b.post("/run/", {"code": c}) for b, c in zip(browsers, codes, strict=True)])
    assert [r.status_code for r in responses] == [200] * len(browsers), (
        f"{[r.status_code for r in responses]}\n{_errors(served[3])}")
    return codes


def test_concurrent_runs_of_one_user_start_one_session_and_send_each_statement_once(served):
    url, livy, db_url, _ = served
    browsers = _signed_in(url, "erin", RUNS)
    sessions_before, statements_before = len(livy.session_posts), len(livy.statement_posts)
    try:
        codes = _run_race(served, "erin", browsers)
        rows = _sessions(db_url, "erin")
        assert len(rows) == 1, rows  # one row: the losers of the race used the winner's session
        session_id, active, livy_id, name = rows[0]
        assert active and livy_id
        _poll_until_settled(served, "erin", browsers, session_id)
    finally:
        for browser in browsers:
            browser.close()

    assert livy.session_posts[sessions_before:] == [name]  # one Livy session, the row's
    sent = livy.statement_posts[statements_before:]
    assert sorted(code for _, code in sent) == sorted(codes)  # each statement exactly once
    assert {sid for sid, _ in sent} == {int(livy_id)}
    statements = _statements(db_url, "erin")
    assert Counter(code for code, _, _ in statements) == Counter(codes)
    assert {state for _, state, _ in statements} == {"available"}
    assert sorted(livy_statement for _, _, livy_statement in statements) == list(range(RUNS))
    assert [active for _, active, _, _ in _sessions(db_url, "erin")] == [True]


def test_two_users_racing_get_one_session_each(served):
    url, livy, db_url, log = served
    per_user = RUNS // 2
    erins, oscars = _signed_in(url, "erin", per_user), _signed_in(url, "oscar", per_user)
    sessions_before = len(livy.session_posts)
    # erin may still have the live session of the test above; whoever has none starts one.
    starting = [user for user in USERS if not any(row[1] for row in _sessions(db_url, user))]
    try:
        codes = {"erin": [f"e{i} = {i}" for i in range(per_user)], "oscar": [f"o{i} = {i}" for i in range(per_user)]}
        calls = [lambda b=b, c=c: b.post("/run/", {"code": c})
                 for browsers, user in ((erins, "erin"), (oscars, "oscar"))
                 for b, c in zip(browsers, codes[user], strict=True)]
        statuses = {r.status_code for r in _at_once(calls)}
        assert statuses == {200}, f"{statuses}\n{_errors(log)}"
        for user, browsers in (("erin", erins), ("oscar", oscars)):
            active = [row for row in _sessions(db_url, user) if row[1]]
            assert len(active) == 1, active
            _poll_until_settled(served, user, browsers, active[0][0])
    finally:
        for browser in erins + oscars:
            browser.close()

    assert len(livy.session_posts) - sessions_before == len(starting)
    assert Counter(code for _, code in livy.statement_posts if code.startswith("o")) == Counter(codes["oscar"])
    assert Counter(code for _, code in livy.statement_posts if code.startswith("e")) == Counter(codes["erin"])
    for user in USERS:
        assert len([row for row in _sessions(db_url, user) if row[1]]) == 1


def _post_json(browser: Browser, path: str, body: dict) -> object:
    import json

    headers = {"X-CSRFToken": browser.http.cookies.get("csrftoken", ""), "Referer": f"{browser.base_url}/",
               "Content-Type": "application/json"}
    return browser.http.post(f"{browser.base_url}{path}", data=json.dumps(body), headers=headers, timeout=60)


def test_notebook_runs_racing_in_several_tabs_send_each_cell_once_and_in_order(served):
    """Several tabs press Run all of one notebook at once, then all poll at once (each poll
    drives the runs): every statement of every run reaches Livy exactly once, and each run's
    cells reach it in notebook order."""
    url, livy, db_url, log = served
    cells = [f"nb_cell_{i} = {i}" for i in range(5)]
    env = app_environment(DEBUG="true", DJANGO_SECRET=secrets.token_urlsafe(50), DATABASE_URL=db_url,
                          LIVY_BASE_ENDPOINT=livy.url)
    made = manage(env, "shell", "-c", (
        "from django.contrib.auth.models import User\n"
        "from livy.notebooks import service\n"
        "from livy.notebooks.ipynb import NotebookCell\n"
        f"nb = service.create(User.objects.get(username='erin'), title='Race', cells=[NotebookCell('pyspark', c) for c in {cells!r}])\n"
        "print('NOTEBOOK', nb.pk)\n"))
    pk = int(made.split("NOTEBOOK", 1)[1].split()[0])
    browsers = _signed_in(url, "erin", 4)
    before = len(livy.statement_posts)
    try:
        answers = _at_once([lambda b=b: _post_json(b, f"/notebooks/{pk}/run/", {"mode": "all"}) for b in browsers])
        assert [a.status_code for a in answers] == [200] * len(browsers), f"{[a.status_code for a in answers]}\n{_errors(log)}"

        def finished() -> bool:
            polls = _at_once([lambda b=b: _post_json(b, f"/notebooks/{pk}/poll/", {}) for b in browsers])
            assert {p.status_code for p in polls} == {200}, _errors(log)
            states = _rows(db_url, "SELECT state FROM livy_notebookrun WHERE notebook_id = %s", pk)
            return len(states) == len(browsers) and all(s != "running" for (s,) in states)

        wait_for(finished, timeout=90, interval=0.2, what="every run to finish")
    finally:
        for browser in browsers:
            browser.close()
    sent = [code for _, code in livy.statement_posts[before:]]
    assert Counter(sent) == Counter({c: len(browsers) for c in cells})  # each run's cells once
    runs = _rows(db_url, "SELECT id, state FROM livy_notebookrun WHERE notebook_id = %s ORDER BY id", pk)
    assert {state for _, state in runs} == {"succeeded"}
    for run_id, _ in runs:
        rows = _rows(db_url, "SELECT code, livy_id FROM livy_statement WHERE run_id = %s ORDER BY id", run_id)
        assert [code for code, _ in rows] == cells
        livy_ids = [livy_id for _, livy_id in rows]
        assert livy_ids == sorted(livy_ids), rows  # sent in notebook order
