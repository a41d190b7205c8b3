"""Fabric with delegated tokens, in headless Chromium: sign in with Microsoft, run code, and
when the token can no longer be refreshed, go through sign-in again and come back to the
notebook with the code still in the editor and the statement run.

The browser's visit to login.microsoftonline.com is answered by Playwright (``page.route``)
the way Entra ID answers after the user signs in: a redirect to the app's callback with a
code. The app's own calls (token endpoint, Graph, Fabric) go to the HTTP fakes; every Fabric
exchange is checked against the swagger.
"""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
import responses
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from playwright.sync_api import expect

from tests.e2e.notebook_helpers import run_code, type_code
from tests.support.fakes_entra import EDITORS_GID, EntraUser, FakeEntra, configure_entra
from tests.support.fakes_fabric import ENDPOINT, FakeFabric
from tests.support.livy_json import ok_output

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

NEW_CODE = "df = spark.range(5)\ndf.count()"


def _expire_tokens_of(session_key: str) -> None:
    store = SessionStore(session_key=session_key)
    cache = json.loads(store["token_cache"])
    for entry in cache.get("AccessToken", {}).values():
        entry["expires_on"] = entry["extended_expires_on"] = str(int(time.time()) - 10)
    store["token_cache"] = json.dumps(cache)
    store.save()


def test_expired_sign_in_round_trip_keeps_the_code(page, live_server, settings):
    configure_entra(settings, LIVY_BACKEND="fabric", LIVY_BASE_ENDPOINT=ENDPOINT,
                    REDIRECT_URI=f"{live_server.url}/azure_auth/callback")
    call_command("setup_roles", verbosity=0)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        entra = FakeEntra(mock)
        fabric = FakeFabric(mock, {"1+1": ("available", ok_output("2", 1)),
                                   NEW_CODE: ("available", ok_output("5", 2))},
                            token_ok=lambda t: entra.valid_for(t, "api.fabric.microsoft.com"))
        user = EntraUser(groups=[EDITORS_GID])
        sign_ins = []

        def entra_sign_in_page(route):
            sign_ins.append(route.request.url)
            entra.refresh_error = None  # a fresh interactive sign-in works again
            query = urlencode(entra.authorize(route.request.url, user))
            route.fulfill(status=302, headers={"Location": f"{live_server.url}/azure_auth/callback?{query}"})

        page.route("https://login.microsoftonline.com/**", entra_sign_in_page)

        page.goto(f"{live_server.url}/")
        page.click("#entra-sign-in")
        page.wait_for_url(f"{live_server.url}/")
        assert len(sign_ins) == 1

        run_code(page, "1+1")
        expect(page.locator(".statement").last.locator(".out-text")).to_have_text("2", timeout=20_000)
        expect(page.locator("#session-state")).to_have_text("idle")

        # Time passes: the Fabric token expires and the refresh token is no longer accepted.
        session_key = next(c["value"] for c in page.context.cookies() if c["name"] == "sessionid")
        _expire_tokens_of(session_key)
        entra.refresh_error = "invalid_grant"

        type_code(page, NEW_CODE)
        page.keyboard.press("Control+Enter")
        # Through Microsoft's sign-in page and back to the notebook.
        page.wait_for_url(f"{live_server.url}/", timeout=20_000)
        expect(page.locator("#id_code")).to_have_value(NEW_CODE)
        expect(page.locator(".statement").last.locator(".out-text")).to_have_text("5", timeout=20_000)
        assert len(sign_ins) == 2
        assert [c for c in fabric.exchanges if c[0].endswith("ExecuteSparkSessionStatementAsync")][-1][2] == 200
