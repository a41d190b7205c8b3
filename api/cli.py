"""A small command-line client of the API, for scripts and CI: ``python -m api.cli``.

    export LIVY_WEB_URL=https://spark.example.com LIVY_WEB_TOKEN=lwt_…   # or an Entra access token
    python -m api.cli run 'spark.range(100).count()'        # prints the result; exit 1 if it failed
    python -m api.cli run -f job.py --kind pyspark --timeout 600
    python -m api.cli wait 42                                # waits for statement 42
    python -m api.cli sessions [--mine]

Exit status: 0 the statement succeeded (``available``), 1 it failed (error, cancelled,
failed), 2 a usage or HTTP error (the problem's detail on stderr), 3 the timeout passed
first. ``submit`` (batches) and ``export`` (notebooks) come with those API resources.
Needs only ``requests``; the token is read from ``LIVY_WEB_TOKEN`` (never from the command
line, where other users could read it in the process list).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

import requests

#: Seconds one request asks the server to wait (each request's ``wait``).
WAIT_PER_REQUEST = 30.0
EXIT_OK, EXIT_FAILED, EXIT_ERROR, EXIT_TIMEOUT = 0, 1, 2, 3


class ApiError(Exception):
    pass


class Client:
    def __init__(self, base_url: str, token: str, timeout: float = 60.0):
        self.base = base_url.rstrip("/") + "/api/v1"
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
        self.timeout = timeout

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        for _ in range(5):
            try:
                response = self.http.request(method, self.base + path, timeout=self.timeout + WAIT_PER_REQUEST,
                                             **kwargs)
            except requests.RequestException as exc:
                raise ApiError(f"cannot reach {self.base}: {type(exc).__name__}") from None
            if response.status_code in (429, 503) and "Retry-After" in response.headers:
                time.sleep(min(60.0, float(response.headers["Retry-After"])))
                continue
            break
        if response.status_code >= 400:
            try:
                problem = response.json()
                detail = f"{problem.get('title')}: {problem.get('detail')}"
            except ValueError:
                detail = response.text[:200]
            raise ApiError(f"HTTP {response.status_code} {detail}")
        return response.json()


def _wait(client: Client, stmt: dict[str, Any], timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not stmt["terminal"]:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        stmt = client.call("GET", f"/statements/{stmt['id']}", params={"wait": min(WAIT_PER_REQUEST, left)})
    return stmt


def _show(stmt: dict[str, Any], as_json: bool) -> int:
    if as_json:
        print(json.dumps(stmt, indent=2))
    elif stmt.get("output") and stmt["output"].get("table"):
        table = stmt["output"]["table"]
        print("\t".join(h["name"] for h in table["headers"]))
        for row in table["rows"]:
            print("\t".join("null" if v is None else str(v) for v in row))
    elif stmt.get("output") and stmt["output"].get("text") is not None:
        print(stmt["output"]["text"])
    if stmt.get("error"):
        error = stmt["error"]
        print(f"{error['ename']}: {error['evalue']}", file=sys.stderr)
        for line in error["traceback"][-20:]:
            print(line, file=sys.stderr)
    if not stmt["terminal"]:
        print(f"statement {stmt['id']} is still {stmt['state']}", file=sys.stderr)
        return EXIT_TIMEOUT
    return EXIT_OK if stmt["state"] == "available" else EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m api.cli", description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default=os.environ.get("LIVY_WEB_URL", "http://localhost:5000"),
                        help="the app's base URL (LIVY_WEB_URL)")
    parser.add_argument("--json", action="store_true", help="print the whole statement as JSON")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help="run code in your session and wait for its result")
    run.add_argument("code", nargs="?", help="the code (or -f FILE, or standard input with -)")
    run.add_argument("-f", "--file", help="read the code from FILE")
    run.add_argument("--kind", default="pyspark", choices=["pyspark", "sql", "spark", "sparkr"])
    run.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for the result (default 600)")
    run.add_argument("--no-wait", action="store_true", help="print the statement id and return")
    wait = commands.add_parser("wait", help="wait for a statement and print its result")
    wait.add_argument("id", type=int)
    wait.add_argument("--timeout", type=float, default=600.0)
    sessions = commands.add_parser("sessions", help="list sessions, newest first")
    sessions.add_argument("--mine", action="store_true", help="only your own")
    sessions.add_argument("--limit", type=int, default=20)
    args = parser.parse_args(argv)

    token = os.environ.get("LIVY_WEB_TOKEN", "")
    if not token:
        print("Set LIVY_WEB_TOKEN to a personal access token or an Entra access token.", file=sys.stderr)
        return EXIT_ERROR
    client = Client(args.url, token)
    try:
        if args.command == "run":
            if args.file:
                with open(args.file, encoding="utf-8") as handle:
                    code = handle.read()
            elif args.code in (None, "-"):
                code = sys.stdin.read()
            else:
                code = args.code
            first = 0.0 if args.no_wait else min(WAIT_PER_REQUEST, args.timeout)
            stmt = client.call("POST", "/statements", params={"wait": first}, json={"code": code, "kind": args.kind})
            if args.no_wait:
                print(stmt["id"])
                return EXIT_OK
            return _show(_wait(client, stmt, args.timeout - first), args.json)
        if args.command == "wait":
            stmt = client.call("GET", f"/statements/{args.id}")
            return _show(_wait(client, stmt, args.timeout), args.json)
        page = client.call("GET", "/sessions", params={"mine": args.mine, "limit": args.limit})
        if args.json:
            print(json.dumps(page, indent=2))
        for s in page["items"]:
            print(f"{s['id']}\t{s['state']}\t{s['owner']}\t{s['created_at']}\t{s['name']}")
        return EXIT_OK
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
