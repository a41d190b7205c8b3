"""End-to-end figures of the notebook against the REAL local Apache Livy (``make bench-livy``).

One run measures, side by side and each with its goal:

1. submit->visible of ``1+1`` through the app as a browser uses it (headless Chromium clicks
   ``#run-button``; the page itself times it: ``performance.now()`` in a capturing click
   listener to the first MutationObserver callback that sees the new ``li[id^=statement-]``
   with a terminal ``data-state``), against submit->available of a direct REST client
   (requests: POST the statement, then GET it every 10 ms). A third side (1b, ``--no-rerun``
   leaves it out) clicks the last statement's Re-run button instead. The sides take turns,
   each going first in turn, so machine noise hits all of them. The app and the direct
   client each have their own Livy session, both started before the samples.
2. available->visible: Livy's ``completed`` (epoch ms, read from Livy after the fact) to the
   browser's ``Date.now()`` when the observer saw the result (same machine, same clock).
3. Livy requests the app makes: every app->Livy request passes through a counting proxy
   (``benchmarks/livy_proxy.py``; the app's ``LIVY_BASE_ENDPOINT`` points at it): per trivial
   statement, per polling interval and per minute while a 30 s statement runs, and per minute
   while the page stays open with everything finished.
4. first result for a new user (the click that starts the session) and for a returning one
   (a new browser context signs in again and reuses the session); the direct client's own
   session start + first statement is the reference.
5. requests/s, p50 and p99 of the poll endpoint with everything finished, under gunicorn with
   serve.sh's flags (2 workers x 4 threads), the user having a few hundred finished statements,
   from a load generator in a second process (``benchmarks/loadgen.py``).

The app runs as production does: gunicorn with scripts/serve.sh's flags (plus a log format with
request durations; restarted before each load window so its --max-requests restarts do not
land in one window only), DEBUG=false, a temporary SQLite database and static root under /tmp
(``benchmarks/bench_settings.py``), plain HTTP (SECURE_SSL_REDIRECT=false, HSTS 0). It serves a
copy of the working tree taken at the start (others edit the checkout meanwhile; the JSON
records HEAD and a fingerprint of the copy). ``--server-timing`` adds a diagnostic middleware
(``benchmarks/server_timing.py``: wall, CPU, SQL, Livy and run-queue time per request); leave
it off for the figures of record. Everything the benchmark starts (proxy, gunicorn, browser,
load generator, Livy sessions) it stops; every wait is bounded.

Prints a table (figure, value, goal, pass/fail) with the date and machine, and writes the same
as JSON to benchmarks/results/latest.json.

    make bench-livy                         # scripts/livy/livy.sh up first
    .venv/bin/python benchmarks/bench_livy.py --samples 30 --idle-seconds 60
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import math
import os
import platform
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.livy_proxy import CountingProxy, Record, pattern  # noqa: E402
from tests.support.polling import wait_for  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
TERMINAL = ("available", "error", "cancelled", "failed", "dead", "killed")
PASSWORD = "bench-" + secrets.token_urlsafe(12)
TRIVIAL = "1+1"
#: gunicorn as scripts/serve.sh starts it (keep in step), plus request durations in the log.
SERVE_FLAGS = ["--workers", "2", "--threads", "4", "--timeout", "120", "--graceful-timeout", "30",
               "--keep-alive", "5", "--no-control-socket", "--max-requests", "20000",
               "--max-requests-jitter", "2000", "--access-logfile", "-", "--error-logfile", "-"]
ACCESS_FORMAT = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(D)s'


# =============================================================================== helpers
def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def pct(values: list[float], q: float) -> float | None:
    """Nearest-rank quantile ``q`` (0..1); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1))]


