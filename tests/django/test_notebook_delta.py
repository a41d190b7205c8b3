"""The notebook's poll protocol through Django's test client, Livy faked at the HTTP level:
the page is rendered once, then each poll answers only the session bar, the statements the
page shows unfinished (``open``) and the newer ones (``after``); GET polls only read, the
dispatch POST sends queued code; the notebook spans the user's sessions with a divider where
the session changed."""

from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from livy.models import SparkSession, Statement
from tests.support.livy_json import FAKE_SESSION_NAME, LIVY, ok_output, session_json, session_row, statement_json

pytestmark = pytest.mark.django_db

FRAGMENT = {"HTTP_X_LIVY_FRAGMENT": "1"}
BIG = "x" * 99 + "\n"


@pytest.fixture(autouse=True)
def no_run_wait(settings):
    """Runs answer at once (the wait for a quick result is the lifecycle's business)."""
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_RUN_WAIT": 0.0})


_session = session_row


def _stmt(session, code, **kw):
    return Statement.objects.create(session=session, author=session.owner, code=code, **kw)


def _split(body: str) -> tuple[str, str]:
    """The ``updated`` and ``new`` parts of a delta."""
    updated = body.split('<ol id="delta-updated">', 1)[1].split('<ol id="delta-new">', 1)[0]
    new = body.split('<ol id="delta-new">', 1)[1]
    return updated, new


def _pks(fragment: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'id="statement-(\d+)"', fragment)]


def poll(client, url, open_pks=(), after=0, post=False):
    data = {"open": ",".join(str(pk) for pk in open_pks), "after": str(after)}
    response = client.post(url, data, **FRAGMENT) if post else client.get(url, data, **FRAGMENT)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def test_a_poll_carries_only_what_changed_and_a_finished_output_once(as_editor, editor, livy_api):
    session = _session(editor, state="busy")
    big = _stmt(session, "print(big)", livy_id=0, state="available", output=ok_output(BIG * 100_000))  # 10 MB
    running = _stmt(session, "slow()", livy_id=1, state="running", progress=0.2)
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "busy"))
    reads = livy_api.get(f"{LIVY}/sessions/4/statements/1", json=statement_json(1, "running", "slow()", progress=0.5))
    url = reverse("livy:notebook_live")

    body = poll(as_editor, url, open_pks=[running.pk], after=running.pk)
    updated, new = _split(body)
    assert _pks(updated) == [running.pk] and _pks(new) == []
    assert '<pre class="code" data-omitted></pre>' in updated  # the page has the code already
    assert 'value="0.5"' in updated and 'data-live="true"' in body
    assert len(body.encode()) < 12_000, len(body.encode())  # not the 10 MB output
    assert reads.call_count == 1

    livy_api.replace("GET", f"{LIVY}/sessions/4/statements/1",
                     json=statement_json(1, "available", "slow()", ok_output("done"), 1.0))
    livy_api.replace("GET", f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    body = poll(as_editor, url, open_pks=[running.pk], after=running.pk)
    updated, _ = _split(body)
    assert _pks(updated) == [running.pk] and 'data-open="0"' in updated and '<pre class="out-text">done</pre>' in updated
    assert 'data-live="false"' in body  # nothing left to watch: the page stops polling

    # The page no longer lists it: it is never sent again.
    body = poll(as_editor, url, open_pks=[], after=running.pk)
    assert _pks(body) == [] and 'data-live="false"' in body

    # A statement the page does not have yet is sent whole, after the ones it has.
    newer = _stmt(session, "later()", livy_id=2, state="available", output=ok_output("3"))
    body = poll(as_editor, url, open_pks=[], after=running.pk)
    updated, new = _split(body)
    assert _pks(updated) == [] and _pks(new) == [newer.pk] and "later()</pre>" in new
    assert f'data-after="{newer.pk}"' in body
    assert big.pk not in _pks(body)


def test_open_pks_of_other_users_are_ignored(client, editor, other_editor, livy_api):
    theirs = _stmt(_session(editor, state="idle"), "secret()", state="available", output=ok_output("secret"))
    client.force_login(other_editor)
    body = poll(client, reverse("livy:notebook_live"), open_pks=[theirs.pk], after=theirs.pk)
    assert "secret" not in body and _pks(body) == []


def test_get_polls_only_read_and_the_dispatch_post_sends_queued_code(as_editor, editor, livy_api):
    session = _session(editor, state="starting")
    queued = _stmt(session, "1+1", state="queued")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    sent = livy_api.post(f"{LIVY}/sessions/4/statements", status=201, json=statement_json(0, "waiting", "1+1"))

    page = as_editor.get(reverse("livy:notebook")).content.decode()
    dispatch = reverse("livy:notebook_dispatch")
    assert f'data-dispatch-url="{dispatch}"' in page  # the owner has a queued statement

    body = poll(as_editor, reverse("livy:notebook_live"), open_pks=[queued.pk], after=queued.pk)
    assert sent.call_count == 0 and "queued" in body  # a GET sends nothing
    assert f'data-dispatch-url="{dispatch}"' in body

    body = poll(as_editor, dispatch, open_pks=[queued.pk], after=queued.pk, post=True)
    assert sent.call_count == 1 and json.loads(sent.calls[0].request.body) == {"code": "1+1", "kind": "pyspark"}
    assert 'data-state="waiting"' in body and "data-dispatch-url" not in body  # nothing queued any more


def test_only_the_owner_gets_a_dispatch_url(client, editor, livy_admin, livy_api):
    session = _session(editor, state="starting")
    _stmt(session, "1+1", state="queued")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "starting"))
    client.force_login(livy_admin)
    page = client.get(reverse("livy:session_detail", args=[session.pk])).content.decode()
    assert "1+1" in page and "data-dispatch-url" not in page
    assert client.post(reverse("livy:dispatch", args=[session.pk]), **FRAGMENT).status_code == 404


