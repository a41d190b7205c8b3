"""Shared fixtures: users with roles' permissions, a `responses` fake of Apache Livy, and the
real local Livy for the tests marked ``livy``. Helpers tests import live in
:mod:`tests.support`, never here.

Each test folder is a kind of test, marked automatically: ``unit`` (no database),
``django`` (database, Livy faked), ``contract`` (Fabric swagger, shared behaviour),
``integration`` (the real local Livy) and ``e2e`` (headless Chromium)."""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
import requests
import responses
from django.contrib.auth.models import Permission

from tests.support.livy_json import FAKE_SESSION_NAME, LIVY

#: Marker of each test folder (see the module docstring).
FOLDER_MARKERS = ("unit", "django", "contract", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test with the kind of its folder, so ``-m unit`` and friends select them."""
    for item in items:
        parts = item.nodeid.split("/")
        if len(parts) > 2 and parts[0] == "tests" and parts[1] in FOLDER_MARKERS:
            item.add_marker(getattr(pytest.mark, parts[1]))


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
def as_editor(client, editor):
    """Django's test client, signed in as :func:`editor`."""
    client.force_login(editor)
    return client


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
def fake_session_names(monkeypatch):
    """New sessions are named :data:`FAKE_SESSION_NAME`, the name the static payloads of
    :func:`tests.support.livy_json.session_json` carry, so a faked Livy "echoes" the name as
    the real one does (the lifecycle trusts a Livy session only when id and name match)."""
    from livy import lifecycle

    real = lifecycle.session_spec

    def named():
        spec = real()
        # A test that sets its own prefix checks the naming itself: leave it alone.
        return replace(spec, name=FAKE_SESSION_NAME) if spec.name.startswith("pytest-") else spec

    monkeypatch.setattr(lifecycle, "session_spec", named)


@pytest.fixture
def livy_api(fake_session_names):
    """A `responses` mock of Apache Livy at the configured endpoint; unmatched calls fail.
    Sessions the app starts are named like the payloads (see :func:`fake_session_names`)."""
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
