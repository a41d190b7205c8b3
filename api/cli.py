"""A small command-line client of the API, for scripts and CI: ``python -m api.cli``.

    export LIVY_WEB_URL=https://spark.example.com LIVY_WEB_TOKEN=lwt_…   # or an Entra access token
    python -m api.cli run 'spark.range(100).count()'        # prints the result; exit 1 if it failed
    python -m api.cli run -f job.py --kind pyspark --timeout 600
    python -m api.cli wait 42                                # waits for statement 42
    python -m api.cli sessions [--mine]
    python -m api.cli batch submit etl_job.py --py-files packages.zip --files configs/etl_config.json \
        --arg=--output --arg /tmp/out                       # uploads, waits, prints the log's end
    python -m api.cli batch wait 7
    python -m api.cli notebook deploy report.ipynb [--id 12]  # import (or replace notebook 12's cells)
    python -m api.cli notebook export 12 -o report.ipynb
    python -m api.cli notebook run 12 --param day=2026-12-01 --wait

Exit status: 0 the statement, job or run succeeded (``available``, ``success``,
``succeeded``), 1 it failed (error, dead, killed, cancelled, failed), 2 a usage or HTTP error
(the problem's detail on stderr), 3 the timeout passed first. Job files given as local paths
are uploaded; URIs (``hdfs://…``, ``abfss://…``, ``local:/…``) are sent as paths. Needs only
``requests``; the token is read from ``LIVY_WEB_TOKEN`` (never from the command line, where
other users could read it in the process list).
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
    """An error answer (``status``: its HTTP status, 0 when the server was not reached)."""

    def __init__(self, message: str, status: int = 0):
        super().__init__(message)
        self.status = status


class Client:
    def __init__(self, base_url: str, token: str, timeout: float = 60.0):
        self.base = base_url.rstrip("/") + "/api/v1"
        self.http = requests.Session()
        self.http.headers.update({"Authorization": f"Bearer {token}", "Accept": "application/json"})
        self.timeout = timeout

    def call(self, method: str, path: str, *, raw: bool = False, **kwargs: Any) -> Any:
        """The JSON answer of ``method path`` (``raw``: the bytes), retried after 429/503 with
        ``Retry-After``. Raises :class:`ApiError` for an error answer or no answer."""
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
            raise ApiError(f"HTTP {response.status_code} {detail}", response.status_code)
        if raw:
            return response.content
        if response.status_code == 204:
            return None
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


# ----------------------------------------------------------------------------------- batches
#: Seconds between reads of a job's state (doubled from the first up to the last).
BATCH_POLL = (1.0, 10.0)
#: Job states after which a batch never changes, and the one that is a success.
BATCH_TERMINAL = {"success", "dead", "killed", "error", "not_submitted"}


def _batch_parsers(commands: Any) -> None:
    batch = commands.add_parser("batch", help="Spark jobs (Livy batches)")
    sub = batch.add_subparsers(dest="batch_command", required=True)
    submit = sub.add_parser("submit", help="submit a job (local files are uploaded) and wait for its end")
    submit.add_argument("file", help="the main file: a local .py/.jar (uploaded) or a URI")
    for flag, dest in (("--py-files", "py_files"), ("--files", "files"), ("--jars", "jars"),
                       ("--archives", "archives")):
        submit.add_argument(flag, dest=dest, nargs="+", action="extend", default=[], metavar="FILE",
                            help="local files (uploaded) or URIs; repeatable")
    submit.add_argument("--arg", dest="args", action="append", default=[], help="one argument; repeat in order (--arg=--flag for one starting with -)")
    submit.add_argument("--conf", action="append", default=[], metavar="KEY=VALUE", help="Spark conf; repeatable")
    submit.add_argument("--name", default="", help="your name for the job")
    submit.add_argument("--class-name", default="", help="the main class of a .jar")
    submit.add_argument("--timeout", type=float, default=3600.0, help="seconds to wait for its end (default 3600)")
    submit.add_argument("--no-wait", action="store_true", help="print the job's id and return")
    submit.add_argument("--log-lines", type=int, default=50, help="lines of its log to print at the end")
    wait = sub.add_parser("wait", help="wait for a job's end, print its log's end")
    wait.add_argument("id", type=int)
    wait.add_argument("--timeout", type=float, default=3600.0)
    wait.add_argument("--log-lines", type=int, default=50)


def _is_uri(value: str) -> bool:
    return "://" in value or value.startswith("local:")


def _batch_request(args: argparse.Namespace) -> tuple[list[tuple[str, str]], list[tuple[str, tuple[str, bytes]]]]:
    """The multipart fields of ``batch submit``: text (URIs, args, conf, names) and files (local
    paths, read now so a retry after 429/503 sends them again). Raises OSError, ApiError."""
    data: list[tuple[str, str]] = []
    files: list[tuple[str, tuple[str, bytes]]] = []

    def add(field: str, value: str) -> None:
        if _is_uri(value):
            data.append((field, value))
        else:
            with open(value, "rb") as handle:
                files.append((field, (os.path.basename(value), handle.read())))

    add("file", args.file)
    for field, values in (("pyFiles", args.py_files), ("files", args.files), ("jars", args.jars),
                          ("archives", args.archives)):
        for value in values:
            add(field, value)
    if args.args:
        data.append(("args", "\n".join(args.args)))
    conf = {}
    for item in args.conf:
        key, sep, value = item.partition("=")
        if not sep:
            raise ApiError(f"--conf {item!r}: give KEY=VALUE")
        conf[key] = value
    if conf:
        data.append(("conf", json.dumps(conf)))
    if args.name:
        data.append(("name", args.name))
    if args.class_name:
        data.append(("className", args.class_name))
    return data, files


def _batch_wait(client: Client, batch: dict[str, Any], timeout: float, log_lines: int) -> int:
    deadline = time.monotonic() + timeout
    pause = BATCH_POLL[0]
    last = None
    while batch["state"] not in BATCH_TERMINAL:
        if batch["state"] != last:
            print(f"job {batch['id']}: {batch['state']}", file=sys.stderr)
            last = batch["state"]
        left = deadline - time.monotonic()
        if left <= 0:
            print(f"job {batch['id']} is still {batch['state']}", file=sys.stderr)
            return EXIT_TIMEOUT
        time.sleep(min(pause, left))
        pause = min(pause * 2, BATCH_POLL[1])
        batch = client.call("GET", f"/batches/{batch['id']}")
    if log_lines > 0:
        log = client.call("GET", f"/batches/{batch['id']}/log", params={"size": log_lines})
        for line in log["log"]:
            print(line.strip("\n"))
    print(f"job {batch['id']}: {batch['state']}" + (f" ({batch['error_message']})" if batch["error_message"] else ""),
          file=sys.stderr)
    return EXIT_OK if batch["state"] == "success" else EXIT_FAILED


def _batch(client: Client, args: argparse.Namespace) -> int:
    if args.batch_command == "wait":
        return _batch_wait(client, client.call("GET", f"/batches/{args.id}"), args.timeout, args.log_lines)
    data, files = _batch_request(args)
    # Every field as a multipart part (text ones without a file name), so the body is multipart
    # even when every file is a URI.
    parts: list[tuple[str, Any]] = [(name, (None, value)) for name, value in data] + list(files)
    batch = client.call("POST", "/batches", files=parts)
    print(batch["id"])
    if args.no_wait:
        return EXIT_OK
    return _batch_wait(client, batch, args.timeout, args.log_lines)


# --------------------------------------------------------------------------------- notebooks
def _notebook_parsers(commands: Any) -> None:
    notebook = commands.add_parser("notebook", help="notebooks: deploy, export, run")
    sub = notebook.add_subparsers(dest="notebook_command", required=True)
    deploy = sub.add_parser("deploy", help="import an .ipynb (or replace a notebook's cells with --id)")
    deploy.add_argument("path", metavar="FILE.ipynb")
    deploy.add_argument("--id", type=int, help="replace the cells of this notebook (a versioned save)")
    deploy.add_argument("--title", help="the notebook's title (default: the file's)")
    export = sub.add_parser("export", help="write a notebook as .ipynb (standard output, or -o FILE)")
    export.add_argument("id", type=int)
    export.add_argument("-o", "--output", help="the file to write")
    run = sub.add_parser("run", help="run all of a notebook's cells, optionally with parameters")
    run.add_argument("id", type=int)
    run.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                     help="a parameter (VALUE read as JSON when it is JSON, else as text); repeatable")
    run.add_argument("--wait", action="store_true", help="wait for the run's end and print each cell's state")
    run.add_argument("--timeout", type=float, default=3600.0)


def _parameter(item: str) -> tuple[str, Any]:
    name, sep, text = item.partition("=")
    if not sep or not name:
        raise ApiError(f"--param {item!r}: give NAME=VALUE")
    try:
        return name, json.loads(text)
    except ValueError:
        return name, text


def _show_run(run: dict[str, Any]) -> int:
    for cell in run["cells"]:
        where = "parameters" if cell["injected"] else f"cell {(cell['position'] or 0) + 1}"
        text = (cell.get("output") or {}).get("text") or ""
        print(f"{where}\t{cell['state']}\t{text.splitlines()[0][:100] if text else ''}")
        if cell.get("error"):
            print(f"{cell['error']['ename']}: {cell['error']['evalue']}", file=sys.stderr)
    print(run["message"], file=sys.stderr)
    if not run["terminal"]:
        return EXIT_TIMEOUT
    return EXIT_OK if run["state"] == "succeeded" else EXIT_FAILED


def _notebook(client: Client, args: argparse.Namespace) -> int:
    if args.notebook_command == "export":
        content = client.call("GET", f"/notebooks/{args.id}.ipynb", raw=True)
        if args.output:
            with open(args.output, "wb") as handle:
                handle.write(content)
        else:
            sys.stdout.write(content.decode("utf-8"))
        return EXIT_OK
    if args.notebook_command == "deploy":
        with open(args.path, "rb") as handle:
            content = handle.read()
        if args.id is None:
            params = {"title": args.title} if args.title else {}
            notebook = client.call("POST", "/notebooks", params=params, data=content,
                                   headers={"Content-Type": "application/x-ipynb+json"})
        else:
            try:
                body = json.loads(content)
            except ValueError:
                raise ApiError(f"{args.path} is not JSON: not an .ipynb") from None
            current = client.call("GET", f"/notebooks/{args.id}")
            save = {"version": current["version"], "ipynb": body, **({"title": args.title} if args.title else {})}
            notebook = client.call("PUT", f"/notebooks/{args.id}", json=save)
        for notice in notebook.get("notices", []):
            print(notice, file=sys.stderr)
        print(notebook["id"])
        return EXIT_OK
    parameters = dict(_parameter(p) for p in args.param) or None
    first = min(WAIT_PER_REQUEST, args.timeout) if args.wait else 0.0
    run = client.call("POST", f"/notebooks/{args.id}/runs", params={"wait": first}, json={"parameters": parameters})
    if not args.wait:
        print(run["id"])
        return EXIT_OK
    deadline = time.monotonic() + args.timeout - first
    while not run["terminal"] and time.monotonic() < deadline:
        left = deadline - time.monotonic()
        run = client.call("GET", f"/runs/{run['id']}", params={"wait": max(0.0, min(WAIT_PER_REQUEST, left))})
    return _show_run(run)


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
    _batch_parsers(commands)
    _notebook_parsers(commands)
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
        if args.command == "batch":
            return _batch(client, args)
        if args.command == "notebook":
            return _notebook(client, args)
        page = client.call("GET", "/sessions", params={"mine": args.mine, "limit": args.limit})
        if args.json:
            print(json.dumps(page, indent=2))
        for s in page["items"]:
            print(f"{s['id']}\t{s['state']}\t{s['owner']}\t{s['created_at']}\t{s['name']}")
        return EXIT_OK
    except ApiError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
