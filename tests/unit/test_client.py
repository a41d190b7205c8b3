"""LivyClient against an HTTP fake of Apache Livy: every method, error mapping, retry rules."""

from __future__ import annotations

import http.server
import json
import threading
from datetime import UTC

import pytest
import requests
import responses
from responses import matchers

from livy.remote.backends import ApacheLivyBackend
from livy.remote.client import LivyClient
from livy.remote.errors import (
    LivyAuthError,
    LivyHTTPError,
    LivyNotFound,
    LivyOutcomeUnknown,
    LivyThrottled,
    LivyUnavailable,
)
from livy.remote.states import SessionState, StatementState
from livy.remote.types import SessionSpec
from tests.support.livy_json import error_output, ok_output, session_json, statement_json

BASE = "http://livy.test:8998"


@pytest.fixture
def client():
    return LivyClient(ApacheLivyBackend(BASE), timeout=5)


@pytest.fixture
def api():
    with responses.RequestsMock() as mock:
        yield mock


# -------------------------------------------------------------------------- sessions
def test_list_sessions_pages_with_from_and_size(client, api):
    api.get(
        f"{BASE}/sessions",
        match=[matchers.query_param_matcher({"from": "10", "size": "5"})],
        json={"from": 10, "total": 2, "sessions": [session_json(3, "idle"), session_json(4, "dead")]},
    )
    sessions = client.list_sessions(offset=10, size=5)
    assert [(s.id, s.state) for s in sessions] == [("3", SessionState.IDLE), ("4", SessionState.DEAD)]


def test_create_session_sends_livy_body_and_reads_answer(client, api):
    api.post(
        f"{BASE}/sessions",
        match=[
            matchers.json_params_matcher(
                {
                    "name": "web-1",
                    "kind": "pyspark",
                    "conf": {"spark.executor.memory": "1g"},
                    "pyFiles": ["local:/libs/a.py"],
                    "proxyUser": "erin",
                }
            ),
            matchers.header_matcher({"X-Requested-By": "livy-web"}),
        ],
        status=201,
        json=session_json(7, "starting", name="web-1"),
    )
    session = client.create_session(
        SessionSpec(
            name="web-1", conf={"spark.executor.memory": "1g"}, py_files=["local:/libs/a.py"], proxy_user="erin"
        )
    )
    assert session.id == "7" and session.state is SessionState.STARTING and session.name == "web-1"


def test_create_session_leaves_out_empty_settings(client, api):
    api.post(
        f"{BASE}/sessions",
        match=[matchers.json_params_matcher({"name": "web-2", "kind": "pyspark"})],
        status=201,
        json=session_json(8),
    )
    assert client.create_session(SessionSpec(name="web-2")).id == "8"


def test_get_session_reads_app_info(client, api):
    api.get(
        f"{BASE}/sessions/3",
        json=session_json(
            3, "idle", app_id="local-1700000000000", appInfo={"sparkUiUrl": "http://127.0.0.1:4040", "driverLogUrl": None}
        ),
    )
    session = client.get_session("3")
    assert session.app_id == "local-1700000000000"
    assert session.spark_ui_url == "http://127.0.0.1:4040"
    assert session.driver_log_url is None


def test_get_session_log(client, api):
    api.get(
        f"{BASE}/sessions/3/log",
        match=[matchers.query_param_matcher({"from": "5", "size": "2"})],
        json={"id": 3, "from": 5, "total": 40, "log": ["line 5", "line 6"]},
    )
    log = client.get_session_log("3", 5, 2)
    assert (log.offset, log.total, log.lines) == (5, 40, ["line 5", "line 6"])


def test_delete_session(client, api):
    call = api.delete(f"{BASE}/sessions/3", json={"msg": "deleted"})
    client.delete_session("3")
    assert call.call_count == 1


def test_unknown_future_session_state_is_kept_not_rejected(client, api):
    api.get(f"{BASE}/sessions/3", json=session_json(3, "hibernating"))
    state = client.get_session("3").state
    assert state.value == "hibernating" and not state.known and not state.is_terminal


# ------------------------------------------------------------------------- statements
def test_submit_statement(client, api):
    api.post(
        f"{BASE}/sessions/3/statements",
        match=[matchers.json_params_matcher({"code": "1+1", "kind": "pyspark"})],
        status=201,
        json=statement_json(0, "waiting", "1+1"),
    )
    stmt = client.submit_statement("3", "1+1", "pyspark")
    assert stmt.id == 0 and stmt.state is StatementState.WAITING


def test_get_statement_with_output_and_times(client, api):
    api.get(
        f"{BASE}/sessions/3/statements/0",
        json=statement_json(0, "available", "1+1", ok_output("2", 1), 1.0, 1700000000000, 1700000001500),
    )
    stmt = client.get_statement("3", 0)
    assert stmt.state is StatementState.AVAILABLE
    assert stmt.output.data == {"text/plain": "2"} and stmt.output.execution_count == 1
    assert (stmt.completed - stmt.started).total_seconds() == 1.5
    assert stmt.started.tzinfo is UTC