def test_the_session_page_polls_its_own_session(as_editor, editor, livy_api):
    old = _session(editor, livy_id="3", state="dead", active=False)
    _stmt(old, "in_old()", state="available")
    session = _session(editor, state="idle")
    mine = _stmt(session, "in_new()", state="available")
    page = as_editor.get(reverse("livy:session_detail", args=[session.pk])).content.decode()
    assert f'data-live-url="{reverse("livy:live", args=[session.pk])}"' in page
    assert "in_new()" in page and "in_old()" not in page
    body = poll(as_editor, reverse("livy:live", args=[session.pk]), after=0)
    assert _pks(body) == [mine.pk]


def test_the_notebook_spans_sessions_with_a_divider_and_keeps_a_lost_sessions_statements(as_editor, editor, livy_api):
    first = _session(editor, livy_id="3", name="livy-web-first", state="killed", active=False)
    a = _stmt(first, "x = 41", livy_id=0, state="available", output=ok_output(""))
    b = _stmt(first, "x + 1", livy_id=1, state="available", output=ok_output("42"))
    second = _session(editor, state="idle")
    c = _stmt(second, "x + 1", livy_id=0, state="error", error_name="NameError", error_value="name 'x' is not defined")
    # Livy lost the second session while nobody looked (restart, timeout).
    livy_api.get(f"{LIVY}/sessions/4", status=404, json={"msg": "not found"})

    page = as_editor.get(reverse("livy:notebook")).content.decode()
    assert _pks(page) == [a.pk, b.pk, c.pk]
    assert re.findall(r'class="stmt-number"[^>]*>\[(\d+)\]', page) == ["1", "2", "1"]  # per session
    divider = page.split('class="session-divider"', 1)[1].split("</li>", 1)[0]
    assert "livy-web-first" in divider and "ended (killed): its variables are gone" in divider
    assert "New session" in divider and FAKE_SESSION_NAME in divider
    # The bar says the session is gone; every statement keeps its Re-run.
    assert 'id="session-state" class="badge badge-error">dead' in page and "ended: its variables are gone" in page
    assert page.count(">Re-run</button>") == 3
    second.refresh_from_db()
    assert not second.active and second.state == "dead"


def test_a_new_statement_in_a_new_session_comes_with_its_divider(as_editor, editor, livy_api):
    first = _session(editor, livy_id="3", name="livy-web-first", state="dead", active=False)
    a = _stmt(first, "old()", state="available")
    second = _session(editor, state="idle")
    b = _stmt(second, "new()", state="available")
    body = poll(as_editor, reverse("livy:notebook_live"), after=a.pk)
    _, new = _split(body)
    assert new.index('class="session-divider"') < new.index(f'id="statement-{b.pk}"')
    assert "livy-web-first" in new


