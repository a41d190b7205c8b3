"""Shared fixtures: users with roles' permissions, a `responses` fake of Apache Livy, and the
real local Livy for the tests marked ``livy``."""

from __future__ import annotations

import os

import pytest
import requests
import responses
from django.conf import settings
from django.contrib.auth.models import Permission

LIVY = settings.CONFIG.LIVY_BASE_ENDPOINT


# ------------------------------------------------------------------------------- payloads
def session_json(id=0, state="starting", name="pytest-1", kind="pyspark", app_id=None, **extra):
    """A session as Apache Livy 0.9 returns it from POST/GET /sessions[/{id}]."""
    body = {
        "id": id,
        "name": name,
        "appId": app_id,
        "owner": None,
        "proxyUser": None,
        "state": state,
        "kind": kind,
        "appInfo": {"driverLogUrl": None, "sparkUiUrl": None},
        "log": ["stdout: ", "\nstderr: "],
        "ttl": None,
        "idleTimeout": None,
        "driverMemory": None,
        "driverCores": 0,
        "executorMemory": None,
        "executorCores": 0,
        "conf": {},
        "archives": [],
        "files": [],
        "heartbeatTimeoutInSecond": 0,
        "jars": [],
        "numExecutors": 0,
        "pyFiles": [],
        "queue": None,
    }
    body.update(extra)
    return body


def statement_json(id=0, state="waiting", code="1+1", output=None, progress=0.0, started=0, completed=0):
    """A statement as Apache Livy 0.9 returns it."""
    return {
        "id": id,
        "code": code,
        "state": state,
        "output": output,
        "progress": progress,
        "started": started,
        "completed": completed,
    }


def ok_output(text, count=0):
    return {"status": "ok", "execution_count": count, "data": {"text/plain": text}}


def error_output(ename, evalue, traceback, count=0):
    return {"status": "error", "execution_count": count, "ename": ename, "evalue": evalue, "traceback": traceback}


def refused(url: str = "http://127.0.0.1:8998/") -> requests.ConnectionError:
    """What requests raises when nothing listens on Livy's port (the request was never sent)."""
    from urllib3.exceptions import MaxRetryError, NewConnectionError

    reason = NewConnectionError(None, "Failed to establish a new connection: [Errno 111] Connection refused")
    return requests.ConnectionError(MaxRetryError(None, url, reason))


# ---------------------------------------------------------------------------------- users
def _user_with(django_user_model, username, *codenames):
    user = django_user_model.objects.create_user(username=username, password="pw-" + username)
    perms = Permission.objects.filter(content_type__app_label="livy", codename__in=codenames)
    assert perms.count() == len(codenames), codenames
    user.user_permissions.add(*perms)
    return django_user_model.objects.get(pk=user.pk)  # fresh permission cache


EDITOR_PERMS = ("add_sparksession", "view_sparksession", "run_code", "view_statement")


@pytest.fixture
def editor(django_user_model):
    """A user who may start sessions and run code in them."""
    return _user_with(django_user_model, "erin", *EDITOR_PERMS)


@pytest.fixture
def other_editor(django_user_model):
    return _user_with(django_user_model, "oscar", *EDITOR_PERMS)


@pytest.fixture
def viewer(django_user_model):
    """A signed-in user who may only read."""
    return _user_with(django_user_model, "vera", "view_sparksession", "view_statement")


@pytest.fixture
def livy_admin(django_user_model):
    return _user_with(
        django_user_model, "ada", *EDITOR_PERMS, "view_all_sessions", "stop_any_session"
    )


# ------------------------------------------------------------------------------ Livy fakes
@pytest.fixture
def livy_api():
    """A `responses` mock of Apache Livy at the configured endpoint; unmatched calls fail."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


# ----------------------------------------------------------------------------- real Livy
def _livy_answers(url: str) -> bool:
    try:
        return requests.get(f"{url}/sessions", timeout=3).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture(scope="session")
def real_livy() -> str:
    """The base URL of the real local Apache Livy (scripts/livy/livy.sh up).

    Skips when it is not running, unless LIVY_TESTS_REQUIRED=1 or CI is set: then it fails,
    so a CI run can never pass with these tests silently skipped. The one exception is
    LIVY_UNAVAILABLE (set by scripts/test.sh when scripts/livy/livy.sh reports that no Livy
    distribution can be obtained on the machine): the tests are skipped with that reason.
    """
    if _livy_answers(LIVY):
        return LIVY
    blocked = os.environ.get("LIVY_UNAVAILABLE")
    if blocked:
        # Set by scripts/test.sh when livy.sh exits 4: no Livy distribution exists here.
        pytest.skip(f"BLOCKED: {blocked}")
    message = f"no Apache Livy answers at {LIVY}: start it with `make livy-up`"
    if os.environ.get("LIVY_TESTS_REQUIRED") == "1" or os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)
