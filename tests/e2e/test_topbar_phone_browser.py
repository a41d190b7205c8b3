"""The top bar on a phone (390 px wide) for the user with the most links (an administrator):
every link is on the screen, nothing scrolls sideways."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_every_top_bar_link_fits_on_a_phone(browser, live_server, django_user_model):
    from django.contrib.auth.models import Group
    from django.core.management import call_command

    call_command("setup_roles", verbosity=0)
    admin = django_user_model.objects.create_user("ada", password="correct horse battery", is_staff=True)
    admin.groups.add(Group.objects.get(name="Administrators"))
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True)
    try:
        page = context.new_page()
        page.goto(f"{live_server.url}/")
        page.fill("#id_username", "ada")
        page.fill("#id_password", "correct horse battery")
        page.click("button[type=submit]")
        page.wait_for_url(f"{live_server.url}/")
        for url in ("/", "/notebooks/", "/jobs/"):
            page.goto(f"{live_server.url}{url}")
            links = page.locator(".topbar nav a")
            expect(links.last).to_have_text("Admin")
            for i in range(links.count()):
                box = links.nth(i).bounding_box()
                assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, \
                    f"{links.nth(i).inner_text()!r} is off the screen on {url}: {box}"
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= 390, f"{url} scrolls sideways on a phone ({width} px)"
    finally:
        context.close()