def test_rerun_runs_the_same_code_and_kind_in_the_users_session(as_editor, editor, livy_api):
    old = _session(editor, livy_id="3", state="dead", active=False)
    stmt = _stmt(old, "SELECT 1 AS one", kind="sql", state="available")
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(4, "starting"))
    body = as_editor.post(reverse("livy:rerun_statement", args=[stmt.pk]), {"after": stmt.pk}, **FRAGMENT).content.decode()
    again = Statement.objects.exclude(pk=stmt.pk).get()
    assert (again.code, again.kind, again.state, again.session.active) == ("SELECT 1 AS one", "sql", "queued", True)
    _, new = _split(body)
    assert _pks(new) == [again.pk] and 'class="kind kind-sql">SQL<' in new
    # Without JavaScript: back to the notebook.
    assert as_editor.post(reverse("livy:rerun_statement", args=[stmt.pk]))["Location"] == reverse("livy:notebook")


def test_a_cancelling_statement_explains_and_offers_a_restart(as_editor, editor, livy_api):
    session = _session(editor, state="busy")
    stmt = _stmt(session, "import time; time.sleep(600)", livy_id=0, state="cancelling")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "busy"))
    livy_api.get(f"{LIVY}/sessions/4/statements/0", json=statement_json(0, "cancelling", stmt.code))
    page = as_editor.get(reverse("livy:notebook")).content.decode()
    assert "Python code running on the Spark driver cannot be interrupted" in page
    assert "keeps this statement <em>cancelling</em> (about 30 s) and the session busy until the code ends" in page
    restart = reverse("livy:restart_session", args=[session.pk])
    assert page.count(f'action="{restart}"') == 2  # next to the statement and in the session bar

    livy_api.delete(f"{LIVY}/sessions/4", json={"msg": "deleted"})
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(5, "starting"))
    body = as_editor.post(restart, {"after": stmt.pk}, **FRAGMENT).content.decode()
    session.refresh_from_db()
    new = SparkSession.objects.get(active=True)
    assert session.state == "killed" and not session.active and new.livy_id == "5"
    assert 'id="session-state" class="badge badge-waiting">starting' in body or "starting" in body


def test_completion_asks_livy_for_the_users_idle_session(as_editor, editor, livy_api):
    assert json.loads(as_editor.post(reverse("livy:complete"), {"code": "spark.ran", "cursor": "9",
                                                                "kind": "spark"}).content) == {"candidates": []}
    _session(editor, state="idle")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    asked = livy_api.post(f"{LIVY}/sessions/4/completion", json={"candidates": ["range", "read"]})
    answer = as_editor.post(reverse("livy:complete"), {"code": "spark.ran", "cursor": "9", "kind": "spark"})
    assert json.loads(answer.content) == {"candidates": ["range", "read"]}
    assert json.loads(asked.calls[0].request.body) == {"code": "spark.ran", "kind": "spark", "cursor": 9}
    page = as_editor.get(reverse("livy:notebook")).content.decode()
    assert f'data-complete-url="{reverse("livy:complete")}" data-complete-kinds="spark"' in page


def test_fabric_pages_offer_no_completion_and_no_log(settings, as_editor, editor):
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_BACKEND": "fabric"})
    _session(editor, backend="fabric", state="killed", active=False)
    page = as_editor.get(reverse("livy:notebook")).content.decode()
    assert "data-complete-url" not in page and ">Log</a>" not in page
    assert '<option value="pyspark" selected>PySpark</option>' in page and '<option value="sql">Spark SQL</option>' in page


def test_apache_pages_link_the_log(as_editor, editor, livy_api):
    session = _session(editor, state="idle")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    page = as_editor.get(reverse("livy:notebook")).content.decode()
    assert f'<a href="{reverse("livy:session_log", args=[session.pk])}">Log</a>' in page


def test_run_sends_the_chosen_kind_and_labels_the_statement(as_editor, editor, livy_api):
    _session(editor, state="idle")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    sent = livy_api.post(f"{LIVY}/sessions/4/statements", status=201, json=statement_json(0, "waiting", "SELECT 1"))
    body = as_editor.post(reverse("livy:run"), {"code": "SELECT 1", "kind": "sql", "after": "0"}, **FRAGMENT).content.decode()
    assert json.loads(sent.calls[0].request.body) == {"code": "SELECT 1", "kind": "sql"}
    assert 'class="kind kind-sql">SQL<' in body and 'data-kind="sql"' in body
    assert as_editor.post(reverse("livy:run"), {"code": "1", "kind": "cobol"}, **FRAGMENT).status_code == 200
    assert Statement.objects.count() == 1  # an unknown kind is refused, nothing is run


