"""Livy payloads as Apache Livy 0.9 writes them, for tests that fake Livy over HTTP with
`responses`, and the exception requests raises when nothing listens on Livy's port."""

from __future__ import annotations

import requests
from django.conf import settings

LIVY = settings.CONFIG.LIVY_BASE_ENDPOINT
#: The session name in these payloads; Livy echoes the name it was given, and the lifecycle
#: trusts a Livy session only when its id and name match the row.
FAKE_SESSION_NAME = "pytest-1"


def session_json(id=0, state="starting", name=FAKE_SESSION_NAME, kind="pyspark", app_id=None, **extra):
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


def session_row(owner, **fields):
    """A session row as the lifecycle leaves it once Livy session 4 (named like these
    payloads) is idle; ``fields`` override."""
    from livy.models import SparkSession

    values = {"backend": "apache", "endpoint": LIVY, "livy_id": "4", "name": FAKE_SESSION_NAME, "state": "idle"}
    values.update(fields)
    return SparkSession.objects.create(owner=owner, **values)


def batch_json(id=0, state="starting", name="pytest-job-1", app_id=None, log=None, **extra):
    """A batch as Apache Livy 0.9 returns it from POST/GET /batches[/{id}] (``BatchSession``
    view: id, name, owner, proxyUser, state, appId, appInfo, log)."""
    body = {
        "id": id,
        "name": name,
        "owner": None,
        "proxyUser": None,
        "state": state,
        "appId": app_id,
        "appInfo": {"driverLogUrl": None, "sparkUiUrl": None},
        "log": list(log) if log is not None else ["stdout: ", "\nstderr: "],
    }
    body.update(extra)
    return body


def batch_log_json(id, stdout=(), stderr=(), offset=0):
    """``GET /batches/{id}/log`` of Apache Livy 0.9: ``SparkProcApp.log`` is
    ``["stdout: ", *stdout, "\\nstderr: ", *stderr]``."""
    lines = ["stdout: ", *stdout, "\nstderr: ", *stderr]
    return {"id": id, "from": offset, "total": len(lines), "log": lines[offset:]}