def med(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def r1(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def machine() -> dict[str, Any]:
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    return {"nproc": os.cpu_count(), "cpu_model": model, "memory_gib": round(mem_kb / 1024 / 1024, 1),
            "kernel": platform.release(), "python": platform.python_version(),
            "loadavg_at_start": list(os.getloadavg())}


def machine_cpu_seconds() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine since boot, from /proc/stat."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return 0.0, 0.0
    tick = os.sysconf("SC_CLK_TCK")
    total = sum(fields[:8])
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (total - idle) / tick, total / tick


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds of the live processes of process group ``pgid``."""
    tick = os.sysconf("SC_CLK_TCK")
    used = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if int(fields[2]) == pgid:  # fields[2] is pgrp (the 5th field of /proc/<pid>/stat)
            used += int(fields[11]) + int(fields[12])  # utime, stime
    return used / tick


# =============================================================================== direct client
class DirectLivy:
    """The reference: a plain REST client on Livy (no proxy), with its own session."""

    def __init__(self, livy: str, name: str):
        self.livy = livy.rstrip("/")
        self.name = name
        self.http = requests.Session()
        self.session_id: int | None = None

    def start_session(self, timeout: float) -> dict[str, Any]:
        """Create the session and wait for idle (GET every 10 ms); then the first ``1+1``."""
        t0 = time.perf_counter()
        answer = self.http.post(f"{self.livy}/sessions", json={"kind": "pyspark", "name": self.name}, timeout=30)
        answer.raise_for_status()
        self.session_id = answer.json()["id"]

        def idle():
            state = self.http.get(f"{self.livy}/sessions/{self.session_id}", timeout=30).json()["state"]
            if state in ("error", "dead", "killed", "shutting_down", "success"):
                raise RuntimeError(f"the direct session ended in state {state}")
            return state == "idle"

        wait_for(idle, timeout=timeout, interval=0.01, what="the direct client's Livy session to be idle")
        idle_ms = (time.perf_counter() - t0) * 1000
        first = self.statement(TRIVIAL, timeout=60)
        return {"session_idle_ms": idle_ms, "first_statement_ms": first["ms"],
                "first_result_ms": (time.perf_counter() - t0) * 1000}

    def statement(self, code: str, timeout: float = 60, poll: float = 0.01) -> dict[str, Any]:
        """POST ``code`` and GET it every ``poll`` seconds until terminal; submit->available."""
        t0 = time.perf_counter()
        answer = self.http.post(f"{self.livy}/sessions/{self.session_id}/statements",
                                json={"code": code, "kind": "pyspark"}, timeout=30)
        answer.raise_for_status()
        stmt = answer.json()
        gets = 0
        while stmt["state"] not in TERMINAL:
            if time.perf_counter() - t0 > timeout:
                raise TimeoutError(f"direct statement {stmt['id']} still {stmt['state']} after {timeout} s")
            time.sleep(poll)
            stmt = self.http.get(f"{self.livy}/sessions/{self.session_id}/statements/{stmt['id']}", timeout=30).json()
            gets += 1
        ms = (time.perf_counter() - t0) * 1000
        seen = time.time() * 1000
        text = ((stmt.get("output") or {}).get("data") or {}).get("text/plain")
        return {"ms": ms, "state": stmt["state"], "livy_id": stmt["id"], "completed": stmt.get("completed"),
                "seen_epoch_ms": seen, "gets": gets, "text": text}

    def delete(self) -> None:
        if self.session_id is not None:
            with contextlib.suppress(requests.RequestException):
                self.http.delete(f"{self.livy}/sessions/{self.session_id}", timeout=30)
        self.http.close()


class SessionWatcher:
    """Watches Livy directly (not through the proxy) for the session the app starts (name
    starting with ``prefix``): the epoch ms Livy first lists it and first reports it idle,
    polling like the direct client (every 10 ms once its id is known)."""

    def __init__(self, livy: str, prefix: str, timeout: float):
        import threading

        self.livy, self.prefix, self.timeout = livy, prefix, timeout
        self.listed_ms: float | None = None
        self.idle_ms: float | None = None
        self.error: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="session-watcher", daemon=True)

    def __enter__(self) -> SessionWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        http = requests.Session()
        deadline = time.monotonic() + self.timeout
        session_id = None
        try:
            while not self._stop.is_set() and time.monotonic() < deadline:
                if session_id is None:
                    listing = http.get(f"{self.livy}/sessions", params={"from": 0, "size": 1000}, timeout=10).json()
                    mine = [s for s in listing.get("sessions", []) if (s.get("name") or "").startswith(self.prefix)]
                    if mine:
                        session_id = mine[-1]["id"]
                        self.listed_ms = time.time() * 1000
                    self._stop.wait(0.05)
                    continue
                state = http.get(f"{self.livy}/sessions/{session_id}", timeout=10).json().get("state")
                if state == "idle":
                    self.idle_ms = time.time() * 1000
                    return
                self._stop.wait(0.01)
        except (requests.RequestException, ValueError) as exc:
            self.error = str(exc)
        finally:
            http.close()


# =============================================================================== the app
#: Left out of the app's snapshot: not needed to serve it (or not ours to copy).
SNAPSHOT_IGNORE = (".git", ".venv", ".livy", ".pgdata", "node_modules", "frontend", "tests", "test-artifacts",
                   "staticfiles", ".mypy_cache", ".ruff_cache", ".pytest_cache", "__pycache__", "results", ".env",
                   "*.sqlite3", "*.pyc")


def snapshot(dest: Path) -> dict[str, Any]:
    """Copy the checkout's app code to ``dest``: other engineers edit it while the benchmark
    runs, and every process of one run must serve the same code (and the same migrations).
    Returns HEAD (read only) and a fingerprint of what was copied."""
    import hashlib

    shutil.copytree(ROOT, dest, ignore=shutil.ignore_patterns(*SNAPSHOT_IGNORE), symlinks=True)
    digest = hashlib.sha256()
    files = sorted(p for p in dest.rglob("*") if p.is_file())
    for path in files:
        digest.update(str(path.relative_to(dest)).encode())
        digest.update(path.read_bytes())
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {"git_head": head, "files": len(files), "sha256": digest.hexdigest()[:16],
            "note": "working tree as copied at the start (uncommitted changes included)"}


class App:
    """The app under gunicorn (serve.sh's flags) with a temporary database and static root,
    served from a snapshot of the code (``code``)."""

    def __init__(self, workdir: Path, code: Path, livy_endpoint: str, prefix: str, server_timing: bool = False):
        self.workdir = workdir
        self.code = code
        self.timing_path = workdir / "server-timing.log" if server_timing else None
        self.port = free_port()
        self.base = f"http://localhost:{self.port}"
        self.log_path = workdir / "gunicorn.log"
        self.process: subprocess.Popen | None = None
        env = {k: v for k, v in os.environ.items() if not self._app_variable(k)}
        env.update({
            "LIVY_DOTENV": "0",
            "DJANGO_SETTINGS_MODULE": "benchmarks.bench_settings",
            "BENCH_STATIC_ROOT": str(workdir / "static"),
            "PYTHONUNBUFFERED": "1",
            "PYTHONPATH": str(code),
            "DEBUG": "false",
            "DJANGO_SECRET": secrets.token_urlsafe(50),
            "ALLOWED_HOSTS": "localhost,127.0.0.1",
            "SECURE_SSL_REDIRECT": "false",  # plain HTTP on loopback (README, "Security")
            "SECURE_HSTS_SECONDS": "0",
            "DATABASE_PATH": str(workdir / "app.sqlite3"),
            "LIVY_BACKEND": "apache",
            "LIVY_BASE_ENDPOINT": livy_endpoint,
            "LIVY_SESSION_NAME_PREFIX": prefix,
        })
        if self.timing_path is not None:
            env["BENCH_SERVER_TIMING"] = str(self.timing_path)
        self.env = env

    @staticmethod
    def _app_variable(name: str) -> bool:
        """A variable the app reads (left out: the benchmark passes its own configuration)."""
        from myapp.config import AppConfig

        return name in AppConfig.model_fields or name in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")

    def run(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run([sys.executable, *args], cwd=self.code, env=self.env, capture_output=True, text=True,
                              timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
        return done.stdout

    def helper(self, *args: str) -> Any:
        out = self.run("benchmarks/bench_app.py", *args)
        return json.loads(out.strip().splitlines()[-1])

    def prepare(self) -> None:
        self.run("manage.py", "migrate", "--no-input", "-v", "0")
        self.run("manage.py", "collectstatic", "--no-input", "-v", "0")

    def start(self, timeout: float = 90) -> None:
        with self.log_path.open("a") as out:  # appended: offsets taken before a restart stay valid
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "myapp.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                 *SERVE_FLAGS, "--access-logformat", ACCESS_FORMAT],
                cwd=self.code, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )

        def healthy() -> bool:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.process.returncode}):\n{self.log_path.read_text()[-3000:]}")
            try:
                return requests.get(f"http://127.0.0.1:{self.port}/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_for(healthy, timeout=timeout, interval=0.2, what=f"gunicorn on port {self.port}")

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=35)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)

    def log_offset(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def access(self, start: int, end: int | None = None) -> list[tuple[str, str, int, float]]:
        """(method, path, status, ms) of the access-log lines written between two offsets."""
        with self.log_path.open("rb") as f:
            f.seek(start)
            data = f.read() if end is None else f.read(max(0, end - start))
        lines = []
        for line in data.decode("utf-8", "replace").splitlines():
            m = re.search(r'"(\w+) (\S+) HTTP/[\d.]+" (\d{3}) \S+ (\d+)$', line)
            if m:
                lines.append((m[1], m[2].split("?")[0], int(m[3]), int(m[4]) / 1000))
        return lines

    def timing_offset(self) -> int:
        return self.timing_path.stat().st_size if self.timing_path and self.timing_path.exists() else 0

    def timing(self, start: int) -> dict[str, Any]:
        """Medians per request pattern of the --server-timing lines written since ``start``."""
        if not self.timing_path or not self.timing_path.exists():
            return {}
        with self.timing_path.open("rb") as f:
            f.seek(start)
            data = f.read().decode("utf-8", "replace")
        groups: dict[str, list[dict[str, float]]] = {}
        for line in data.splitlines():
            parts = line.split()
            if len(parts) < 9:
                continue
            values = dict(p.split("=", 1) for p in parts[5:] if "=" in p)
            groups.setdefault(pattern(parts[2], parts[3]), []).append({k: float(v) for k, v in values.items()})
        metrics = ("wall", "cpu", "sql", "queries", "livy", "calls", "other", "runq", "commit", "commits",
                   "write", "writes")
        return {k: {"count": len(v), **{f"{m}_median": r1(med([x[m] for x in v if m in x])) for m in metrics}}
                for k, v in sorted(groups.items())}

    def worker_restarts(self, start: int, end: int | None = None) -> int:
        with self.log_path.open("rb") as f:
            f.seek(start)
            data = f.read() if end is None else f.read(max(0, end - start))
        return data.decode("utf-8", "replace").count("Autorestarting worker")


def access_summary(lines: list[tuple[str, str, int, float]]) -> dict[str, Any]:
    """Count and median/max duration (ms) per ``METHOD path-pattern`` of access-log lines."""
    groups: dict[str, list[float]] = {}
    for method, path, _status, ms in lines:
        groups.setdefault(pattern(method, path), []).append(ms)
    return {k: {"count": len(v), "median_ms": r1(med(v)), "max_ms": r1(max(v))} for k, v in sorted(groups.items())}


# =============================================================================== the browser
#: Installed before every page's own scripts: the click time of #run-button, or of a
#: statement's Re-run button (capture phase, so before the page's own handlers), into the
#: current measurement.
CLICK_WATCH = """
document.addEventListener("click", function (e) {
  var b = window.__bench;
  if (b && b.t0 === null && e.target && e.target.closest
      && e.target.closest("#run-button, form[action$='/rerun/'] button")) {
    b.t0 = performance.now(); b.t0Epoch = Date.now();
  }
}, true);
"""

#: Arm one measurement: remember the statements on the page, put ``code`` in the editor
#: (the editor handle if there is one, else the textarea + an input event), and watch the DOM
#: for a new statement reaching a terminal data-state. Returns the textarea's value.
ARM = """
([code, terminal]) => {
  var b = window.__bench = {t0: null, t0Epoch: null, tFirst: null, firstState: null, t1: null, t1Epoch: null,
                            pk: null, state: null, text: null, done: false, polls0: null, polls1: null, how: null};
  var before = new Set();
  document.querySelectorAll('li[id^="statement-"]').forEach(function (li) { before.add(li.id); });
  var ta = document.querySelector('#run-form textarea[name=code]');
  var handle = window.LivyNotebook && window.LivyNotebook.editor;
  if (!handle && window.LivyEditor && ta && ta.__livyEditor) handle = ta.__livyEditor;
  if (handle && typeof handle.setValue === "function") { handle.setValue(code); b.how = "editor"; }
  else if (ta) { ta.value = code; ta.dispatchEvent(new Event("input", {bubbles: true})); b.how = "textarea"; }
  function polls() { var n = window.LivyNotebook; return n && n.poller ? n.poller.polls : null; }
  b.polls0 = polls();
  var observer = new MutationObserver(function () {
    if (b.done) return;
    var items = document.querySelectorAll('li[id^="statement-"]');
    for (var i = 0; i < items.length; i++) {
      var li = items[i];
      if (before.has(li.id)) continue;
      var state = li.getAttribute("data-state");
      if (b.tFirst === null) { b.tFirst = performance.now(); b.firstState = state; b.pk = li.id; }
      if (terminal.indexOf(state) >= 0) {
        b.t1 = performance.now(); b.t1Epoch = Date.now(); b.state = state; b.pk = li.id;
        var out = li.querySelector(".output");
        b.text = out ? out.textContent.trim().slice(0, 200) : "";
        b.polls1 = polls(); b.done = true; observer.disconnect(); return;
      }
    }
  });
  observer.observe(document.body, {subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"]});
  return ta ? ta.value : null;
}
"""

RESULT = """() => { var b = window.__bench; return b && {t0: b.t0, t0Epoch: b.t0Epoch, tFirst: b.tFirst,
  firstState: b.firstState, t1: b.t1, t1Epoch: b.t1Epoch, pk: b.pk, state: b.state, text: b.text, done: b.done,
  polls0: b.polls0, polls1: b.polls1, how: b.how}; }"""

SETTLED = """() => {
  var button = document.querySelector("#run-button"), live = document.querySelector("#live");
  var p = window.LivyNotebook && window.LivyNotebook.poller;
  return !!button && !button.disabled && (!live || live.getAttribute("data-live") !== "true")
    && (!p || (!p.inflight && !p.timer && !p.actions));
}"""


class Notebook:
    """One signed-in browser context on the notebook page."""

    def __init__(self, browser, base: str, username: str, password: str):
        self.base = base
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.context.add_init_script(CLICK_WATCH)
        self.page = self.context.new_page()
        self.requests: list[tuple[float, str, str]] = []
        self.page.on("request", lambda r: self.requests.append((time.time(), r.method, r.url)))
        self.username, self.password = username, password

    def sign_in(self) -> None:
        page = self.page
        page.goto(f"{self.base}/accounts/login/?next=/")
        page.fill("#id_username", self.username)
        page.fill("#id_password", self.password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{self.base}/", timeout=30_000)

    def open(self) -> float:
        """Load the notebook; ms from navigation to the script's data-notebook-ready."""
        t0 = time.perf_counter()
        self.page.goto(f"{self.base}/")
        self.page.wait_for_selector("html[data-notebook-ready=true]", state="attached", timeout=30_000)
        return (time.perf_counter() - t0) * 1000

    def settle(self, timeout_ms: float = 15_000) -> bool:
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        try:
            self.page.wait_for_function(SETTLED, timeout=timeout_ms, polling=50)
            return True
        except PlaywrightTimeout:
            return False

    def run(self, code: str, timeout_s: float, rerun: bool = False) -> dict[str, Any]:
        """Click Run with ``code`` (or, with ``rerun``, the Re-run button of the last statement
        on the page, whose code must be ``code``); the page's own timing of click->result in
        the DOM."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        page = self.page
        value = page.evaluate(ARM, [code, list(TERMINAL)])
        if value != code:  # no handle and the textarea did not take it: type into CodeMirror
            page.locator("#run-form .cm-content").fill(code)
            value = page.locator("#run-form textarea[name=code]").input_value()
        if value != code:
            raise RuntimeError(f"could not put the code in the editor (the textarea has {value!r})")
        target = "#run-button"
        if rerun:
            last = page.locator('li[id^="statement-"]').last
            shown = last.locator("pre.code").inner_text().strip()
            if shown != code:
                raise RuntimeError(f"the last statement's code is {shown!r}, not {code!r}")
            target = last.locator("form[action$='/rerun/'] button")
        start_epoch = time.time()
        py0 = time.perf_counter()
        if rerun:
            target.click()
        else:
            page.click(target)
        try:
            page.wait_for_function("() => window.__bench && window.__bench.done", timeout=timeout_s * 1000,
                                   polling="raf")
        except PlaywrightTimeout:
            pass
        py_ms = (time.perf_counter() - py0) * 1000
        b = page.evaluate(RESULT)
        if not b or not b["done"] or b["t0"] is None:
            raise RuntimeError(f"no result in the DOM within {timeout_s} s (page state: {b})")
        pk = int(b["pk"].replace("statement-", "")) if b["pk"] else None
        return {
            "ms": b["t1"] - b["t0"],
            "first_shown_ms": None if b["tFirst"] is None else b["tFirst"] - b["t0"],
            "first_state": b["firstState"],
            "python_ms": py_ms,
            "click_epoch_ms": b["t0Epoch"],
            "visible_epoch_ms": b["t1Epoch"],
            "pk": pk,
            "state": b["state"],
            "text": b["text"],
            "polls": None if b["polls0"] is None or b["polls1"] is None else b["polls1"] - b["polls0"],
            "code_set_by": b["how"],
            "submitted_epoch": start_epoch,
        }

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.context.close()


# =============================================================================== the benchmark
def livy_in(records: list[Record]) -> dict[str, Any]:
    counts = CountingProxy.counts(records)
    return {"total": sum(counts.values()), "by_request": dict(counts.most_common())}


def session_cookie(notebook: Notebook) -> str:
    cookies = {c["name"]: c["value"] for c in notebook.context.cookies()}
    return f"sessionid={cookies['sessionid']}"


def fetch_page(base_port: int, path: str, cookie: str) -> str:
    answer = requests.get(f"http://127.0.0.1:{base_port}{path}", headers={"Cookie": cookie}, timeout=60,
                          allow_redirects=False)
    if answer.status_code != 200:
        raise RuntimeError(f"GET {path} answered {answer.status_code}")
    return answer.text


def live_attributes(html: str) -> tuple[str, str]:
    """The poll URL and ``after`` of a page's ``#live`` element."""
    tag = re.search(r'<[^>]*\bid="live"[^>]*>', html)
    if not tag:
        raise RuntimeError("the page has no #live element")
    url = re.search(r'data-live-url="([^"]+)"', tag[0])
    after = re.search(r'data-after="(\d*)"', tag[0])
    if not url:
        raise RuntimeError("#live has no data-live-url")
    return url[1].replace("&amp;", "&"), (after[1] if after else "")


def with_stamp(app: App, path: str, cookie: str) -> str:
    """``path`` with the ``stamp`` of the session bar that one poll of it answers with (what
    notebook.js sends back with each later poll; 204 then means "nothing changed")."""
    answer = requests.get(f"http://127.0.0.1:{app.port}{path}", headers={"Cookie": cookie, "X-Livy-Fragment": "1"},
                          timeout=30)
    stamp = re.search(r'data-stamp="([^"]*)"', answer.text)
    return f"{path}&stamp={stamp[1]}" if stamp else path


def load_test(app: App, proxy: CountingProxy, path: str, cookie: str, args: argparse.Namespace) -> dict[str, Any]:
    # Fresh workers for each endpoint: serve.sh's --max-requests 20000 (+-2000) restarts a worker
    # after that many requests, which would otherwise land in whichever window comes second.
    app.stop()
    app.start()
    url = f"http://127.0.0.1:{app.port}{path}"
    mark, offset, toffset = proxy.mark(), app.log_offset(), app.timing_offset()
    busy0, total0 = machine_cpu_seconds()
    app_cpu0 = group_cpu_seconds(app.process.pid)
    cmd = [sys.executable, str(ROOT / "benchmarks" / "loadgen.py"), "--url", url, "--header", f"Cookie: {cookie}",
           "--header", "X-Livy-Fragment: 1", "--threads", str(args.load_threads), "--seconds", str(args.load_seconds),
           "--warmup", str(args.load_warmup), "--max-requests", str(args.load_max_requests)]
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True,
                          timeout=args.load_seconds + args.load_warmup + 60)
    if done.returncode != 0:
        raise RuntimeError(f"loadgen failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    busy1, total1 = machine_cpu_seconds()
    app_cpu = group_cpu_seconds(app.process.pid) - app_cpu0
    wall = args.load_seconds + args.load_warmup
    # CPU use over the whole loadgen run (warm-up included), to tell app cost from machine noise.
    result["cpu"] = {
        "capacity_s": round(total1 - total0, 2),
        "gunicorn_s": round(app_cpu, 2),
        "loadgen_s": result["loadgen_cpu_seconds"],
        "machine_busy_s": round(busy1 - busy0, 2),
        "others_s": round(busy1 - busy0 - app_cpu - result["loadgen_cpu_seconds"], 2),
        "gunicorn_ms_per_request": None,
    }
    served = result.get("all_requests") or result["requests"] * (wall / args.load_seconds)  # warm-up included
    if served and app_cpu > 0:
        result["cpu"]["gunicorn_ms_per_request"] = round(app_cpu * 1000 / served, 2)
        result["cpu"]["projected_rps_2_free_cores"] = round(2 * served / app_cpu)
    time.sleep(0.5)
    result["livy_requests"] = livy_in(proxy.since(mark))
    result["gunicorn_worker_restarts"] = app.worker_restarts(offset)
    result["server_access_log"] = access_summary(app.access(offset))
    result["server_timing"] = app.timing(toffset)
    return result


def measure(args: argparse.Namespace) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    livy = args.livy.rstrip("/")
    try:
        version = requests.get(f"{livy}/version", timeout=10).json()
    except (requests.RequestException, ValueError) as exc:
        raise SystemExit(f"bench-livy: no Livy at {livy} ({exc}); start it with scripts/livy/livy.sh up") from exc
    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"bench-livy: {CHROMIUM} not found (apt-get install chromium)")

    out: dict[str, Any] = {"livy": {"url": livy, "version": version.get("version")}}
    prefix = f"livy-bench-{os.getpid()}-"
    workdir = Path(tempfile.mkdtemp(prefix="bench-livy-"))
    proxy = CountingProxy(livy).start()
    out["code"] = snapshot(workdir / "app")
    app = App(workdir, workdir / "app", proxy.url, prefix, server_timing=args.server_timing)
    direct = DirectLivy(livy, f"bench-direct-{os.getpid()}-{int(time.time())}")
    user = "bench"
    try:
        log(f"Livy {version.get('version')} at {livy}; counting proxy {proxy.url}; work dir {workdir}")
        app.prepare()
        app.helper("user", user, PASSWORD)
        out["app_config"] = app.helper("config")
        poll_interval = float(out["app_config"]["LIVY_POLL_INTERVAL"])
        app.start()
        log(f"gunicorn ({' '.join(SERVE_FLAGS[:4])}) on {app.base}")

        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                out.update(browser_figures(args, app, proxy, direct, browser, user, poll_interval, prefix))
            finally:
                browser.close()

        # ------------------------------------------------------------- 5. poll endpoint load
        log(f"5. load: {args.history} finished statements of history, {args.load_threads} threads, "
            f"{args.load_seconds:.0f} s per endpoint")
        out["history"] = app.helper("history", user, str(args.history))
        cookie = out.pop("_cookie")
        notebook_html = fetch_page(app.port, "/", cookie)
        path, after = live_attributes(notebook_html)
        poll_path = f"{path}{'&' if '?' in path else '?'}open=&after={after}"
        session_pk = out["history"]["session_pk"]
        s_path, s_after = live_attributes(fetch_page(app.port, f"/sessions/{session_pk}/", cookie))
        session_poll = f"{s_path}{'&' if '?' in s_path else '?'}open=&after={s_after}"
        # As the page does: each poll sends the stamp of the session bar it shows (the last delta's).
        poll_path = with_stamp(app, poll_path, cookie)
        session_poll = with_stamp(app, session_poll, cookie)
        check = requests.get(f"http://127.0.0.1:{app.port}{poll_path}", headers={"Cookie": cookie, "X-Livy-Fragment": "1"},
                             timeout=30)
        out["load_check"] = {"status": check.status_code, "bytes": len(check.content), "path": poll_path,
                             "live": 'data-live="true"' in check.text}
        out["load_notebook"] = load_test(app, proxy, poll_path, cookie, args)
        log(f"   notebook poll {poll_path}: {out['load_notebook']['rps']} req/s")
        out["load_session"] = load_test(app, proxy, session_poll, cookie, args)
        log(f"   session poll {session_poll}: {out['load_session']['rps']} req/s")
    finally:
        app.stop()
        proxy.stop()
        direct.delete()
        out["cleanup"] = delete_app_sessions(livy, prefix)
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    return out


def browser_figures(args, app: App, proxy: CountingProxy, direct: DirectLivy, browser, user: str,
                    poll_interval: float, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    nb = Notebook(browser, app.base, user, PASSWORD)
    nb.sign_in()
    nb.open()
    out["_cookie"] = session_cookie(nb)

    # ----------------------------------------------------------------- 4. new user
    log("4. new user: first Run starts the session (through the app)")
    mark = proxy.mark()
    with SessionWatcher(direct.livy, prefix, args.start_timeout + 30) as watcher:
        new_user = nb.run(TRIVIAL, timeout_s=args.start_timeout)
    nb.settle()
    records = proxy.since(mark)
    new_user["livy_requests"] = livy_in(records)
    new_user["livy_session_idle_epoch_ms"] = watcher.idle_ms
    new_user["watcher_error"] = watcher.error
    if watcher.idle_ms:
        new_user["idle_to_visible_ms"] = new_user["visible_epoch_ms"] - watcher.idle_ms
        seen_idle = next((r.end * 1000 for r in records if r.pattern == "GET /sessions/{n}" and r.state == "idle"), None)
        sent = next((r.start * 1000 for r in records if r.pattern == "POST /sessions/{n}/statements"), None)
        new_user["idle_to_app_sees_idle_ms"] = seen_idle and seen_idle - watcher.idle_ms
        new_user["idle_to_statement_sent_ms"] = sent and sent - watcher.idle_ms
        new_user["timeline"] = [{"request": r.pattern, "at_ms": r1(r.start * 1000 - watcher.idle_ms), "state": r.state}
                                for r in records if r.start * 1000 >= watcher.idle_ms - 3000]
    out["new_user_app"] = new_user
    log(f"   app: {new_user['ms'] / 1000:.2f} s, state {new_user['state']}")
    log("4. new user: direct client starts its session and runs 1+1")
    out["new_user_direct"] = direct.start_session(args.start_timeout)
    out["new_user_direct"]["idle_to_result_ms"] = (out["new_user_direct"]["first_result_ms"]
                                                   - out["new_user_direct"]["session_idle_ms"])
    log(f"   direct: {out['new_user_direct']['first_result_ms'] / 1000:.2f} s")

    # ----------------------------------------------------------------- 1-3. samples
    log(f"1. {args.warmup} warm-up + {args.samples} interleaved samples of {TRIVIAL!r} per side")
    app_samples: list[dict[str, Any]] = []
    rerun_samples: list[dict[str, Any]] = []
    direct_samples: list[dict[str, Any]] = []
    offset, toffset = app.log_offset(), app.timing_offset()
    deadline = time.monotonic() + args.samples_timeout
    for i in range(args.warmup + args.samples):
        if time.monotonic() > deadline:
            log(f"   stopped after {i} rounds: --samples-timeout {args.samples_timeout} s")
            break
        sides = ["app", "direct"] + (["rerun"] if args.rerun else [])
        order = sides[i % len(sides):] + sides[:i % len(sides)]  # each side goes first in turn
        for side in order:
            if side in ("app", "rerun"):
                mark = proxy.mark()
                sample = nb.run(TRIVIAL, timeout_s=60, rerun=side == "rerun")
                sample["settled"] = nb.settle()
                time.sleep(0.3)  # requests the page or app still make after the result
                records = proxy.since(mark)
                sample["livy_requests"] = livy_in(records)
                sample["livy_until_visible"] = [
                    {"request": r.pattern, "at_ms": r1(r.start * 1000 - sample["click_epoch_ms"]),
                     "took_ms": r1(r.total_ms), "livy_ms": r1(r.upstream_ms), "state": r.state}
                    for r in records if r.start * 1000 <= sample["visible_epoch_ms"]]
                # When the app first had the result from Livy (the answer that said it finished).
                sample["result_read_epoch_ms"] = next(
                    (r.end * 1000 for r in records if "/statements" in r.pattern and r.state in TERMINAL), None)
                sample["proxy_added_ms"] = r1(sum(r.total_ms - r.upstream_ms for r in records))
                if i >= args.warmup:
                    (app_samples if side == "app" else rerun_samples).append(sample)
            else:
                sample = direct.statement(TRIVIAL)
                if i >= args.warmup:
                    direct_samples.append(sample)
        if (i + 1) % 10 == 0:
            log(f"   {i + 1} rounds")
    out["samples_access_log"] = access_summary(app.access(offset))
    out["samples_server_timing"] = app.timing(toffset)
    out["app_samples"] = app_samples
    out["rerun_samples"] = rerun_samples
    out["direct_samples"] = direct_samples

    # ----------------------------------------------------------------- 2. completed times
    rows = {row["pk"]: row for row in app.helper("statements", user)}
    completed: dict[tuple[str, int], Any] = {}
    for sid in {str(rows[s["pk"]]["session_livy_id"]) for s in app_samples + rerun_samples if s["pk"] in rows}:
        listing = requests.get(f"{direct.livy}/sessions/{sid}/statements", params={"from": 0, "size": 1000},
                               timeout=30).json()
        for st in listing.get("statements", []):
            completed[(sid, st["id"])] = st.get("completed")
    for sample in app_samples + rerun_samples:
        row = rows.get(sample["pk"], {})
        done = completed.get((str(row.get("session_livy_id")), row.get("livy_id")))
        sample["livy_id"] = row.get("livy_id")
        sample["livy_completed_epoch_ms"] = done
        sample["available_to_visible_ms"] = (sample["visible_epoch_ms"] - done) if done else None
        read = sample.get("result_read_epoch_ms")
        sample["available_to_app_read_ms"] = (read - done) if done and read else None
        sample["app_read_to_visible_ms"] = (sample["visible_epoch_ms"] - read) if read else None

    # ----------------------------------------------------------------- 4. returning user
    log(f"4. returning user: {args.returning} new browser contexts sign in and run {TRIVIAL!r} (session reused)")
    returning = []
    returning_direct = []
    for _ in range(args.returning):
        other = Notebook(browser, app.base, user, PASSWORD)
        try:
            other.sign_in()
            mark = proxy.mark()
            load_ms = other.open()
            sample = other.run(TRIVIAL, timeout_s=60)
            other.settle()
            sample["page_load_ms"] = load_ms
            sample["livy_requests"] = livy_in(proxy.since(mark))
            returning.append(sample)
        finally:
            other.close()
        returning_direct.append(direct.statement(TRIVIAL))
    out["returning_app"] = returning
    out["returning_direct"] = returning_direct

    # ----------------------------------------------------------------- 3. long statement, idle page
    code = f"import time; time.sleep({args.long_seconds:g})"
    log(f"3. {code!r} through the page, then the page stays open {args.idle_seconds:g} s with everything finished")
    nb.open()
    nb.settle()
    time.sleep(1)
    offset, toffset = app.log_offset(), app.timing_offset()
    mark = proxy.mark()
    long_run = nb.run(code, timeout_s=args.long_seconds + 120)
    records = proxy.since(mark)
    click, visible = long_run["click_epoch_ms"] / 1000, long_run["visible_epoch_ms"] / 1000
    during = [r for r in records if click - 0.05 <= r.start <= visible]
    running_s = visible - click
    long_run["livy_requests"] = livy_in(during)
    long_run["running_seconds"] = running_s
    long_run["poll_intervals"] = running_s / poll_interval
    long_run["livy_per_interval"] = len(during) / (running_s / poll_interval)
    long_run["livy_per_minute"] = len(during) / running_s * 60
    submit_calls = sum(1 for r in during if r.method == "POST")
    long_run["livy_per_interval_excluding_posts"] = (len(during) - submit_calls) / (running_s / poll_interval)
    long_run["access_log"] = access_summary(app.access(offset))
    long_run["server_timing"] = app.timing(toffset)
    long_run["timeline"] = [{"request": r.pattern, "at_ms": r1(r.start * 1000 - long_run["click_epoch_ms"]),
                             "state": r.state} for r in during]
    out["long_statement"] = long_run
    nb.settle()
    idle_from = time.time() + 2
    nb.page.wait_for_timeout(2000)
    mark = proxy.mark()
    page_requests_from = len(nb.requests)
    offset = app.log_offset()
    nb.page.wait_for_timeout(args.idle_seconds * 1000)
    idle_to = time.time()
    idle_records = proxy.since(mark)
    minutes = (idle_to - idle_from) / 60
    out["idle_page"] = {
        "seconds": idle_to - idle_from,
        "livy_requests": livy_in(idle_records),
        "livy_per_minute": len(idle_records) / minutes,
        "page_requests": [f"{m} {u}" for _, m, u in nb.requests[page_requests_from:]][:50],
        "page_requests_per_minute": (len(nb.requests) - page_requests_from) / minutes,
        "access_log": access_summary(app.access(offset)),
    }
    nb.close()
    return out


def delete_app_sessions(livy: str, prefix: str) -> list[str]:
    """Delete the Livy sessions this run's app started (their names start with ``prefix``)."""
    deleted = []
    with contextlib.suppress(requests.RequestException, ValueError):
        for page in range(20):
            listing = requests.get(f"{livy}/sessions", params={"from": page * 100, "size": 100}, timeout=30).json()
            sessions = listing.get("sessions", [])
            for s in sessions:
                if (s.get("name") or "").startswith(prefix) and s.get("state") not in ("dead", "killed", "success"):
                    requests.delete(f"{livy}/sessions/{s['id']}", timeout=30)
                    deleted.append(f"{s['id']} {s['name']}")
            if len(sessions) < 100:
                break
    return deleted


# =============================================================================== report
def summarise(raw: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """The figures, each with its goal and verdict, from the raw measurements."""
    poll_interval = float(raw["app_config"]["LIVY_POLL_INTERVAL"])
    app_ok = [s for s in raw["app_samples"] if s["state"] == "available"]
    app_ms = [s["ms"] for s in app_ok]
    direct_ms = [s["ms"] for s in raw["direct_samples"] if s["state"] == "available"]
    a50, d50 = med(app_ms), med(direct_ms)
    a95, d95 = pct(app_ms, 0.95), pct(direct_ms, 0.95)
    rerun_ok = [s for s in raw.get("rerun_samples", []) if s["state"] == "available"]
    rr50 = med([s["ms"] for s in rerun_ok])
    ratio = a50 / d50 if a50 and d50 else None
    diff = a50 - d50 if a50 is not None and d50 is not None else None
    avail = [s["available_to_visible_ms"] for s in app_ok if s.get("available_to_visible_ms") is not None]
    direct_seen = [s["seen_epoch_ms"] - s["completed"] for s in raw["direct_samples"] if s.get("completed")]
    per_stmt = [s["livy_requests"]["total"] for s in app_ok]
    breakdown: Counter[str] = Counter()
    for s in app_ok:
        breakdown.update(s["livy_requests"]["by_request"])
    n = max(1, len(app_ok))
    avg_breakdown = ", ".join(f"{k} x{v / n:.2g}" for k, v in breakdown.most_common())
    with_answer = sum(1 for s in app_ok if s.get("polls") == 0)
    long_run = raw["long_statement"]
    idle = raw["idle_page"]
    new_app = raw["new_user_app"]["ms"]
    new_direct = raw["new_user_direct"]["first_result_ms"]
    new_idle = raw["new_user_app"].get("idle_to_visible_ms")
    direct_idle = raw["new_user_direct"]["idle_to_result_ms"]
    ret_ms = [s["ms"] for s in raw["returning_app"] if s["state"] == "available"]
    ret_direct = [s["ms"] for s in raw["returning_direct"]]
    r50, rd50 = med(ret_ms), med(ret_direct)
    load_nb, load_s = raw["load_notebook"], raw["load_session"]

    def verdict(ok: bool | None) -> str:
        return "n/a" if ok is None else ("PASS" if ok else "FAIL")

    rows = [
        ("1. submit->visible, app (browser), median", f"{a50:.0f} ms" if a50 is not None else "n/a",
         "<= 1.15x and <= +150 ms of direct", verdict(None if ratio is None else ratio <= 1.15 and diff <= 150)),
        ("1. submit->available, direct REST (10 ms GETs), median", f"{d50:.0f} ms" if d50 is not None else "n/a",
         "reference", ""),
        ("1. p95 app / direct", f"{a95:.0f} / {d95:.0f} ms" if a95 and d95 else "n/a", "info", ""),
        ("1b. same through Re-run (its view waits LIVY_RUN_WAIT), median",
         f"{fmt(rr50)} ({f'{rr50 - d50:+.0f} ms' if rr50 is not None and d50 else 'n/a'} vs direct)",
         "goal 1 (evidence for Run)",
         verdict(None if rr50 is None or not d50 else rr50 <= 1.15 * d50 and rr50 - d50 <= 150)),
        ("1. ratio app/direct (median)", f"{ratio:.2f}x" if ratio else "n/a", "<= 1.15x",
         verdict(None if ratio is None else ratio <= 1.15)),
        ("1. difference app-direct (median)", f"{diff:+.0f} ms" if diff is not None else "n/a", "<= +150 ms",
         verdict(None if diff is None else diff <= 150)),
        ("1. samples app/direct (ok), result with the Run answer",
         f"{len(app_ms)}/{len(direct_ms)}, {with_answer}/{len(app_ok)}", f">= {args.samples} each",
         verdict(len(app_ms) >= args.samples and len(direct_ms) >= args.samples)),
        ("2. available->visible (Livy completed -> DOM), median", f"{med(avail):.0f} ms" if avail else "n/a",
         "<= 250 ms", verdict(None if not avail else med(avail) <= 250)),
        ("2. available->visible p95 / direct client's available->seen median",
         f"{pct(avail, 0.95):.0f} / {med(direct_seen):.0f} ms" if avail and direct_seen else "n/a", "info", ""),
        ("3. Livy requests per 1+1 statement (median)", f"{med(per_stmt):g}" if per_stmt else "n/a",
         "info: " + (avg_breakdown[:60] or "-"), ""),
        (f"3. Livy requests per poll interval ({poll_interval:g} s), {args.long_seconds:g} s statement",
         f"{long_run['livy_per_interval']:.2f} ({long_run['livy_requests']['total']} in {long_run['running_seconds']:.1f} s)",
         "<= 1", verdict(long_run["livy_per_interval"] <= 1)),
        (f"3. Livy requests per minute, {args.long_seconds:g} s statement running",
         f"{long_run['livy_per_minute']:.1f}", f"<= {60 / poll_interval:g}",
         verdict(long_run["livy_per_minute"] <= 60 / poll_interval)),
        ("3. Livy requests per minute, idle open page (all finished)", f"{idle['livy_per_minute']:.1f}", "0",
         verdict(idle["livy_per_minute"] == 0)),
        ("4. first result, new user (click, session start included), app", f"{new_app / 1000:.2f} s",
         "info (Livy's start dominates)", ""),
        ("4. first result, new session, direct REST", f"{new_direct / 1000:.2f} s", "reference", ""),
        ("4. new user: Livy says idle -> result, app / direct",
         f"{fmt(new_idle)} / {fmt(direct_idle)}", "<= direct +150 ms (goal 1 applied)",
         verdict(None if new_idle is None else new_idle <= direct_idle + 150)),
        ("4. first result, returning user (session reused), app median", f"{r50:.0f} ms" if r50 else "n/a",
         "<= 1.15x, +150 ms of direct (goal 1)",
         verdict(None if not (r50 and rd50) else r50 <= 1.15 * rd50 and r50 - rd50 <= 150)),
        ("4. returning: direct median (same rounds) / page load median",
         f"{rd50:.0f} / {med([s['page_load_ms'] for s in raw['returning_app']]):.0f} ms" if rd50 and raw["returning_app"] else "n/a",
         "reference", ""),
        ("5. poll (notebook), all finished: req/s, 2 workers", f"{load_nb['rps']:.0f}", ">= 500",
         verdict(load_nb["rps"] >= 500 and not load_nb["errors"])),
        ("5. poll (notebook) p50 / p99", f"{load_nb['p50_ms']} / {load_nb['p99_ms']} ms", "info", ""),
        ("5. poll (session page), all finished: req/s", f"{load_s['rps']:.0f}", ">= 500",
         verdict(load_s["rps"] >= 500 and not load_s["errors"])),
        ("5. poll (session page) p50 / p99", f"{load_s['p50_ms']} / {load_s['p99_ms']} ms", "info", ""),
        ("5. Livy requests during the load", str(load_nb["livy_requests"]["total"] + load_s["livy_requests"]["total"]),
         "0", verdict(load_nb["livy_requests"]["total"] + load_s["livy_requests"]["total"] == 0)),
    ]
    return {
        "rows": [{"figure": f, "value": v, "goal": g, "result": p} for f, v, g, p in rows],
        "figures": {
            "app_submit_to_visible_ms": {"median": r1(a50), "p95": r1(a95), "n": len(app_ms)},
            "direct_submit_to_available_ms": {"median": r1(d50), "p95": r1(d95), "n": len(direct_ms)},
            "ratio": ratio and round(ratio, 3), "difference_ms": r1(diff),
            "results_with_run_answer": with_answer,
            "rerun_submit_to_visible_ms": {"median": r1(rr50), "p95": r1(pct([s["ms"] for s in rerun_ok], 0.95)),
                                           "n": len(rerun_ok),
                                           "with_answer": sum(1 for s in rerun_ok if s.get("polls") == 0),
                                           "livy_requests_median": med([s["livy_requests"]["total"] for s in rerun_ok])},
            "available_to_visible_ms": {"median": r1(med(avail)), "p95": r1(pct(avail, 0.95)), "n": len(avail)},
            "direct_available_to_seen_ms": {"median": r1(med(direct_seen))},
            "livy_requests_per_trivial_statement": {"median": med(per_stmt), "mean_by_request": {
                k: round(v / n, 2) for k, v in breakdown.most_common()}},
            "long_statement": {k: long_run[k] for k in ("running_seconds", "livy_per_interval", "livy_per_minute",
                                                        "livy_per_interval_excluding_posts", "livy_requests")},
            "idle_page_livy_per_minute": idle["livy_per_minute"],
            "new_user_ms": {"app": r1(new_app), "direct": r1(new_direct), "app_idle_to_visible": r1(new_idle),
                            "direct_idle_to_result": r1(direct_idle)},
            "returning_user_ms": {"app_median": r1(r50), "direct_median": r1(rd50)},
            "load_notebook": load_nb, "load_session": load_s,
        },
    }


def fmt(value: float | None, unit: str = " ms") -> str:
    return "n/a" if value is None else f"{value:.0f}{unit}"


def analysis(raw: dict[str, Any]) -> list[str]:
    """Where the time and the requests go (medians), for the report under the table."""
    lines: list[str] = []
    ok = [s for s in raw["app_samples"] if s["state"] == "available"]
    if ok:
        with_answer = sum(1 for s in ok if s.get("polls") == 0)
        lines.append(
            f"1. app, 1+1: the Run answer reached the page {fmt(med([s['first_shown_ms'] for s in ok if s['first_shown_ms'] is not None]))}"
            f" after the click (first state there: {Counter(s['first_state'] for s in ok).most_common(1)[0][0]}); "
            f"{with_answer}/{len(ok)} results came with the Run answer itself, {len(ok) - with_answer} with a later poll "
            f"(polls per statement: median {med([s['polls'] for s in ok if s['polls'] is not None])})")
        seen: dict[str, list[float]] = {}
        for s in ok:
            nth: Counter[str] = Counter()
            for x in s["livy_until_visible"]:
                nth[x["request"]] += 1
                seen.setdefault(f"{x['request']} #{nth[x['request']]}", []).append(x["at_ms"])
        steps = sorted(seen.items(), key=lambda kv: med(kv[1]))
        lines.append("   Livy requests before the result was visible (start after the click, median; in how many samples): "
                     + "; ".join(f"{k} at {fmt(med(v))} ({len(v)}/{len(ok)})" for k, v in steps))
        lines.append("   result visible after the click (median): " + fmt(med([s["ms"] for s in ok]))
                     + f"; proxy's own cost per sample: {med([s['proxy_added_ms'] for s in ok])} ms")
        lines.append("   server time per request during the samples (gunicorn access log, median): " + ", ".join(
            f"{k} {v['median_ms']} ms x{v['count']}" for k, v in raw["samples_access_log"].items()))
        if raw.get("samples_server_timing"):
            lines.append("   --server-timing, median ms (wall = CPU + Livy + other waits; SQL is inside CPU): " + "; ".join(
                f"{k} wall {v['wall_median']}, CPU {v['cpu_median']}, SQL {v['sql_median']} ({v['queries_median']:g} queries), "
                f"Livy {v['livy_median']} ({v['calls_median']:g} calls), other {v['other_median']} "
                f"(of which waiting for a CPU {v['runq_median']}); SQL writes {v['writes_median']:g} taking "
                f"{v['write_median']} (autocommit: each includes its commit), atomic-block commits {v['commits_median']:g} "
                f"taking {v['commit_median']}"
                for k, v in raw["samples_server_timing"].items()))
        rr = [s for s in raw.get("rerun_samples", []) if s["state"] == "available"]
        if rr:
            rr_calls: Counter[str] = Counter()
            for s in rr:
                rr_calls.update(s["livy_requests"]["by_request"])
            lines.append(
                f"1b. Re-run (server waits): visible {fmt(med([s['ms'] for s in rr]))} after the click, "
                f"{sum(1 for s in rr if s.get('polls') == 0)}/{len(rr)} with the answer itself; Livy requests per "
                f"statement (mean): " + ", ".join(f"{k} x{v / len(rr):.2g}" for k, v in rr_calls.most_common()))
        lines.append(
            "2. available->visible split (median): Livy completed -> the app read it finished "
            f"{fmt(med([s['available_to_app_read_ms'] for s in ok if s.get('available_to_app_read_ms') is not None]))}, "
            "that read -> visible in the page "
            f"{fmt(med([s['app_read_to_visible_ms'] for s in ok if s.get('app_read_to_visible_ms') is not None]))}")
    long_run = raw.get("long_statement")
    if long_run:
        lines.append(f"3. {long_run['running_seconds']:.1f} s statement, Livy requests from click to result: "
                     + ", ".join(f"{k} x{v}" for k, v in long_run["livy_requests"]["by_request"].items())
                     + "; app requests: " + ", ".join(f"{k} x{v['count']} ({v['median_ms']} ms)"
                                                     for k, v in long_run["access_log"].items()))
        answered = long_run.get("first_shown_ms") or 0
        early = [x for x in long_run["timeline"] if x["at_ms"] <= answered]
        late = [x for x in long_run["timeline"] if x["at_ms"] > answered]
        rest_s = max(0.001, long_run["running_seconds"] - answered / 1000)
        poll_interval = float(raw["app_config"]["LIVY_POLL_INTERVAL"])
        lines.append(f"   until the Run answer came back ({answered / 1000:.2f} s): {len(early)} Livy requests ("
                     + ", ".join(f"{k} x{v}" for k, v in Counter(x["request"] for x in early).most_common())
                     + f"); after it, while the page polled: {len(late)} in {rest_s:.1f} s = "
                     f"{len(late) / (rest_s / poll_interval):.2f} per poll interval ("
                     + ", ".join(f"{k} x{v}" for k, v in Counter(x["request"] for x in late).most_common()) + ")")
        idle = raw["idle_page"]
        lines.append(f"   idle open page {idle['seconds']:.0f} s: Livy {idle['livy_requests']['total']}, "
                     f"page requests {len(idle['page_requests'])}")
    new = raw.get("new_user_app")
    if new:
        direct = raw["new_user_direct"]
        lines.append(
            f"4. new user: Livy's session start (POST -> idle) is most of it: app total {fmt(new['ms'])}, direct total "
            f"{fmt(direct['first_result_ms'])} (its session idle after {fmt(direct['session_idle_ms'])}). From the moment "
            f"Livy said idle (watched directly every 10 ms): the app saw idle after {fmt(new.get('idle_to_app_sees_idle_ms'))}, "
            f"sent the statement after {fmt(new.get('idle_to_statement_sent_ms'))}, showed the result after "
            f"{fmt(new.get('idle_to_visible_ms'))}; the direct client needed {fmt(direct['idle_to_result_ms'])}; "
            f"Livy requests while starting: " + ", ".join(f"{k} x{v}" for k, v in new["livy_requests"]["by_request"].items()))
    for key, label in (("load_notebook", "notebook"), ("load_session", "session page")):
        load = raw.get(key)
        if load:
            server = next(iter(load["server_access_log"].values()), {})
            cpu = load.get("cpu", {})
            lines.append(f"5. {label} poll: {load['requests']} requests in {load['seconds']} s, "
                         f"server time (access log, warm-up included) median {server.get('median_ms')} ms, client p50 {load['p50_ms']} ms, "
                         f"errors {load['errors'] or 'none'}, gunicorn worker restarts {load['gunicorn_worker_restarts']}; "
                         f"CPU over the run: gunicorn {cpu.get('gunicorn_s')} s ({cpu.get('gunicorn_ms_per_request')} ms "
                         f"per request), load generator {cpu.get('loadgen_s')} s, other processes {cpu.get('others_s')} s "
                         f"of {cpu.get('capacity_s')} CPU-s; at that cost 2 free cores would serve about "
                         f"{cpu.get('projected_rps_2_free_cores')} req/s")
            if load.get("server_timing"):
                t = next(iter(load["server_timing"].values()), {})
                lines.append(f"   --server-timing median: wall {t.get('wall_median')} ms, CPU {t.get('cpu_median')} ms, "
                             f"SQL {t.get('sql_median')} ms in {t.get('queries_median')} queries, "
                             f"other waits {t.get('other_median')} ms (waiting for a CPU {t.get('runq_median')} ms)")
    return lines


def print_table(report: dict[str, Any]) -> None:
    m = report["machine"]
    print()
    print(f"Livy web end-to-end benchmark, {report['date']}")
    print(f"machine: {m['nproc']} CPUs ({m['cpu_model']}), {m['memory_gib']} GiB RAM, Linux {m['kernel']}, "
          f"Python {m['python']}; Livy {report['raw']['livy']['version']}; load average at start "
          f"{m['loadavg_at_start'][0]:.2f}, at end {m['loadavg_at_end'][0]:.2f}; took {report['duration_s']} s")
    cfg = report["raw"]["app_config"]
    print("app: gunicorn 2 workers x 4 threads, DEBUG=false, SQLite; " +
          ", ".join(f"{k}={v}" for k, v in cfg.items() if k != "LIVY_BACKEND"))
    rows = report["summary"]["rows"]
    widths = [max(len(r[k]) for r in rows + [{"figure": "figure", "value": "value", "goal": "goal", "result": "pass/fail"}])
              for k in ("figure", "value", "goal", "result")]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(("figure", "value", "goal", "pass/fail"), widths, strict=True)))
    print(line)
    for r in rows:
        print("  ".join(r[k].ljust(w) for k, w in zip(("figure", "value", "goal", "result"), widths, strict=True)).rstrip())
    print(line)
    print()
    print("Where the time and the requests go:")
    for text in report["summary"]["analysis"]:
        print(text)


def _interrupted(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt(f"signal {signum}")  # so every finally: stops what was started


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def run_all_figure(args: argparse.Namespace) -> dict[str, Any]:
    """Figure 6: Run all of a notebook of 20 trivial cells through the app (the notebook
    page's run and poll requests, in process) vs 20 sequential direct REST statements, each
    side in its own Livy session (``benchmarks/bench_run_all.py``, run as a child process so
    its Django set-up stays out of this one). Returns its JSON, or ``{"error": ...}``."""
    log("figure 6: Run all of 20 trivial cells vs 20 direct REST statements")
    try:
        out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_run_all.py"), "--json",
                              "--samples", str(args.run_all_samples), "--livy", args.livy],
                             capture_output=True, text=True, timeout=900, check=True)
        return json.loads(out.stdout.strip().splitlines()[-1])
    except (subprocess.SubprocessError, ValueError, IndexError) as exc:
        return {"error": str(exc)}


def main() -> int:
    parser = argparse.ArgumentParser(description="End-to-end figures of the notebook against the real Livy.")
    parser.add_argument("--samples", type=int, default=30, help="measured 1+1 samples per side (default 30)")
    parser.add_argument("--warmup", type=int, default=2, help="unmeasured rounds first (default 2)")
    parser.add_argument("--samples-timeout", type=float, default=600, help="bound on all sample rounds (s)")
    parser.add_argument("--returning", type=int, default=5, help="returning-user samples (default 5)")
    parser.add_argument("--long-seconds", type=float, default=30, help="the long statement's sleep (default 30)")
    parser.add_argument("--idle-seconds", type=float, default=60, help="idle open page window (default 60)")
    parser.add_argument("--start-timeout", type=float, default=240, help="bound on a session start (s)")
    parser.add_argument("--history", type=int, default=300, help="finished statements added before the load test")
    parser.add_argument("--load-threads", type=int, default=8)
    parser.add_argument("--load-seconds", type=float, default=10)
    parser.add_argument("--load-warmup", type=float, default=2)
    parser.add_argument("--load-max-requests", type=int, default=50_000)
    parser.add_argument("--livy", default=os.environ.get("BENCH_LIVY_URL", "http://127.0.0.1:8998"))
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "latest.json"))
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, database)")
    parser.add_argument("--no-rerun", dest="rerun", action="store_false",
                        help="leave out the third side of figure 1: the Re-run button, whose view waits LIVY_RUN_WAIT")
    parser.add_argument("--server-timing", action="store_true",
                        help="diagnosis: add benchmarks/server_timing.py's middleware (wall, CPU, SQL per request)")
    parser.add_argument("--run-all-samples", type=int, default=5,
                        help="samples of figure 6, Run all of 20 trivial cells vs 20 direct statements (0: leave out)")
    parser.add_argument("--run-all-only", action="store_true", help="measure figure 6 only")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, _interrupted)

    if args.run_all_only:
        print(json.dumps(run_all_figure(args), indent=1))
        return 0
    started = dt.datetime.now(dt.UTC)
    info = machine()
    raw = measure(args)
    if args.run_all_samples > 0:
        raw["run_all"] = run_all_figure(args)
    report = {"date": started.isoformat(timespec="seconds"), "duration_s": round(
        (dt.datetime.now(dt.UTC) - started).total_seconds()), "machine": info,
        "args": vars(args), "raw": raw}
    report["machine"]["loadavg_at_end"] = list(os.getloadavg())
    report["summary"] = summarise(raw, args)
    report["summary"]["analysis"] = analysis(raw)
    print_table(report)
    if "run_all" in raw:
        ra = raw["run_all"]
        print(f"6. Run all of {ra.get('cells')} trivial cells: app {fmt(_ms(ra.get('app_run_all_s')))}, "
              f"{ra.get('cells')} direct REST statements {fmt(_ms(ra.get('direct_rest_s')))}, "
              f"ratio {ra.get('ratio')} (goal <= 1.2: {'pass' if ra.get('passed') else 'FAIL'})")
    path = Path(args.out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, default=str))
    print(f"written: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
