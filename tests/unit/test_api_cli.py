"""python -m api.cli: exit status and output for a statement that succeeds, fails or outlasts
the timeout, and an API problem on stderr (the API faked over HTTP with its documented shapes)."""

from __future__ import annotations

import pytest
import responses

from api import cli

BASE = "http://app.test/api/v1"


def stmt(state, terminal, **extra):
    body = {"id": 7, "session_id": 1, "kind": "pyspark", "code": "x", "state": state, "terminal": terminal,
            "progress": 1.0, "author": "alice", "created_at": "2026-12-02T16:00:00Z", "submitted_at": None,
            "started_at": None, "completed_at": None, "output": None, "error": None}
    body.update(extra)
    return body


@pytest.fixture
def api(monkeypatch):
    monkeypatch.setenv("LIVY_WEB_TOKEN", "lwt_test")
    with responses.RequestsMock() as mock:
        yield mock


def test_run_prints_the_result_and_exits_0(api, capsys):
    api.post(f"{BASE}/statements", status=202, json=stmt("running", False))
    api.get(f"{BASE}/statements/7", json=stmt("available", True, output={"text": "2", "table": None}))
    assert cli.main(["--url", "http://app.test", "run", "1+1"]) == 0
    assert capsys.readouterr().out.strip() == "2"
    assert api.calls[0].request.headers["Authorization"] == "Bearer lwt_test"


def test_a_failed_statement_exits_1_with_the_error_on_stderr(api, capsys):
    api.post(f"{BASE}/statements", status=202, json=stmt("error", True, error={
        "ename": "ZeroDivisionError", "evalue": "division by zero", "traceback": ["Traceback", "ZeroDivisionError"]}))
    assert cli.main(["--url", "http://app.test", "run", "1/0"]) == 1
    assert "ZeroDivisionError: division by zero" in capsys.readouterr().err


def test_a_timeout_exits_3(api, capsys):
    api.get(f"{BASE}/statements/7", json=stmt("running", False))
    assert cli.main(["--url", "http://app.test", "wait", "7", "--timeout", "0"]) == 3


def test_a_problem_exits_2_with_its_detail(api, capsys):
    api.post(f"{BASE}/statements", status=403, json={"type": "tag:x", "title": "Forbidden", "status": 403,
                                                     "detail": "Your role may not run code."})
    assert cli.main(["--url", "http://app.test", "run", "1"]) == 2
    assert "Your role may not run code." in capsys.readouterr().err


def test_no_token_exits_2(monkeypatch, capsys):
    monkeypatch.delenv("LIVY_WEB_TOKEN", raising=False)
    assert cli.main(["sessions"]) == 2 and "LIVY_WEB_TOKEN" in capsys.readouterr().err
