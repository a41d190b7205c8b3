"""Personal access tokens: shown once, stored as a digest, expiring, revocable by their owner
(page) and by administrators (Django admin), last use recorded."""

from __future__ import annotations

import hashlib
import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from api import tokens
from api.models import ApiToken

pytestmark = pytest.mark.django_db


def test_the_command_prints_the_token_once_and_stores_only_its_digest(people, bearer):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_token", "erin", "--name", "ci", "--expires-days", "7", stdout=out, stderr=err)
    token = out.getvalue().strip()
    assert token.startswith("lwt_") and len(token) > 40 and token not in err.getvalue()
    row = ApiToken.objects.get(name="ci")
    assert row.digest == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str([getattr(row, f.attname) for f in ApiToken._meta.fields])
    assert timedelta(days=6, hours=23) < row.expires_at - timezone.now() <= timedelta(days=7)
    assert bearer(token).get("/api/v1/sessions").status_code == 200


def test_the_command_refuses_unknown_users_and_long_lives(people):
    with pytest.raises(CommandError, match="no user"):
        call_command("create_api_token", "nobody")
    with pytest.raises(CommandError, match="1 to 365 days"):
        call_command("create_api_token", "erin", "--expires-days", "1000")


def test_expired_and_revoked_tokens_are_refused(people, bearer):
    row, token = tokens.issue(people["editor"], "short")
    assert bearer(token).get("/api/v1/sessions").status_code == 200
    ApiToken.objects.filter(pk=row.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert bearer(token).get("/api/v1/sessions").status_code == 401
    row2, token2 = tokens.issue(people["editor"], "revoked")
    tokens.revoke(row2, by=people["editor"])
    assert bearer(token2).get("/api/v1/sessions").status_code == 401


def test_an_inactive_users_token_is_refused(people, bearer):
    _, token = tokens.issue(people["editor"], "t")
    people["editor"].is_active = False
    people["editor"].save()
    assert bearer(token).get("/api/v1/sessions").status_code == 401


def test_last_use_is_recorded_at_most_once_a_minute(people, bearer):
    row, token = tokens.issue(people["editor"], "t")
    bearer(token).get("/api/v1/sessions")
    row.refresh_from_db()
    first = row.last_used_at
    assert first is not None
    bearer(token).get("/api/v1/sessions")
    row.refresh_from_db()
    assert row.last_used_at == first
    ApiToken.objects.filter(pk=row.pk).update(last_used_at=first - timedelta(minutes=2))
    bearer(token).get("/api/v1/sessions")
    row.refresh_from_db()
    assert row.last_used_at > first


def test_the_tokens_page_shows_a_new_token_once_and_revokes(client, people, bearer):
    client.force_login(people["viewer"])
    page = client.post("/accounts/api-tokens/", {"name": "laptop", "days": "30"})
    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    body = page.content.decode()
    token = body.split('<pre class="token-value"><code>')[1].split("</code>")[0]
    assert token.startswith("lwt_") and bearer(token).get("/api/v1/sessions").status_code == 200
    listing = client.get("/accounts/api-tokens/").content.decode()
    assert "laptop" in listing and token not in listing and token[:10] in listing
    row = ApiToken.objects.get(name="laptop")
    assert client.post(f"/accounts/api-tokens/{row.pk}/revoke/").status_code == 302
    assert bearer(token).get("/api/v1/sessions").status_code == 401


def test_the_tokens_page_refuses_a_life_past_the_maximum(client, people):
    client.force_login(people["viewer"])
    page = client.post("/accounts/api-tokens/", {"name": "forever", "days": "5000"}).content.decode()
    assert "At most 365 days" in page and not ApiToken.objects.exists()


def test_nobody_revokes_another_users_token_on_the_page(client, people, bearer):
    row, token = tokens.issue(people["editor"], "erins")
    client.force_login(people["other"])
    assert client.post(f"/accounts/api-tokens/{row.pk}/revoke/").status_code == 404
    assert bearer(token).get("/api/v1/sessions").status_code == 200


def test_administrators_revoke_anyones_token_in_the_admin(client, people, bearer):
    row, token = tokens.issue(people["editor"], "erins")
    client.force_login(people["admin"])
    listing = client.get("/admin/api/apitoken/")
    assert listing.status_code == 200 and "erins" in listing.content.decode()
    response = client.post("/admin/api/apitoken/", {"action": "revoke", "_selected_action": [row.pk]})
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.revoked_at is not None and row.revoked_by == people["admin"]
    assert bearer(token).get("/api/v1/sessions").status_code == 401
    assert client.get("/admin/api/apitoken/add/").status_code == 403


def test_editors_have_no_token_admin(client, people):
    client.force_login(people["editor"])
    assert client.get("/admin/api/apitoken/").status_code == 302


def test_tokens_never_reach_the_logs(people, bearer, caplog, token_of):
    import logging

    token = token_of("editor")
    with caplog.at_level(logging.DEBUG):
        bearer(token).get("/api/v1/sessions")
        bearer(token + "x").get("/api/v1/sessions")
        bearer(token).get("/api/v1/nowhere")
    assert token not in caplog.text
