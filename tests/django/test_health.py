"""``/healthz``: database and Livy status for load balancers, with no sign-in and no secrets."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import OperationalError, connections

from tests.support.livy_json import LIVY, refused

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_livy_status():
    """livy.health caches one answer per endpoint for a few seconds."""
    cache.clear()
    yield
    cache.clear()


def test_all_well_is_ok_with_livy_version(client, livy_api):
    livy_api.get(f"{LIVY}/version", json={"version": "0.9.0-incubating", "branch": "master", "user": "x"})
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "livy": {"probed": True, "reachable": True, "version": "0.9.0-incubating"},
    }
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


def test_livy_down_is_degraded_but_still_200(client, livy_api):
    """The web tier works without Livy: a load balancer must not take it out of rotation."""
    livy_api.get(f"{LIVY}/version", body=refused())
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "degraded",
        "database": "ok",
        "livy": {"probed": True, "reachable": False, "version": ""},
    }


def test_livy_answer_is_cached_between_probes(client, livy_api):
    version = livy_api.get(f"{LIVY}/version", json={"version": "0.9.0-incubating"})
    for _ in range(3):
        assert client.get("/healthz").json()["status"] == "ok"
    assert version.call_count == 1


def test_database_failure_is_503(client, livy_api, monkeypatch):
    livy_api.get(f"{LIVY}/version", json={"version": "0.9.0-incubating"})

    def broken_cursor(*args, **kwargs):
        raise OperationalError('connection to server at "db.internal" failed: password authentication failed')

    monkeypatch.setattr(connections["default"], "cursor", broken_cursor)
    response = client.get("/healthz")
    body = response.content.decode()
    assert response.status_code == 503
    assert response.json()["status"] == "error" and response.json()["database"] == "error"
    assert "db.internal" not in body and "password" not in body


def test_no_endpoint_or_credentials_in_the_answer(client, livy_api, settings):
    settings.CONFIG = settings.CONFIG.model_copy(
        update={"LIVY_BASE_ENDPOINT": "http://svc-user:hunter2@livy-internal.example:8998"}
    )
    # Nothing is registered for that host: the fake refuses the call (Livy unreachable).
    response = client.get("/healthz")
    body = response.content.decode()
    assert response.status_code == 200 and response.json()["status"] == "degraded"
    assert "hunter2" not in body and "svc-user" not in body and "livy-internal" not in body
    assert set(response.json()) == {"status", "database", "livy"}


def test_fabric_with_delegated_tokens_is_not_probed(client, livy_api, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_BACKEND": "fabric", "FABRIC_AUTH": "delegated"})
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "database": "ok",
        "livy": {"probed": False, "reachable": None, "version": ""},
    }
    assert len(livy_api.calls) == 0


def test_head_and_anonymous_are_answered_and_post_is_not(client, livy_api):
    livy_api.get(f"{LIVY}/version", json={"version": "0.9.0-incubating"})
    assert client.head("/healthz").status_code == 200
    assert client.post("/healthz").status_code == 405
