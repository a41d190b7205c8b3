"""Sessions and statements through the API, Livy faked over HTTP (the real-Livy run is in
tests/integration/test_api_real_livy.py)."""

from __future__ import annotations

import pytest

from livy.models import SparkSession, Statement
from livy.output import TABLE_MIME
from tests.support.livy_json import FAKE_SESSION_NAME, LIVY, session_json, statement_json

pytestmark = pytest.mark.django_db


def test_run_in_an_idle_session_answers_202_with_the_result(bearer, token_of, people, livy_api):
    erin = people["editor"]
    SparkSession.objects.create(owner=erin, backend="apache", endpoint=LIVY, livy_id="4",
                                name=FAKE_SESSION_NAME, state="idle")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle"))
    livy_api.post(f"{LIVY}/sessions/4/statements", status=201, json=statement_json(0, "waiting", "1 + 1"))
    livy_api.get(f"{LIVY}/sessions/4/statements/0", json=statement_json(
        0, "available", "1 + 1", output={"status": "ok", "execution_count": 0, "data": {"text/plain": "2"}}))
    response = bearer(token_of("editor")).post("/api/v1/statements?wait=5", {"code": "1 + 1"})
    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"] == f"/api/v1/statements/{body['id']}"
    assert body["state"] == "available" and body["terminal"] is True
    assert body["output"]["text"] == "2" and body["error"] is None
    again = bearer(token_of("editor")).get(response["Location"]).json()
    assert again["output"]["text"] == "2" and again["author"] == "erin"


def test_table_and_error_outputs_read_as_json(bearer, token_of, people):
    erin = people["editor"]
    session = SparkSession.objects.create(owner=erin, backend="apache", endpoint=LIVY, livy_id="4",
                                          name=FAKE_SESSION_NAME, state="idle")
    table = Statement.objects.create(session=session, author=erin, code="%table", livy_id=0, state="available",
                                     output={"status": "ok", "data": {TABLE_MIME: {
                                         "headers": [{"name": "n", "type": "INT_TYPE"}, {"name": "s", "type": "STRING_TYPE"}],
                                         "data": [[1, "a"], [2, None]]}}})
    failed = Statement.objects.create(session=session, author=erin, code="1/0", livy_id=1, state="error",
                                      output={"status": "error", "ename": "ZeroDivisionError", "evalue": "division by zero",
                                              "traceback": ["Traceback\n", "ZeroDivisionError\n"]},
                                      error_name="ZeroDivisionError", error_value="division by zero",
                                      traceback="Traceback\nZeroDivisionError\n")
    client = bearer(token_of("editor"))
    got = client.get(f"/api/v1/statements/{table.pk}").json()
    assert got["output"]["table"] == {"headers": [{"name": "n", "type": "INT_TYPE"}, {"name": "s", "type": "STRING_TYPE"}],
                                      "rows": [[1, "a"], [2, None]]}
    err = client.get(f"/api/v1/statements/{failed.pk}").json()
    assert err["state"] == "error" and err["terminal"] is True
    assert err["error"] == {"ename": "ZeroDivisionError", "evalue": "division by zero",
                            "traceback": ["Traceback", "ZeroDivisionError"]}


def test_a_statement_queued_while_the_session_starts_is_sent_by_a_wait(bearer, token_of, livy_api):
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(9, "starting"))
    client = bearer(token_of("editor"))
    first = client.post("/api/v1/statements", {"code": "1 + 1"})
    assert first.status_code == 202 and first.json()["state"] == "queued"
    livy_api.get(f"{LIVY}/sessions/9", json=session_json(9, "idle"))
    livy_api.post(f"{LIVY}/sessions/9/statements", status=201, json=statement_json(0, "running", "1 + 1"))
    livy_api.get(f"{LIVY}/sessions/9/statements/0", json=statement_json(
        0, "available", "1 + 1", output={"status": "ok", "data": {"text/plain": "2"}}))
    done = client.get(f"{first['Location']}?wait=5").json()
    assert done["state"] == "available" and done["output"]["text"] == "2"