def test_get_statement_error_output(client, api):
    api.get(
        f"{BASE}/sessions/3/statements/1",
        json=statement_json(
            1, "available", "1/0",
            error_output("ZeroDivisionError", "division by zero", ["Traceback (most recent call last):\n", "ZeroDivisionError: division by zero\n"]),
        ),
    )
    out = client.get_statement("3", 1).output
    assert (out.status, out.ename, out.evalue) == ("error", "ZeroDivisionError", "division by zero")
    assert out.traceback[-1].startswith("ZeroDivisionError")


def test_list_statements(client, api):
    api.get(
        f"{BASE}/sessions/3/statements",
        json={"total_statements": 2, "statements": [statement_json(0, "available"), statement_json(1, "running")]},
    )
    assert [s.state for s in client.list_statements("3")] == [StatementState.AVAILABLE, StatementState.RUNNING]


def test_cancel_statement(client, api):
    call = api.post(f"{BASE}/sessions/3/statements/1/cancel", json={"msg": "canceled"})
    client.cancel_statement("3", 1)
    assert call.call_count == 1


@pytest.mark.parametrize("spelling", ["canceled", "cancelled", "Cancelled"])
def test_statement_state_spellings_normalise(spelling):
    assert StatementState(spelling) is StatementState.CANCELLED


def test_fabric_capitalised_error_state_normalises():
    assert StatementState("Error") is StatementState.ERROR


# ----------------------------------------------------------------------------- errors
def test_404_is_livy_not_found_with_livy_message(client, api):
    api.get(f"{BASE}/sessions/99", status=404, json={"msg": "Session '99' not found."})
    with pytest.raises(LivyNotFound) as err:
        client.get_session("99")
    assert err.value.status == 404 and "Session '99' not found." in str(err.value)


def test_429_on_post_is_throttled_with_retry_after_and_not_retried(client, api):
    call = api.post(f"{BASE}/sessions", status=429, headers={"Retry-After": "30"}, json={"msg": "slow down"})
    with pytest.raises(LivyThrottled) as err:
        client.create_session(SessionSpec(name="x"))
    assert err.value.retry_after == 30.0 and "30 s" in str(err.value)
    assert call.call_count == 1


