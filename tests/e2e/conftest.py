"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, against Django's
live test server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} not found: apt-get install chromium chromium-driver (scripts/test.sh does)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    yield page
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()


@pytest.fixture
def sign_in(live_server, django_user_model):
    """Create an editor account and sign in through the login form; returns the page."""
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    def _sign_in(page, username="erin", group="Editors"):
        call_command("setup_roles", verbosity=0)
        user = django_user_model.objects.create_user(username=username, password="correct horse battery")
        user.groups.add(Group.objects.get(name=group))
        page.goto(f"{live_server.url}/")
        page.fill("#id_username", username)
        page.fill("#id_password", "correct horse battery")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        return user

    return _sign_in