def test_copy_to_editor_link_puts_the_code_in_the_editor(as_editor, editor):
    stmt = _stmt(_session(editor, state="killed", active=False), "SELECT 42", kind="sql", state="available")
    page = as_editor.get(reverse("livy:notebook"), {"copy": stmt.pk}).content.decode()
    assert ">\nSELECT 42</textarea>" in page and '<option value="sql" selected>' in page


def test_livy_status_fragment(as_editor, livy_api):
    from django.core.cache import cache

    cache.clear()
    livy_api.get(f"{LIVY}/version", json={"version": "0.9.0-incubating"})
    body = as_editor.get(reverse("livy:livy_status")).content.decode()
    assert "Livy 0.9.0-incubating at http://127.0.0.1:8998: reachable" in body
    cache.clear()
    livy_api.replace("GET", f"{LIVY}/version", body=__import__("tests.support.livy_json", fromlist=["refused"]).refused())
    body = as_editor.get(reverse("livy:livy_status")).content.decode()
    assert "cannot be reached" in body and 'role="alert"' in body
    cache.clear()


def test_poll_figures_with_a_10_mb_output_in_the_notebook(as_editor, editor, livy_api, capsys):
    """Bytes the page gets per poll while a statement runs, with a 10 MB output above it:
    the old protocol re-sent the whole ``#live`` fragment; a delta carries the running one."""
    session = _session(editor, state="busy")
    _stmt(session, "print(big)", livy_id=0, state="available", output=ok_output(BIG * 100_000))
    running = _stmt(session, "slow()", livy_id=1, state="running", progress=0.3)
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "busy"))
    livy_api.get(f"{LIVY}/sessions/4/statements/1", json=statement_json(1, "running", "slow()", progress=0.4))
    page = as_editor.get(reverse("livy:notebook"))
    body = poll(as_editor, reverse("livy:notebook_live"), open_pks=[running.pk], after=running.pk)
    with capsys.disabled():
        print(f"\n[figures] notebook page with a 10 MB output: {len(page.content):,} bytes; "
              f"one poll while another statement runs: {len(body.encode()):,} bytes")
    assert len(page.content) < 200_000 and len(body.encode()) < 12_000


def test_a_poll_that_would_carry_nothing_is_answered_204(client, editor, livy_api):
    """A page polling a finished notebook that it shows whole and current gets 204 and stops."""
    import re as _re

    from livy.models import SparkSession as _Session
    from livy.models import Statement as _Statement

    client.force_login(editor)
    session = _Session.objects.create(owner=editor, backend="apache", endpoint=LIVY, livy_id="4",
                                      name="pytest-1", state="idle")
    stmt = _Statement.objects.create(session=session, author=editor, code="1+1", livy_id=0, state="available")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))  # the page load checks the session
    page = client.get(reverse("livy:notebook")).content.decode()
    calls_at_load = len(livy_api.calls)
    stamp = _re.search(r'id="live"[^>]* data-stamp="([^"]+)"', page).group(1)
    url = reverse("livy:notebook_live")
    quiet = client.get(url, {"open": "", "after": stmt.pk, "stamp": stamp}, HTTP_X_LIVY_FRAGMENT="1")
    assert quiet.status_code == 204 and quiet["X-Livy-Live"] == "false"
    # Anything new, or a bar that changed, gets a delta again.
    newer = _Statement.objects.create(session=session, author=editor, code="2+2", livy_id=1, state="available")
    again = client.get(url, {"open": "", "after": stmt.pk, "stamp": stamp}, HTTP_X_LIVY_FRAGMENT="1")
    assert again.status_code == 200 and f'id="statement-{newer.pk}"' in again.content.decode()
    _Session.objects.filter(pk=session.pk).update(state="dead")
    changed = client.get(url, {"open": "", "after": newer.pk, "stamp": stamp}, HTTP_X_LIVY_FRAGMENT="1")
    assert changed.status_code == 200 and "dead" in changed.content.decode()
    assert len(livy_api.calls) == calls_at_load  # polls of a finished notebook never call Livy
