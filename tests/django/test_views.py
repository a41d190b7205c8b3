"""Views through Django's test client, Livy faked at the HTTP level: sign-in required, POST
only with CSRF, escaped output, permissions, and Livy failures shown with the code kept."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from livy.models import Statement
from tests.support.livy_json import (
    FAKE_SESSION_NAME,
    LIVY,
    error_output,
    ok_output,
    refused,
    session_json,
    session_row,
    statement_json,
)

pytestmark = pytest.mark.django_db

FRAGMENT = {"HTTP_X_LIVY_FRAGMENT": "1"}


_session = session_row


@pytest.mark.parametrize(
    "name,args",
    [("livy:notebook", []), ("livy:session_list", []), ("livy:session_detail", [1]), ("livy:live", [1]),
     ("livy:session_log", [1])],
)
def test_pages_require_sign_in(client, name, args):
    response = client.get(reverse(name, args=args))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


@pytest.mark.parametrize(
    "name,args",
    [("livy:run", []), ("livy:start_session", []), ("livy:stop_session", [1]), ("livy:cancel_statement", [1])],
)
def test_state_changes_are_post_only(as_editor, name, args):
    assert as_editor.get(reverse(name, args=args)).status_code == 405


def test_post_without_csrf_token_is_refused(editor, livy_api):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(editor)
    response = strict.post(reverse("livy:run"), {"code": "1+1"})
    assert response.status_code == 403
    assert Statement.objects.count() == 0 and len(livy_api.calls) == 0


def test_post_with_csrf_token_from_page_runs(editor, livy_api):
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(editor)
    page = strict.get(reverse("livy:notebook"))
    token = page.context["csrf_token"]
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(4, "starting"))
    response = strict.post(reverse("livy:run"), {"code": "1+1", "csrfmiddlewaretoken": str(token)})
    assert response.status_code == 302
    assert Statement.objects.get().code == "1+1"


def test_empty_notebook_offers_to_start(as_editor):
    body = as_editor.get(reverse("livy:notebook")).content.decode()
    assert "A session starts when you run code." in body and 'id="run-form"' in body


def test_run_as_a_fragment_returns_a_delta_that_polls(as_editor, livy_api):
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(4, "starting"))
    response = as_editor.post(reverse("livy:run"), {"code": "print('hi')", "open": "", "after": "0"}, **FRAGMENT)
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<div id="delta" data-live="true"')
    # Queued while the session starts: the page polls with POSTs, which send it.
    assert f'data-dispatch-url="{reverse("livy:notebook_dispatch")}"' in body
    assert "queued" in body and "print(&#x27;hi&#x27;)" in body


def test_finished_page_stops_polling(as_editor, editor, livy_api):
    session = _session(editor)
    Statement.objects.create(session=session, author=editor, code="1+1", livy_id=0, state="available",
                             output=ok_output("2"))
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    body = as_editor.get(reverse("livy:live", args=[session.pk])).content.decode()
    assert 'data-live="false"' in body and "<pre class=\"out-text\">2</pre>" in body


def test_output_and_code_are_escaped(as_editor, editor, livy_api):
    session = _session(editor)
    Statement.objects.create(
        session=session, author=editor, code="print('<script>alert(1)</script>')", livy_id=0,
        state="available", output=ok_output("<script>alert(1)</script><img src=x onerror=alert(2)>"),
    )
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    body = as_editor.get(reverse("livy:notebook")).content.decode()
    assert "<script>alert(1)</script>" not in body and "onerror=alert(2)>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in body


def test_html_output_is_sanitised(as_editor, editor, livy_api):
    session = _session(editor)
    Statement.objects.create(
        session=session, author=editor, code="displayHTML()", livy_id=0, state="available",
        output={"status": "ok", "execution_count": 1,
                "data": {"text/html": "<b>bold</b><script>alert(1)</script><a href=\"javascript:alert(3)\">x</a>"}},
    )
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    body = as_editor.get(reverse("livy:notebook")).content.decode()
    assert "<b>bold</b>" in body and "alert(1)" not in body and "javascript:" not in body


def test_error_shows_name_value_and_traceback(as_editor, editor, livy_api):
    session = _session(editor)
    Statement.objects.create(session=session, author=editor, code="1/0", livy_id=0, state="error",
                             error_name="ZeroDivisionError", error_value="division by zero",
                             traceback="Traceback (most recent call last):\nZeroDivisionError: division by zero\n",
                             output=error_output("ZeroDivisionError", "division by zero", []))
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    body = as_editor.get(reverse("livy:notebook")).content.decode()
    assert 'class="ename">ZeroDivisionError' in body and "division by zero" in body
    assert "Traceback (most recent call last):" in body


def test_livy_down_on_run_shows_message_and_keeps_code_as_a_fragment(as_editor, livy_api):
    livy_api.post(f"{LIVY}/sessions", body=refused())
    response = as_editor.post(reverse("livy:run"), {"code": "df = spark.range(10)"}, **FRAGMENT)
    body = response.content.decode()
    assert response.status_code == 200
    assert "Your code was not run" in body and "cannot be reached" in body


def test_livy_down_on_run_without_js_renders_page_with_code(as_editor, livy_api):
    livy_api.post(f"{LIVY}/sessions", body=refused())
    response = as_editor.post(reverse("livy:run"), {"code": "df = spark.range(10)"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "Your code was not run" in body and "df = spark.range(10)</textarea>" in body


def test_throttled_livy_message_says_when_to_retry(as_editor, livy_api):
    livy_api.post(f"{LIVY}/sessions", status=429, headers={"Retry-After": "20"})
    body = as_editor.post(reverse("livy:run"), {"code": "x"}, **FRAGMENT).content.decode()
    assert "Livy is busy (HTTP 429). Try again in 20 s." in body


def test_livy_down_while_polling_is_a_message_not_a_500(as_editor, editor, livy_api):
    session = _session(editor, state="busy")
    livy_api.get(f"{LIVY}/sessions/4", body=refused())
    response = as_editor.get(reverse("livy:live", args=[session.pk]))
    assert response.status_code == 200
    assert "cannot be reached" in response.content.decode() and 'data-live="true"' in response.content.decode()


def test_killed_session_is_shown_with_restart_button(as_editor, editor, livy_api):
    session = _session(editor, state="busy")
    Statement.objects.create(session=session, author=editor, code="long()", livy_id=0, state="running")
    livy_api.get(f"{LIVY}/sessions/4", status=404, json={"msg": "not found"})
    body = as_editor.get(reverse("livy:notebook")).content.decode()
    # The notebook has no active session any more; the history keeps the dead one.
    assert "A session starts when you run code." in body
    detail = as_editor.get(reverse("livy:session_detail", args=[session.pk])).content.decode()
    assert "dead" in detail and "no longer knows this session" in detail and "long()" in detail


def test_empty_code_is_refused_with_a_message(as_editor, livy_api):
    body = as_editor.post(reverse("livy:run"), {"code": "   "}, **FRAGMENT).content.decode()
    assert "Write some code to run first." in body and len(livy_api.calls) == 0


def test_viewer_cannot_run_code(client, viewer, livy_api):
    client.force_login(viewer)
    assert client.post(reverse("livy:run"), {"code": "1"}).status_code == 403
    assert client.post(reverse("livy:start_session")).status_code == 403
    assert "You can read results but not run code" in client.get(reverse("livy:notebook")).content.decode()
    assert len(livy_api.calls) == 0


def test_other_users_session_is_404(client, editor, other_editor):
    session = _session(editor)
    stmt = Statement.objects.create(session=session, author=editor, code="secret_code()", state="available")
    client.force_login(other_editor)
    for name, pk in [("livy:session_detail", session.pk), ("livy:live", session.pk), ("livy:session_log", session.pk)]:
        assert client.get(reverse(name, args=[pk])).status_code == 404
    assert client.post(reverse("livy:stop_session", args=[session.pk])).status_code == 404
    assert client.post(reverse("livy:cancel_statement", args=[stmt.pk])).status_code == 404
    assert "secret_code" not in client.get(reverse("livy:session_list")).content.decode()


def test_admin_sees_and_stops_any_session(client, editor, livy_admin, livy_api):
    session = _session(editor)
    client.force_login(livy_admin)
    assert FAKE_SESSION_NAME in client.get(reverse("livy:session_list")).content.decode()
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    livy_api.delete(f"{LIVY}/sessions/4", json={"msg": "deleted"})
    client.post(reverse("livy:stop_session", args=[session.pk]))
    session.refresh_from_db()
    assert session.state == "killed" and not session.active


def test_stop_and_cancel(as_editor, editor, livy_api):
    session = _session(editor, state="busy")
    stmt = Statement.objects.create(session=session, author=editor, code="x", livy_id=1, state="running")
    livy_api.post(f"{LIVY}/sessions/4/statements/1/cancel", json={"msg": "canceled"})
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "busy"))
    livy_api.get(f"{LIVY}/sessions/4/statements/1", json=statement_json(1, "running", "x"))
    body = as_editor.post(reverse("livy:cancel_statement", args=[stmt.pk]), **FRAGMENT).content.decode()
    assert "cancelling" in body
    livy_api.delete(f"{LIVY}/sessions/4", json={"msg": "deleted"})
    body = as_editor.post(reverse("livy:stop_session", args=[session.pk]), **FRAGMENT).content.decode()
    assert 'id="session-state" class="badge badge-ended">killed' in body


def test_session_log_page(as_editor, editor, livy_api):
    session = _session(editor)
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    livy_api.get(f"{LIVY}/sessions/4/log", json={"id": 4, "from": 0, "total": 2, "log": []})
    livy_api.get(f"{LIVY}/sessions/4/log", json={"id": 4, "from": 0, "total": 2, "log": ["stdout: ", "INFO SparkContext: <ready>"]})
    body = as_editor.get(reverse("livy:session_log", args=[session.pk])).content.decode()
    assert "INFO SparkContext: &lt;ready&gt;" in body


def test_session_list_queries_do_not_grow_with_sessions(as_editor, editor, django_assert_max_num_queries):
    for i in range(30):
        s = _session(editor, livy_id=str(100 + i), name=f"s{i}", state="dead", active=False)
        Statement.objects.create(session=s, author=editor, code="x", state="available")
    with django_assert_max_num_queries(8):
        body = as_editor.get(reverse("livy:session_list")).content.decode()
    assert body.count("<tr>") == 26  # header + 25 a page


def test_notebook_shows_the_latest_statements_and_links_the_rest(as_editor, editor, livy_api):
    session = _session(editor, state="idle")
    for i in range(60):
        Statement.objects.create(session=session, author=editor, code=f"step_{i:02d}()", livy_id=i, state="available")
    Statement.objects.filter(code="step_00()").update(state="running")  # an old one still runs
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    livy_api.get(f"{LIVY}/sessions/4/statements/0", json=statement_json(0, "running", "step_00()"))
    page = as_editor.get(reverse("livy:notebook")).content.decode()
    assert page.count('class="card statement"') == 50
    assert "step_59()" in page and "step_09()" not in page and "10 earlier statements not shown" in page
    assert 'data-live="true"' in page  # the hidden running statement keeps the page live
    assert "[60]</span>" in page and "[11]</span>" in page  # numbered by position in the session
    live = as_editor.get(reverse("livy:notebook_live")).content.decode()  # no `after`: a full render
    assert live.count('class="card statement"') == 50
    detail = as_editor.get(reverse("livy:session_detail", args=[session.pk])).content.decode()
    assert detail.count('class="card statement"') == 60 and "not shown" not in detail
    assert f'data-live-url="/sessions/{session.pk}/live/"' in detail
    full = as_editor.get(reverse("livy:live", args=[session.pk])).content.decode()
    assert full.count('class="card statement"') == 60


def test_stop_on_the_session_page_keeps_the_whole_history(as_editor, editor, livy_api):
    session = _session(editor, state="idle")
    for i in range(55):
        Statement.objects.create(session=session, author=editor, code=f"s{i}()", livy_id=i, state="available")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    detail = as_editor.get(reverse("livy:session_detail", args=[session.pk])).content.decode()
    assert f'<input type="hidden" name="scope" value="{session.pk}">' in detail
    livy_api.delete(f"{LIVY}/sessions/4", json={"msg": "deleted"})
    after = as_editor.post(reverse("livy:stop_session", args=[session.pk]), {"scope": session.pk}, **FRAGMENT).content.decode()
    assert after.count('class="card statement"') == 55
    # Without JavaScript the browser goes back to the session page.
    assert as_editor.post(reverse("livy:stop_session", args=[session.pk]), {"scope": session.pk})["Location"] == \
        reverse("livy:session_detail", args=[session.pk])


def test_the_apps_fragment_header_gets_the_delta(as_editor, livy_api):
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(4, "starting"))
    response = as_editor.post(reverse("livy:run"), {"code": "print('hi')", "after": "0"}, HTTP_X_LIVY_FRAGMENT="1")
    assert response.status_code == 200 and response.content.decode().lstrip().startswith('<div id="delta"')
    # Any other value is a plain browser's post: the whole page, the code kept.
    page = as_editor.post(reverse("livy:run"), {"code": "   "}, HTTP_X_LIVY_FRAGMENT="0").content.decode()
    assert 'id="run-form"' in page and 'id="delta"' not in page and "Write some code to run first." in page


def test_each_unfinished_state_says_what_is_happening(as_editor, editor, livy_api):
    session = _session(editor, state="starting")
    queued = Statement.objects.create(session=session, author=editor, code="a()", state="queued")
    sending = Statement.objects.create(session=session, author=editor, code="b()", state="sending")
    running = Statement.objects.create(session=session, author=editor, code="c()", livy_id=0, state="running",
                                       progress=0.25)
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "starting"))
    page = as_editor.get(reverse("livy:session_detail", args=[session.pk])).content.decode()

    def row(stmt):
        return page.split(f'id="statement-{stmt.pk}"', 1)[1].split('class="running-row"', 1)[1].split("</div>", 1)[0]

    assert "Queued: sent as soon as the session is ready." in row(queued) and "waiting for" in row(queued)
    assert "Sending to Livy…" in row(sending) and "running for" in row(sending) and "<progress" not in row(sending)
    assert '<progress class="stmt-progress" max="1" value="0.25"' in row(running) and "running for" in row(running)