def test_sessions_start_list_read_stop(bearer, token_of, livy_api):
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(9, "starting"))
    client = bearer(token_of("editor"))
    started = client.post("/api/v1/sessions")
    assert started.status_code == 201 and started["Location"] == f"/api/v1/sessions/{started.json()['id']}"
    livy_api.get(f"{LIVY}/sessions/9", json=session_json(9, "idle"))
    assert client.post("/api/v1/sessions").status_code == 200  # the live one is reused
    listed = client.get("/api/v1/sessions").json()
    assert [s["id"] for s in listed["items"]] == [started.json()["id"]] and listed["next_cursor"] is None
    assert client.get(started["Location"]).json()["state"] == "idle"
    livy_api.delete(f"{LIVY}/sessions/9", json={"msg": "deleted"})
    stopped = client.delete(started["Location"])
    assert stopped.status_code == 200 and stopped.json()["state"] == "killed" and not stopped.json()["active"]


def test_lists_are_newest_first_and_paginate_with_a_cursor(bearer, token_of, people):
    erin = people["editor"]
    session = SparkSession.objects.create(owner=erin, backend="apache", endpoint=LIVY, livy_id="4",
                                          name=FAKE_SESSION_NAME, state="idle")
    made = [Statement.objects.create(session=session, author=erin, code=f"{n}", livy_id=n, state="available").pk
            for n in range(5)]
    client = bearer(token_of("editor"))
    page1 = client.get("/api/v1/statements?limit=2").json()
    assert [s["id"] for s in page1["items"]] == made[::-1][:2]
    page2 = client.get(f"/api/v1/statements?limit=2&cursor={page1['next_cursor']}").json()
    page3 = client.get(f"/api/v1/statements?limit=2&cursor={page2['next_cursor']}").json()
    assert [s["id"] for s in page2["items"] + page3["items"]] == made[::-1][2:]
    assert page3["next_cursor"] is None


def test_cancel_a_queued_statement(bearer, token_of, livy_api):
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(9, "starting"))
    client = bearer(token_of("editor"))
    queued = client.post("/api/v1/statements", {"code": "long()"}).json()
    cancelled = client.post(f"/api/v1/statements/{queued['id']}/cancel")
    assert cancelled.status_code == 202 and cancelled.json()["state"] == "cancelled"


def test_livy_unreachable_is_503_and_the_code_is_kept(bearer, token_of, people, livy_api):
    import requests

    livy_api.post(f"{LIVY}/sessions", body=requests.ConnectionError("refused"))
    response = bearer(token_of("editor")).post("/api/v1/statements", {"code": "keep_me()"})
    assert response.status_code == 503 and response["Content-Type"] == "application/problem+json"
    assert response["Retry-After"]
    assert response.json()["type"].endswith("/livy-unavailable")
    assert Statement.objects.filter(code="keep_me()", state="failed").exists()


def test_livy_throttling_is_429_with_retry_after(bearer, token_of, people, livy_api):
    erin = people["editor"]
    SparkSession.objects.create(owner=erin, backend="apache", endpoint=LIVY, livy_id="4",
                                name=FAKE_SESSION_NAME, state="starting")
    livy_api.get(f"{LIVY}/sessions/4", status=429, headers={"Retry-After": "7"}, json={"msg": "slow down"})
    response = bearer(token_of("editor")).post("/api/v1/sessions")
    assert response.status_code == 429 and response["Retry-After"] == "7", response.content
    assert response.json()["status"] == 429


def test_the_sessions_list_is_newest_first_and_paginates(bearer, token_of, people):
    erin = people["editor"]
    made = [SparkSession.objects.create(owner=erin, backend="apache", endpoint=LIVY, livy_id=str(n),
                                        name=f"s{n}", state="dead", active=False).pk for n in range(3)]
    client = bearer(token_of("editor"))
    page1 = client.get("/api/v1/sessions?limit=2").json()
    page2 = client.get(f"/api/v1/sessions?limit=2&cursor={page1['next_cursor']}").json()
    assert [s["id"] for s in page1["items"] + page2["items"]] == made[::-1]
    assert page2["next_cursor"] is None
