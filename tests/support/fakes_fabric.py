"""A stateful HTTP-level fake of Fabric's Livy API for `responses`, checked against the
official swagger: every request the app sends and every response the fake returns goes
through :class:`tests.contract.swagger.SwaggerContract`, and a mismatch fails the test.

Behaviour (from the swagger and Fabric's Livy API docs): ``POST /sessions`` answers 202 with
a GUID id and only ``fabricSessionStateInfo``; the session then goes through acquisition
phases (``queued`` → ``acquiringSession``) before Livy states (``starting`` → ``idle``);
statements run for a poll or two; every call needs a bearer token the fake Entra issued for
the Fabric scope; errors are ``ErrorResponse`` bodies with a ``requestId``.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import responses

from tests.contract.swagger import SwaggerContract

WORKSPACE = "f8113ba8-dd81-443e-811a-b385340f3f05"
LAKEHOUSE = "8cee7699-2e81-4121-9a53-cc9025046193"
ENDPOINT = (f"https://api.fabric.microsoft.com/v1/workspaces/{WORKSPACE}/lakehouses/{LAKEHOUSE}"
            f"/livyapi/versions/2023-12-01")

#: Session progression, one step per GET: acquisition phases, then Livy states.
SESSION_STEPS = [
    {"fabricSessionStateInfo": {"state": "queued"}},
    {"fabricSessionStateInfo": {"state": "acquiringSession"}},
    {"state": "starting"},
    {"state": "idle"},
]

_CONTRACT: SwaggerContract | None = None


def contract() -> SwaggerContract:
    """The swagger contract, loaded (and the description validated) once per test run."""
    global _CONTRACT
    if _CONTRACT is None:
        _CONTRACT = SwaggerContract()
    return _CONTRACT


def error_body(code: str, message: str) -> dict:
    return {"errorCode": code, "message": message, "requestId": str(uuid.uuid4())}


@dataclass
class FakeSession:
    id: str
    name: str
    conf: dict
    polls: int = 0
    deleted: bool = False
    statements: list[dict] = field(default_factory=list)
    tag: str = ""  # high concurrency: the sessionTag of the REPLs packed in it
    repls: list[FakeRepl] = field(default_factory=list)


#: REPLs Fabric packs into one Livy session (Microsoft: "up to 5").
REPLS_PER_SESSION = 5
#: High-concurrency progression, one step per GET: NotStarted, Acquiring..., then Idle.
HC_STEPS = ["NotStarted", "AcquiringHighConcurrencySession", "Idle"]


@dataclass
class FakeRepl:
    """One high-concurrency session: a REPL with its own variables, packed into a Livy session
    once Idle (``sessionId``/``replId`` are absent before)."""

    id: str
    tag: str
    created_at: str
    polls: int = 0
    session: FakeSession | None = None
    repl_id: str | None = None
    state: str = "NotStarted"
    failure: str | None = None  # Failed: fabricSessionStateInfo.errorMessage
    variables: dict[str, str] = field(default_factory=dict)
    statements: list[dict] = field(default_factory=list)


class FakeFabric:
    """Fabric's Livy API for one lakehouse. ``outputs`` maps code to the statement's final
    ``(state, output)``; other code runs until cancelled. ``token_ok`` says whether a bearer
    token is valid (e.g. issued by the fake Entra). ``inject(operation_id, status, body,
    headers)`` queues a one-off answer for the next call of that operation."""

    def __init__(self, mock: responses.RequestsMock, outputs: dict[str, tuple[str, dict]],
                 token_ok: Callable[[str], bool], endpoint: str = ENDPOINT):
        self.mock = mock
        self.outputs = outputs
        self.token_ok = token_ok
        self.endpoint = endpoint
        self.sessions: dict[str, FakeSession] = {}
        self.repls: dict[str, FakeRepl] = {}  # high-concurrency sessions by their id
        self.fail_acquires: deque[str] = deque()  # errorMessages of the next acquires to end Failed
        self.exchanges: list[tuple[str, str, int]] = []  # (operation id, method, status)
        self.injected: dict[str, deque] = defaultdict(deque)
        self.tokens_seen: list[str] = []
        base = re.escape(urlsplit(endpoint).path)
        for method in ("GET", "POST", "DELETE"):
            mock.add_callback(method, re.compile(rf"https://api\.fabric\.microsoft\.com{base}/.*", re.IGNORECASE),
                              callback=self._handle)
            mock.add_callback(method, re.compile(rf"https://api\.fabric\.microsoft\.com{base}(\?.*)?$", re.IGNORECASE),
                              callback=self._handle)

    def inject(self, operation_id: str, status: int, body: dict | None = None, headers: dict | None = None) -> None:
        self.injected[operation_id].append((status, body, headers or {}))

    def calls(self, operation_id: str) -> list[tuple[str, str, int]]:
        return [x for x in self.exchanges if x[0] == operation_id]

    # ------------------------------------------------------------------------------ dispatch
    def _handle(self, request):
        c = contract()
        op = c.check_request(request.method, request.url, request.body)
        status, body, headers = self._answer(op.operation_id, request)
        text = json.dumps(body) if body is not None else ""
        c.check_response(request.method, request.url, status, text or None)
        self.exchanges.append((op.operation_id, request.method, status))
        return status, {"Content-Type": "application/json", **headers}, text

    def _answer(self, operation_id: str, request):
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        self.tokens_seen.append(token)
        if not self.token_ok(token):
            return 401, error_body("TokenExpired", "Access token has expired, resubmit with a new access token"), {}
        if self.injected[operation_id]:
            return self.injected[operation_id].popleft()
        _, path_params = contract().operation(request.method, request.url)
        session = self.sessions.get(path_params.get("sessionId", ""))
        if "sessionId" in path_params and (session is None or session.deleted):
            return 404, error_body("LivySessionNotFound", f"Session {path_params['sessionId']} was not found."), {}
        handler = getattr(self, "_" + operation_id.split("_", 1)[1])
        return handler(request, session, path_params)

    # ----------------------------------------------------------------------------- sessions
    def _session_json(self, session: FakeSession) -> dict:
        step = SESSION_STEPS[min(session.polls, len(SESSION_STEPS) - 1)]
        body = {"id": session.id, "name": session.name, "artifactId": LAKEHOUSE,
                "submitterId": "6f23a8a6-d954-4550-b91a-4df73ccd0311", "submitterName": "Erin Editor",
                "jobType": "SparkSession", "tags": {}, **step}
        if "state" in step:
            body["appId"] = "application_1732000000000_0001"
            body["appInfo"] = {"sparkUiUrl": "https://app.powerbi.com/workloads/de-ds/sparkmonitor/fake"}
            body["livyInfo"] = {"startingAt": "2026-11-22T04:00:00Z", "currentState": step["state"]}
            if step["state"] == "idle":
                body["livyInfo"]["idleAt"] = "2026-11-22T04:00:40Z"
                if any(s["state"] in ("waiting", "running") for s in session.statements):
                    body["state"] = "busy"
        return body

    def _AcquireSparkSessionAsync(self, request, session, params):
        payload = json.loads(request.body)
        new = FakeSession(id=str(uuid.uuid4()), name=payload.get("name", ""), conf=payload.get("conf", {}))
        self.sessions[new.id] = new
        return 202, self._session_json(new), {}

    def _GetSparkSessionAsync(self, request, session, params):
        session.polls += 1
        return 200, self._session_json(session), {}

    def _ListSparkSessionsAsync(self, request, session, params):
        from urllib.parse import parse_qs

        query = parse_qs(urlsplit(request.url).query)
        top = int(query.get("$top", ["20"])[0])
        skip = int(query.get("$skip", ["0"])[0])
        live = [s for s in self.sessions.values() if not s.deleted]
        items = [{"id": s.id, "name": s.name, "livyState": self._session_json(s).get("state", "not_started"),
                  "workspaceId": WORKSPACE, "artifactId": LAKEHOUSE} for s in live[skip:skip + top]]
        return 200, {"items": items, "totalCountOfMatchedItems": len(live), "pageSize": top}, {}

    def _DeleteSparkSessionAsync(self, request, session, params):
        session.deleted = True
        return 200, None, {}

    def _ResetSparkSessionTimeoutAsync(self, request, session, params):
        return 204, None, {}

    # --------------------------------------------------------------------------- statements
    def _ExecuteSparkSessionStatementAsync(self, request, session, params):
        if session.polls < len(SESSION_STEPS) - 1:
            return 400, error_body("SessionNotReady", "The session is not ready to accept statements."), {}
        payload = json.loads(request.body)
        stmt = {"id": len(session.statements), "code": payload["code"], "state": "waiting", "polls": 0}
        session.statements.append(stmt)
        return 200, {"id": stmt["id"], "code": stmt["code"], "state": "waiting"}, {}

    def _statement_json(self, stmt: dict) -> dict:
        body = {"id": stmt["id"], "code": stmt["code"], "state": stmt["state"]}
        if "output" in stmt:
            body["output"] = stmt["output"]
        return body

    def _GetSparkSessionStatementAsync(self, request, session, params):
        stmt = session.statements[int(params["statementId"])]
        stmt["polls"] += 1
        if stmt["state"] in ("waiting", "running"):
            final = self.outputs.get(stmt["code"])
            if final is None or stmt["polls"] < 2:
                stmt["state"] = "running"
            else:
                stmt["state"], output = final
                if output is not None:  # None: Fabric calls it finished without an output
                    stmt["output"] = output
        elif stmt["state"] == "cancelling":
            stmt["state"] = "cancelled"
        return 200, self._statement_json(stmt), {}

    def _ListSparkSessionStatementsAsync(self, request, session, params):
        return 200, {"statements": [self._statement_json(s) for s in session.statements],
                     "total_statements": len(session.statements)}, {}

    def _CancelSparkStatementAsync(self, request, session, params):
        stmt = session.statements[int(params["statementId"])]
        if stmt["state"] in ("waiting", "running"):
            stmt["state"] = "cancelling"
        return 200, {"msg": "canceled"}, {}


    # ---------------------------------------------------------------- high concurrency
    def spark_applications(self) -> list[FakeSession]:
        """The Livy sessions (Spark applications) still running."""
        return [s for s in self.sessions.values() if not s.deleted]

    def live_repls(self) -> list[FakeRepl]:
        return [r for r in self.repls.values() if r.state not in ("Deleting", "Killed", "Dead", "Failed")]

    def _hc_json(self, repl: FakeRepl) -> dict:
        body = {"id": repl.id, "state": repl.state, "workspaceId": WORKSPACE, "artifactId": LAKEHOUSE,
                "creatorId": "6f23a8a6-d954-4550-b91a-4df73ccd0311", "createdAt": repl.created_at}
        if repl.tag:
            body["sessionTag"] = repl.tag
        if repl.state == "AcquiringHighConcurrencySession":
            body["fabricSessionStateInfo"] = {"state": "acquiringSession"}
        if repl.failure is not None:
            body["fabricSessionStateInfo"] = {"state": "error", "errorMessage": repl.failure}
        if repl.session is not None and repl.repl_id and repl.state == "Idle":
            body["sessionId"], body["replId"] = repl.session.id, repl.repl_id
        return body

    def _pack(self, repl: FakeRepl) -> None:
        """Put ``repl`` into a live Livy session of its tag with room, else a new one."""
        host = next((s for s in self.spark_applications()
                     if s.tag == repl.tag and len([r for r in s.repls if r in self.live_repls()]) < REPLS_PER_SESSION),
                    None)
        if host is None:
            host = FakeSession(id=str(uuid.uuid4()), name=f"hc-{repl.tag or 'untagged'}-{len(self.sessions)}",
                               conf={}, polls=len(SESSION_STEPS), tag=repl.tag)
            self.sessions[host.id] = host
        host.repls.append(repl)
        repl.session, repl.repl_id = host, str(uuid.uuid4())

    def _AcquireHighConcurrencySparkSessionAsync(self, request, session, params):
        payload = json.loads(request.body)
        repl = FakeRepl(id=str(uuid.uuid4()), tag=payload.get("sessionTag", ""), created_at="2026-11-22T04:00:00Z")
        self.repls[repl.id] = repl  # never idempotent: each acquire is a new REPL
        return 202, self._hc_json(repl), {}

    def _repl(self, params) -> FakeRepl | None:
        return self.repls.get(params.get("highConcurrencySessionId", ""))

    def _GetHighConcurrencySparkSessionAsync(self, request, session, params):
        repl = self._repl(params)
        if repl is None or repl.state == "Deleting" and repl.polls > 99:
            return 404, error_body("HighConcurrencySessionNotFound", "The session was not found."), {}
        repl.polls += 1
        if repl.state in HC_STEPS[:-1]:
            repl.state = HC_STEPS[min(repl.polls, len(HC_STEPS) - 1)]
            if repl.state == "Idle":
                if self.fail_acquires:
                    repl.state, repl.failure = "Failed", self.fail_acquires.popleft()
                else:
                    self._pack(repl)
        if repl.session is not None and repl.session.deleted and repl.state == "Idle":
            repl.state = "Dead"  # its Spark application ended
        return 200, self._hc_json(repl), {}

    def _DeleteHighConcurrencySparkSessionAsync(self, request, session, params):
        repl = self._repl(params)
        if repl is None:
            return 404, error_body("HighConcurrencySessionNotFound", "The session was not found."), {}
        repl.state = "Deleting"
        host = repl.session
        if host is not None and not any(r in self.live_repls() for r in host.repls):
            host.deleted = True  # the last REPL gone: Fabric ends the Spark application
        return 200, None, {}

    def _repl_in(self, session, params) -> FakeRepl | None:
        return next((r for r in session.repls if r.repl_id == params["replId"] and r in self.live_repls()), None)

    def _run_in_repl(self, repl: FakeRepl, code: str) -> tuple[str, dict] | None:
        """A tiny Python REPL: ``name = value`` keeps ``value`` in this REPL only; ``name``
        prints it or is a NameError; other code answers from ``outputs`` or runs on."""
        count = len(repl.statements)
        if (assign := re.fullmatch(r"\s*([A-Za-z_]\w*)\s*=\s*(.+?)\s*", code)):
            repl.variables[assign.group(1)] = assign.group(2)
            return "available", {"status": "ok", "execution_count": count, "data": {"text/plain": ""}}
        if (name := re.fullmatch(r"\s*([A-Za-z_]\w*)\s*", code)):
            if name.group(1) in repl.variables:
                return "available", {"status": "ok", "execution_count": count,
                                     "data": {"text/plain": repl.variables[name.group(1)]}}
            return "available", {"status": "error", "execution_count": count, "ename": "NameError",
                                 "evalue": f"name '{name.group(1)}' is not defined",
                                 "traceback": [f"NameError: name '{name.group(1)}' is not defined\n"]}
        return self.outputs.get(code)

    def _ExecuteSparkSessionStatementInReplAsync(self, request, session, params):
        repl = self._repl_in(session, params)
        if repl is None:
            return 404, error_body("ReplNotFound", f"REPL {params['replId']} was not found."), {}
        payload = json.loads(request.body)
        stmt = {"id": len(repl.statements), "code": payload["code"], "state": "waiting", "polls": 0}
        stmt["final"] = self._run_in_repl(repl, payload["code"])
        repl.statements.append(stmt)
        return 200, {"id": stmt["id"], "code": stmt["code"], "state": "waiting"}, {}

    def _GetSparkSessionStatementInReplAsync(self, request, session, params):
        repl = self._repl_in(session, params)
        if repl is None or int(params["statementId"]) >= len(repl.statements):
            return 404, error_body("StatementNotFound", "The statement was not found."), {}
        stmt = repl.statements[int(params["statementId"])]
        stmt["polls"] += 1
        if stmt["state"] in ("waiting", "running"):
            if stmt["final"] is None or stmt["polls"] < 2:
                stmt["state"] = "running"
            else:
                stmt["state"], output = stmt["final"]
                if output is not None:
                    stmt["output"] = output
        elif stmt["state"] == "cancelling":
            stmt["state"] = "cancelled"
        return 200, self._statement_json(stmt), {}

    def _ListSparkSessionStatementsInReplAsync(self, request, session, params):
        repl = self._repl_in(session, params)
        if repl is None:
            return 404, error_body("ReplNotFound", f"REPL {params['replId']} was not found."), {}
        return 200, {"statements": [self._statement_json(s) for s in repl.statements],
                     "total_statements": len(repl.statements)}, {}

    def _CancelSparkSessionStatementInReplAsync(self, request, session, params):
        repl = self._repl_in(session, params)
        if repl is None:
            return 404, error_body("ReplNotFound", f"REPL {params['replId']} was not found."), {}
        stmt = repl.statements[int(params["statementId"])]
        if stmt["state"] in ("waiting", "running"):
            stmt["state"] = "cancelling"
        return 200, {"msg": "canceled"}, {}
