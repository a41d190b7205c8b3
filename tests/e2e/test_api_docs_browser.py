"""The interactive API docs (/api/v1/docs) in headless Chromium, under the app's CSP: Swagger UI
renders every operation from this server's files, with no CSP violation and no request to
another origin (no CDN)."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_swagger_ui_renders_under_the_csp_from_local_assets(page, live_server):
    problems: list[str] = []
    origins: set[str] = set()
    page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.on("request", lambda req: origins.add(f"{urlsplit(req.url).scheme}://{urlsplit(req.url).netloc}"))
    response = page.goto(f"{live_server.url}/api/v1/docs")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = set(page.locator(".opblock-summary-path").all_inner_texts())
    assert {"/api/v1/statements", "/api/v1/statements/{statement_id}", "/api/v1/sessions"} <= {
        p.replace("\u200b", "") for p in paths}
    assert page.locator("button.authorize").count() == 1  # the Bearer scheme can be entered
    assert origins == {live_server.url.rstrip("/")}, origins
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    assert not problems, problems
