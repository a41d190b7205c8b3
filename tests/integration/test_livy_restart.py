"""A real Apache Livy restarted under two users: Livy numbers sessions from 0 again, and the
app must never show, run in or stop the other user's session that now has our id.

Runs a second Livy server (same distribution, its own port, configuration and log: see
``scripts/livy/livy.sh``) so restarting it does not disturb the main one.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from livy import lifecycle
from livy.clients import livy_client
from livy.models import SparkSession, Statement
from tests.support.polling import wait_for

pytestmark = [pytest.mark.livy, pytest.mark.django_db(transaction=True)]

LIVY_SH = Path(__file__).resolve().parents[2] / "scripts" / "livy" / "livy.sh"
SESSION_START_TIMEOUT = 240


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class SecondLivy:
    def __init__(self, port: int):
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.env = {**os.environ, "LIVY_PORT": str(port)}

    def _run(self, verb: str) -> None:
        done = subprocess.run([str(LIVY_SH), verb], env=self.env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"livy.sh {verb}: {done.stdout}\n{done.stderr}"

    def up(self) -> None:
        self._run("up")

    def down(self) -> None:
        self._run("down")


@pytest.fixture(scope="module")
def second_livy(real_livy):
    livy = SecondLivy(_free_port())
    livy.up()
    try:
        yield livy
    finally:
        livy.down()


def _run_to_end(user, code: str) -> Statement:
    """Run ``code`` as ``user`` and poll as the page does (the owner's POST while queued)."""
    stmt = lifecycle.submit(user, code, client=livy_client(), wait=1.0)

    def finished():
        lifecycle.dispatch(stmt.session, client=livy_client(), user=user)
        stmt.refresh_from_db()
        return stmt.is_terminal
    wait_for(finished, timeout=SESSION_START_TIMEOUT, interval=1, what=f"{code!r} to finish")
    return stmt


def test_a_restarted_livy_never_mixes_users(second_livy, settings, editor, other_editor):
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_BASE_ENDPOINT": second_livy.url})
    erin, oscar = editor, other_editor

    first = _run_to_end(erin, "secret = 'erin'")
    erins = first.session
    assert first.state == "available" and erins.livy_id == "0"

    second_livy.down()
    second_livy.up()

    theirs = _run_to_end(oscar, "secret = 'oscar'\nprint(secret)")
    assert theirs.state == "available"
    assert theirs.session.livy_id == erins.livy_id  # the id is reused: the case this guards against

    # Erin's page polls: her row closes with the reason; nothing of Oscar's is copied.
    lifecycle.verify(erins, client=livy_client(), user=erin)
    erins.refresh_from_db()
    assert (erins.state, erins.active) == ("dead", False)
    assert "someone else" in erins.error_message
    assert "oscar" not in str(Statement.objects.filter(session=erins).values_list("output", flat=True))

    # Erin's Stop leaves Oscar's session alive on Livy.
    lifecycle.stop_session(erins, client=livy_client())
    oscars_on_livy = livy_client().get_session(theirs.session.livy_id)
    assert oscars_on_livy.name == theirs.session.name and not oscars_on_livy.state.is_terminal

    # Erin's next Run goes to a new session of her own, where Oscar's variables do not exist.
    probe = _run_to_end(erin, "print(secret)")
    assert probe.session.pk != erins.pk and probe.session.livy_id != theirs.session.livy_id
    assert probe.state == "error" and probe.error_name == "NameError"

    for row in SparkSession.objects.filter(active=True):
        lifecycle.stop_session(row, client=livy_client())