def test_retry_after_as_http_date(client, api):
    api.post(f"{BASE}/sessions", status=429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"})
    with pytest.raises(LivyThrottled) as err:
        client.create_session(SessionSpec(name="x"))
    assert err.value.retry_after == 0.0  # a date in the past: no wait


@pytest.mark.parametrize("status", [401, 403])
def test_auth_errors(client, api, status):
    api.get(f"{BASE}/sessions/3", status=status, json={"msg": "no"})
    with pytest.raises(LivyAuthError):
        client.get_session("3")


def test_other_http_error_keeps_status_and_body(client, api):
    api.post(f"{BASE}/sessions/3/statements", status=400, json={"msg": "Session is in state starting"})
    with pytest.raises(LivyHTTPError) as err:
        client.submit_statement("3", "1")
    assert err.value.status == 400 and err.value.body == {"msg": "Session is in state starting"}
    assert type(err.value) is LivyHTTPError


def test_non_json_body_is_an_http_error(client, api):
    api.get(f"{BASE}/sessions/3", body="<html>gateway</html>", status=200)
    with pytest.raises(LivyHTTPError):
        client.get_session("3")


def test_connection_refused_is_unavailable():
    # Port 9 (discard) on loopback: nothing listens, the connection is refused.
    client = LivyClient(ApacheLivyBackend("http://127.0.0.1:9"), timeout=2)
    with pytest.raises(LivyUnavailable) as err:
        client.list_sessions()
    assert "cannot be reached" in str(err.value)


# --------------------------------------------------------------------------- retries
@pytest.mark.parametrize("status", [429, 502, 503, 504])
def test_get_is_retried_on_retryable_status(client, api, status):
    api.get(f"{BASE}/sessions/3", status=status, headers={"Retry-After": "0"})
    api.get(f"{BASE}/sessions/3", json=session_json(3, "idle"))
    assert client.get_session("3").state is SessionState.IDLE
    assert len(api.calls) == 2


def test_get_gives_up_after_the_retry_budget(client, api):
    api.get(f"{BASE}/sessions/3", status=503, headers={"Retry-After": "0"})
    with pytest.raises(LivyHTTPError) as err:
        client.get_session("3")
    assert err.value.status == 503
    assert len(api.calls) == 4  # the first try and three retries


def test_long_retry_after_is_not_waited_out(client, api):
    api.get(f"{BASE}/sessions/3", status=429, headers={"Retry-After": "120"})
    with pytest.raises(LivyThrottled) as err:
        client.get_session("3")
    assert err.value.retry_after == 120.0
    assert len(api.calls) == 1


def test_post_is_not_retried_on_503(client, api):
    api.post(f"{BASE}/sessions/3/statements", status=503)
    with pytest.raises(LivyHTTPError):
        client.submit_statement("3", "1")
    assert len(api.calls) == 1


IDLE = (200, {"id": 1, "state": "idle", "kind": "pyspark"}, {})
UNAVAILABLE = (503, {"msg": "unavailable"}, {"Retry-After": "0"})


class _ScriptedLivy(http.server.ThreadingHTTPServer):
    """A real HTTP server on loopback, so urllib3's own retry loop runs. The n-th request
    gets ``script[n]`` (the last entry repeats): ``"drop"`` closes the connection after
    reading the request (a read error, as when Livy restarts), ``"silent"`` never answers,
    ``(status, body, headers)`` answers. ``hits`` counts requests."""

    def __init__(self, script):
        self.script = list(script)
        self.hits = 0
        self.release = threading.Event()
        super().__init__(("127.0.0.1", 0), _ScriptedHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class _ScriptedHandler(http.server.BaseHTTPRequestHandler):
    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        server = self.server
        action = server.script[min(server.hits, len(server.script) - 1)]
        server.hits += 1
        if action == "drop":
            self.close_connection = True
            self.connection.shutdown(2)
            return
        if action == "silent":
            server.release.wait(5)
            return
        status, body, headers = action
        data = json.dumps(body).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = _handle

    def log_message(self, *args):
        pass


@pytest.fixture
def scripted_livy():
    servers = []

    def start(*script):
        server = _ScriptedLivy(script)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


def test_get_is_retried_after_dropped_connections_over_real_http(scripted_livy):
    server = scripted_livy("drop", "drop", IDLE)
    client = LivyClient(ApacheLivyBackend(server.url), timeout=5)
    assert client.get_session("1").state is SessionState.IDLE
    assert server.hits == 3


def test_post_dropped_after_sending_is_outcome_unknown_and_not_resent(scripted_livy):
    server = scripted_livy("drop", "drop", IDLE)
    client = LivyClient(ApacheLivyBackend(server.url), timeout=5)
    with pytest.raises(LivyOutcomeUnknown):
        client.create_session(SessionSpec(name="once"))
    assert server.hits == 1


def test_post_without_answer_is_outcome_unknown_not_unavailable(client, api):
    api.post(f"{BASE}/sessions/3/statements", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(LivyOutcomeUnknown):
        client.submit_statement("3", "1")


def test_post_to_a_closed_port_is_unavailable_and_known_unsent():
    client = LivyClient(ApacheLivyBackend("http://127.0.0.1:9"), timeout=2)
    with pytest.raises(LivyUnavailable) as err:
        client.submit_statement("3", "1")
    assert not isinstance(err.value, LivyOutcomeUnknown)


def test_get_read_timeout_is_reported_at_once_not_retried(scripted_livy):
    server = scripted_livy("silent")
    client = LivyClient(ApacheLivyBackend(server.url), timeout=0.5)
    with pytest.raises(LivyUnavailable, match="did not answer within 0.5 s"):
        client.get_session("1")
    assert server.hits == 1


def test_get_503s_are_retried_by_urllib3_over_real_http(scripted_livy):
    server = scripted_livy(UNAVAILABLE, UNAVAILABLE, IDLE)
    client = LivyClient(ApacheLivyBackend(server.url), timeout=5)
    assert client.get_session("1").state is SessionState.IDLE
    assert server.hits == 3


def test_post_503_is_not_retried_over_real_http(scripted_livy):
    server = scripted_livy(UNAVAILABLE, IDLE)
    client = LivyClient(ApacheLivyBackend(server.url), timeout=5)
    with pytest.raises(LivyHTTPError) as err:
        client.submit_statement("1", "x")
    assert err.value.status == 503 and server.hits == 1


@pytest.mark.parametrize("body", [
    {"id": 0, "state": "available", "code": "x", "started": 1e30},
    {"id": 0, "state": "available", "code": "x", "output": {"status": "ok", "data": "text"}},
    {"id": 0, "state": "available", "code": "x", "output": {"status": "error", "traceback": "not a list"}},
    {"id": "zero", "state": "available"},
    ["not", "an", "object"],
])
def test_a_malformed_statement_is_a_protocol_error_never_a_crash(client, api, body):
    from livy.remote.errors import LivyProtocolError

    api.get(f"{BASE}/sessions/1/statements/0", json=body)
    with pytest.raises(LivyProtocolError):
        client.get_statement("1", 0)


@pytest.mark.parametrize("body", [
    {"id": 1, "state": "idle", "log": [1, 2], "appInfo": {"sparkUiUrl": 5}},
    {"id": 1, "state": "idle", "appInfo": "nope"},
    {"from": 0, "total": "lots", "log": []},
])
def test_malformed_session_and_log_answers_are_read_or_refused_cleanly(client, api, body):
    """Either a usable value (bad fields dropped, lines as text) or LivyProtocolError: never
    OverflowError, TypeError or the like, which would be a 500."""
    from livy.remote.errors import LivyProtocolError

    api.get(f"{BASE}/sessions/1", json=body)
    api.get(f"{BASE}/sessions/1/log", json=body)
    for call in (lambda: client.get_session("1"), lambda: client.get_session_log("1")):
        try:
            value = call()
        except LivyProtocolError:
            continue
        lines = getattr(value, "log", None) or getattr(value, "lines", [])
        assert all(isinstance(line, str) for line in lines)
        assert all(isinstance(v, str) for v in getattr(value, "app_info", {}).values())
