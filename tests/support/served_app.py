"""The app as production runs it, for tests that need several processes: a throwaway
PostgreSQL database, ``manage.py`` in a subprocess, gunicorn on a free loopback port, and a
browser-like HTTP client that signs in and sends the page script's fragment POSTs with the CSRF token.

Subprocesses get a hermetic environment: no ``.env`` (``LIVY_DOTENV=0``) and none of the
app's variables from the test runner's environment, only those passed explicitly.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import requests

from myapp.config import AppConfig
from tests.support.polling import wait_for

ROOT = Path(__file__).resolve().parents[2]
POSTGRES_SCHEMES = ("postgres", "postgresql", "pgsql")


def postgres_url() -> str | None:
    """``DATABASE_URL`` when it names a PostgreSQL server, else None."""
    url = os.environ.get("DATABASE_URL", "").strip()
    return url if urlsplit(url).scheme in POSTGRES_SCHEMES else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def app_environment(**variables: str) -> dict[str, str]:
    """``os.environ`` without the app's configuration variables (and without the test
    settings module), plus ``variables``."""
    env = {k: v for k, v in os.environ.items() if k not in AppConfig.model_fields}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by tests/settings.py for Playwright only
    env.update({"LIVY_DOTENV": "0", "DJANGO_SETTINGS_MODULE": "myapp.settings", "PYTHONUNBUFFERED": "1"})
    env.update(variables)
    return env


def manage(env: Mapping[str, str], *args: str, timeout: float = 120) -> str:
    """Run ``manage.py <args>`` in a subprocess; returns its output, fails the test on an error."""
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=dict(env), capture_output=True,
                          text=True, timeout=timeout)
    assert done.returncode == 0, f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


@contextmanager
def throwaway_database(server_url: str) -> Iterator[str]:
    """A new, empty database on the PostgreSQL server of ``server_url``; yields its URL and
    drops it afterwards (closing any connection left)."""
    import psycopg

    name = f"livy_race_{secrets.token_hex(6)}"
    parts = urlsplit(server_url)
    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def gunicorn(env: Mapping[str, str], *, workers: int, threads: int, log: Path, timeout: float = 60) -> Iterator[str]:
    """gunicorn serving ``myapp.wsgi:application`` on a free 127.0.0.1 port with ``env``;
    yields its base URL once ``/healthz`` answers; stops it (SIGTERM, then SIGKILL) after."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "myapp.wsgi:application", "--bind", f"127.0.0.1:{port}",
             "--workers", str(workers), "--threads", str(threads), "--timeout", "60", "--no-control-socket",
             "--access-logfile", "-", "--error-logfile", "-"],
            cwd=ROOT, env=dict(env), stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )
    try:
        def healthy() -> bool:
            assert process.poll() is None, f"gunicorn exited with {process.returncode}:\n{log.read_text()}"
            try:
                return requests.get(f"{url}/healthz", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(healthy, timeout=timeout, interval=0.2, what=f"gunicorn to answer on {url}")
        yield url
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=10)


class Browser:
    """One signed-in HTTP client (its own cookies: a browser, or a tab in a private window)
    that sends POSTs as the page's script does: ``X-Livy-Fragment: 1`` and the CSRF token in ``X-CSRFToken``."""

    def __init__(self, base_url: str):
        self.base_url = base_url
        self.http = requests.Session()
        # A new connection per request: a kept-alive one may be closed by gunicorn (after its
        # keep-alive timeout) just as a POST goes out, and a POST is not sent twice.
        self.http.headers["Connection"] = "close"

    def sign_in(self, username: str, password: str) -> None:
        page = self.http.get(f"{self.base_url}/accounts/login/", timeout=30)
        assert page.status_code == 200, page.status_code
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        assert token, "no CSRF token in the sign-in form"
        answer = self.http.post(
            f"{self.base_url}/accounts/login/",
            data={"username": username, "password": password, "csrfmiddlewaretoken": token[1], "next": "/"},
            allow_redirects=False, timeout=30,
        )
        assert answer.status_code == 302, f"sign-in failed: HTTP {answer.status_code}"

    def post(self, path: str, data: Mapping[str, str] | None = None) -> requests.Response:
        headers = {"X-Livy-Fragment": "1", "X-CSRFToken": self.http.cookies.get("csrftoken", ""),
                   "Referer": f"{self.base_url}/"}
        return self.http.post(f"{self.base_url}{path}", data=dict(data or {}), headers=headers, timeout=60)

    def get(self, path: str) -> requests.Response:
        return self.http.get(f"{self.base_url}{path}", headers={"X-Livy-Fragment": "1"}, timeout=60)

    def close(self) -> None:
        self.http.close()
