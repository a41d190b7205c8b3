"""Fixtures of the API tests: users of each role, their personal tokens, a bearer client."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache
from django.core.management import call_command

from api import entra, tokens


@pytest.fixture(autouse=True)
def _fresh_caches():
    """Throttle counts, role syncs and the tenant's keys do not leak between tests."""
    cache.clear()
    entra.reset_caches()
    yield
    cache.clear()
    entra.reset_caches()


@pytest.fixture
def roles(db):
    call_command("setup_roles", verbosity=0)


@pytest.fixture
def people(roles, django_user_model):
    """One user per role: vera (Viewers), erin and oscar (Editors), ada (Administrators)."""

    def user(name, group, staff=False):
        u = django_user_model.objects.create_user(name, password="pw", is_staff=staff)
        u.groups.add(Group.objects.get(name=group))
        return u

    return {"viewer": user("vera", "Viewers"), "editor": user("erin", "Editors"),
            "other": user("oscar", "Editors"), "admin": user("ada", "Administrators", staff=True)}


@pytest.fixture
def token_of(people):
    """``token_of("editor")``: a new personal token of that role's user."""

    def make(role: str) -> str:
        return tokens.issue(people[role], f"{role} tests")[1]

    return make


@pytest.fixture
def bearer(client):
    """``bearer(token).get(url)``: Django's test client sending ``Authorization: Bearer``."""

    class Bearer:
        def __init__(self, token: str | None):
            self.headers = {"Authorization": f"Bearer {token}"} if token else {}

        def get(self, url, **kw):
            return client.get(url, headers=self.headers, **kw)

        def delete(self, url, **kw):
            return client.delete(url, headers=self.headers, **kw)

        def post(self, url, data=None, content_type="application/json", **kw):
            return client.post(url, _json(data), content_type=content_type, headers=self.headers, **kw)

        def put(self, url, data=None, content_type="application/json", **kw):
            return client.put(url, _json(data), content_type=content_type, headers=self.headers, **kw)

    return Bearer


def _json(data):
    import json

    return data if isinstance(data, (bytes, str)) or data is None else json.dumps(data)
