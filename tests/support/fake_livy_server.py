"""A fake Apache Livy on a real loopback port, for tests where the app runs in other processes
(gunicorn workers) and `responses` cannot reach: a threaded :mod:`http.server` answering
the REST calls the app makes, with Livy 0.9's payloads, and counting what it was sent.

Sessions are ``starting`` for :attr:`FakeLivyServer.start_seconds` after the create call, then
``idle``; statements are ``available`` (output ``"ran: <code>"``) as soon as they are sent.
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.support.livy_json import ok_output, session_json, statement_json
from tests.support.loopback import LoopbackServer

_SESSION = re.compile(r"^/sessions/(\d+)$")
_STATEMENTS = re.compile(r"^/sessions/(\d+)/statements$")
_STATEMENT = re.compile(r"^/sessions/(\d+)/statements/(\d+)$")
_CANCEL = re.compile(r"^/sessions/(\d+)/statements/(\d+)/cancel$")


class FakeLivyServer(LoopbackServer):
    """Start with :meth:`start` (or use as a context manager); :attr:`url` is its base URL.

    ``create_delay`` seconds pass before ``POST /sessions`` answers (a real Livy takes a
    moment too), which widens the window in which concurrent requests race to start one.
    Counters: :attr:`session_posts` (the names sent), :attr:`statement_posts` (``(session
    id, code)`` pairs, in arrival order)."""

    def __init__(self, *, start_seconds: float = 0.5, create_delay: float = 0.3, version: str = "0.9.0-fake"):
        self.start_seconds = start_seconds
        self.create_delay = create_delay
        self.version = version
        self.lock = threading.Lock()
        self.sessions: dict[int, dict[str, Any]] = {}
        self.statements: dict[int, list[dict[str, Any]]] = {}
        self.session_posts: list[str] = []
        self.statement_posts: list[tuple[int, str]] = []
        self.requests: list[tuple[str, str]] = []
        super().__init__(self._handler(), name="fake-livy")

    # -- Livy's answers ----------------------------------------------------------------
    def _session(self, sid: int) -> dict[str, Any]:
        entry = self.sessions[sid]
        state = entry["state"]
        if state == "starting" and time.monotonic() - entry["created"] >= self.start_seconds:
            state = entry["state"] = "idle"
        return session_json(sid, state, name=entry["name"])

    def answer(self, method: str, path: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """Livy's status and JSON body for one request (called by the HTTP handler)."""
        with self.lock:
            self.requests.append((method, path))
        if method == "GET" and path == "/version":
            return 200, {"version": self.version, "branch": "master", "revision": "fake", "user": "fake",
                         "date": "2026-01-01T00:00:00Z", "url": "https://github.com/apache/incubator-livy"}
        if method == "POST" and path == "/sessions":
            time.sleep(self.create_delay)  # Livy's own latency, not synchronisation
            with self.lock:
                sid = len(self.sessions)
                self.session_posts.append(body.get("name", ""))
                self.sessions[sid] = {"name": body.get("name", ""), "state": "starting", "created": time.monotonic()}
                self.statements[sid] = []
                return 201, self._session(sid)
        if method == "GET" and path == "/sessions":
            with self.lock:
                items = [self._session(sid) for sid in sorted(self.sessions)]
            return 200, {"from": 0, "total": len(items), "sessions": items}
        if match := _SESSION.match(path):
            sid = int(match[1])
            with self.lock:
                if sid not in self.sessions:
                    return 404, {"msg": f"Session '{sid}' not found."}
                if method == "DELETE":
                    self.sessions[sid]["state"] = "dead"
                    return 200, {"msg": "deleted"}
                return 200, self._session(sid)
        if match := _STATEMENTS.match(path):
            sid = int(match[1])
            with self.lock:
                if sid not in self.sessions:
                    return 404, {"msg": f"Session '{sid}' not found."}
                listed = self.statements[sid]
                if method == "GET":
                    return 200, {"total_statements": len(listed), "statements": listed}
                state = self._session(sid)["state"]
                if state not in ("idle", "busy"):
                    return 400, {"msg": f"Session {sid} is {state}: not ready to accept statements"}
                code = body.get("code", "")
                self.statement_posts.append((sid, code))
                stmt = statement_json(len(listed), "available", code, output=ok_output(f"ran: {code}", len(listed)),
                                      progress=1.0)
                listed.append(stmt)
                return 201, {**stmt, "state": "waiting", "output": None, "progress": 0.0}
        if match := _STATEMENT.match(path):
            sid, index = int(match[1]), int(match[2])
            with self.lock:
                listed = self.statements.get(sid)
                if listed is None or index >= len(listed):
                    return 404, {"msg": "Statement not found."}
                return 200, listed[index]
        if _CANCEL.match(path):
            return 200, {"msg": "canceled"}
        return 404, {"msg": f"fake Livy has no {method} {path}"}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _reply(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body = json.loads(raw) if raw else {}
                except ValueError:
                    body = {}
                status, answer = fake.answer(self.command, self.path.split("?", 1)[0], body)
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = _reply

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

        return Handler
