"""Fabric's Livy API specifics, against the swagger-checked fake and the fake Entra ID:
request bodies, acquisition phases, errors with request ids, throttling, the grace period
after creating a session, keep-alive, paging, and tokens (silent refresh, sign-in again)."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from livy.models import SparkSession, Statement
from livy.remote.backends import ApacheLivyBackend, FabricLivyBackend
from livy.remote.client import LivyClient
from livy.remote.errors import LivySignInRequired
from livy.remote.tokens import DelegatedTokenProvider, ServicePrincipalTokenProvider
from livy.remote.types import SessionSpec
from tests.support.fakes_entra import EDITORS_GID, EntraUser, FakeEntra, configure_entra, entra_sign_in
from tests.support.fakes_fabric import ENDPOINT, FakeFabric, contract, error_body
from tests.support.livy_json import error_output, ok_output
from tests.support.pages import poll_like_the_page

pytestmark = pytest.mark.django_db
FRAGMENT = {"HTTP_X_LIVY_FRAGMENT": "1"}
FABRIC = "api.fabric.microsoft.com"


class World:
    def __init__(self, client, entra, fabric, settings, user):
        self.client, self.entra, self.fabric, self.settings, self.user = client, entra, fabric, settings, user

    def run(self, code):
        return self.client.post(reverse("livy:run"), {"code": code}, **FRAGMENT)

    def live(self):
        session = SparkSession.objects.get(active=True)
        return poll_like_the_page(self.client, session)

    def until_idle(self):
        for _ in range(10):
            if 'badge-ok">idle' in self.live():
                return
        raise AssertionError("session never became idle")


@pytest.fixture
def world(settings, client):
    configure_entra(settings, LIVY_BACKEND="fabric", LIVY_BASE_ENDPOINT=ENDPOINT)
    call_command("setup_roles", verbosity=0)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        entra = FakeEntra(mock)
        fabric = FakeFabric(mock, {"1+1": ("available", ok_output("2")),
                                   "boom()": ("Error", error_output("Py4JJavaError", "An error occurred", ["trace\n"]))},
                            token_ok=lambda t: entra.valid_for(t, FABRIC))
        user = EntraUser(groups=[EDITORS_GID])
        entra_sign_in(client, entra, user)
        yield World(client, entra, fabric, settings, user)


def _last_body(fabric, operation_id):
    for call in reversed(fabric.mock.calls):
        if contract().operation(call.request.method, call.request.url)[0].operation_id == operation_id \
                if FABRIC in call.request.url else False:
            return json.loads(call.request.body) if call.request.body else None
    raise AssertionError(f"no {operation_id} call")


# ------------------------------------------------------------------------------- bodies
def test_session_request_has_no_kind_and_string_conf_and_pyfiles_as_spark_conf(world, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={
        "LIVY_SPARK_CONF": {"spark.fabric.environmentDetails": {"id": "env-1"}, "spark.executor.instances": 2,
                            "spark.sql.shuffle.partitions": "8"},
        "LIVY_SPARK_DEPENDENCIES": ["abfss://ws@onelake.dfs.fabric.microsoft.com/lh.Lakehouse/Files/util.py"],
    })
    world.run("1+1")
    body = _last_body(world.fabric, "LivyApiSession_AcquireSparkSessionAsync")
    assert set(body) == {"name", "conf"}  # no kind, no sizes: the starter pool is kept
    assert body["conf"] == {
        "spark.fabric.environmentDetails": '{"id": "env-1"}',
        "spark.executor.instances": "2",
        "spark.sql.shuffle.partitions": "8",
        "spark.submit.pyFiles": "abfss://ws@onelake.dfs.fabric.microsoft.com/lh.Lakehouse/Files/util.py",
    }


def test_statement_carries_the_kind(world):
    world.run("1+1")
    world.until_idle()
    assert _last_body(world.fabric, "LivyApiSession_ExecuteSparkSessionStatementAsync") == {"code": "1+1", "kind": "pyspark"}


def test_the_contract_rejects_what_fabric_does_not_define(world):
    apache_style = LivyClient(ApacheLivyBackend(ENDPOINT), timeout=5)
    with pytest.raises(AssertionError, match="kind"):
        apache_style.create_session(SessionSpec(name="pytest-1"))


# ----------------------------------------------------------------------- what users see
def test_acquisition_phases_are_shown_then_idle(world):
    world.run("1+1")
    page = world.live()
    assert 'id="session-phase"' in page and "acquiring Spark compute" in page
    world.until_idle()
    assert 'id="session-phase"' not in world.live()


def test_capitalised_error_state_is_an_error(world):
    world.run("boom()")
    world.until_idle()
    for _ in range(5):
        page = world.live()
    stmt = Statement.objects.get(code="boom()")
    assert stmt.state == "error" and stmt.error_name == "Py4JJavaError"
    assert 'data-state="error"' in page


def test_fabric_error_body_is_shown_with_its_request_id(world):
    body = error_body("SparkSettingsInvalid", "The Spark setting spark.executor.cores is not allowed.")
    world.fabric.inject("LivyApiSession_AcquireSparkSessionAsync", 400, body)
    page = world.run("1+1").content.decode()
    assert "SparkSettingsInvalid: The Spark setting spark.executor.cores is not allowed." in page
    assert f"request id {body['requestId']}" in page


def test_430_on_create_tells_when_to_try_again(world):
    world.fabric.inject("LivyApiSession_AcquireSparkSessionAsync", 430,
                        error_body("TooManyRequestsForCapacity", "Spark capacity is exhausted."), {"Retry-After": "45"})
    page = world.run("1+1").content.decode()
    assert "Livy is busy (HTTP 430: TooManyRequestsForCapacity: Spark capacity is exhausted." in page
    assert "Try again in 45 s." in page


def test_430_on_a_poll_is_retried_after_retry_after(world):
    world.run("1+1")
    world.fabric.inject("LivyApiSession_GetSparkSessionAsync", 430,
                        error_body("TooManyRequestsForCapacity", "busy"), {"Retry-After": "0"})
    before = len(world.fabric.calls("LivyApiSession_GetSparkSessionAsync"))
    page = world.live()
    calls = world.fabric.calls("LivyApiSession_GetSparkSessionAsync")[before:]
    assert [status for _, _, status in calls] == [430, 200]
    assert "notice-error" not in page


def test_404_right_after_create_is_tolerated_then_not(world, settings):
    world.run("1+1")
    world.fabric.inject("LivyApiSession_GetSparkSessionAsync", 404, error_body("LivySessionNotFound", "not yet"))
    world.live()
    session = SparkSession.objects.get(active=True)
    assert session.state not in ("dead", "error")
    SparkSession.objects.filter(pk=session.pk).update(created_at=timezone.now() - timedelta(seconds=120))
    world.fabric.inject("LivyApiSession_GetSparkSessionAsync", 404, error_body("LivySessionNotFound", "gone"))
    world.live()
    session.refresh_from_db()
    assert (session.state, session.active) == ("dead", False)


def test_5xx_right_after_create_is_tolerated(world):
    world.run("1+1")
    world.fabric.inject("LivyApiSession_GetSparkSessionAsync", 500, error_body("InternalError", "try later"))
    world.fabric.inject("LivyApiSession_GetSparkSessionAsync", 500, error_body("InternalError", "try later"))
    world.fabric.inject("LivyApiSession_GetSparkSessionAsync", 500, error_body("InternalError", "try later"))
    world.fabric.inject("LivyApiSession_GetSparkSessionAsync", 500, error_body("InternalError", "try later"))
    page = world.live()
    assert "notice-error" not in page and SparkSession.objects.get(active=True).state != "dead"


def test_keep_alive_resets_the_timeout_while_the_user_is_active(world, settings):
    world.run("1+1")
    world.until_idle()
    resets = world.fabric.calls("LivyApiSession_ResetSparkSessionTimeoutAsync")
    assert len(resets) == 1  # sent once the session was ready, not on every poll
    session = SparkSession.objects.get(active=True)
    assert world.client.post(reverse("livy:keep_alive", args=[session.pk])).status_code == 204
    assert len(world.fabric.calls("LivyApiSession_ResetSparkSessionTimeoutAsync")) == 1  # within the interval
    SparkSession.objects.filter(pk=session.pk).update(kept_alive_at=timezone.now() - timedelta(minutes=6))
    world.client.post(reverse("livy:keep_alive", args=[session.pk]))
    assert len(world.fabric.calls("LivyApiSession_ResetSparkSessionTimeoutAsync")) == 2


def test_page_has_a_visible_only_heartbeat(world):
    world.run("1+1")
    world.until_idle()
    page = world.client.get(reverse("livy:notebook")).content.decode()
    session = SparkSession.objects.get(active=True)
    url = reverse("livy:keep_alive", args=[session.pk])
    assert f'data-keepalive-url="{url}" data-keepalive-interval="300.0"' in page
    # The page's script posts it every interval, skipping beats while the tab is hidden.
    script = (Path(__file__).resolve().parents[2] / "frontend/src/app/heartbeat.js").read_text()
    assert 'if (document.visibilityState !== "visible") return;' in script


def test_listing_pages_with_top_and_skip(world, client):
    world.run("1+1")
    provider = DelegatedTokenProvider(client.session, world.settings.CONFIG)
    fabric_client = LivyClient(FabricLivyBackend(ENDPOINT, provider), timeout=5)
    sessions = fabric_client.list_sessions(offset=0, size=5)
    assert len(sessions) == 1
    url = [c.request.url for c in world.fabric.mock.calls if c.request.method == "GET" and "$top" in
           parse_qs(urlsplit(c.request.url).query)][-1]
    assert parse_qs(urlsplit(url).query) == {"$top": ["5"], "$skip": ["0"]}


# ------------------------------------------------------------------------------ tokens
def _expire_fabric_tokens(client):
    """Age every access token in the user's MSAL cache, as time passing would."""
    session = client.session
    cache = json.loads(session["token_cache"])
    for entry in cache.get("AccessToken", {}).values():
        entry["expires_on"] = str(int(time.time()) - 10)
        entry["extended_expires_on"] = str(int(time.time()) - 10)
    session["token_cache"] = json.dumps(cache)
    session.save()


def _token_calls(entra, grant):
    return [c for c in entra.mock.calls if c.request.url.endswith("/oauth2/v2.0/token")
            and f"grant_type={grant}" in (c.request.body or "")]


def test_fabric_token_comes_from_the_sign_in_cache_and_is_reused(world):
    world.run("1+1")
    world.until_idle()
    assert len(_token_calls(world.entra, "refresh_token")) == 1  # one silent exchange for the Fabric scope
    world.run("1+1")
    world.live()
    assert len(_token_calls(world.entra, "refresh_token")) == 1  # cached token reused
    scope = parse_qs(_token_calls(world.entra, "refresh_token")[0].request.body)["scope"][0]
    assert "https://api.fabric.microsoft.com/.default" in scope


def test_token_expiring_between_statements_is_refreshed_silently(world):
    world.run("1+1")
    world.until_idle()
    first_token = world.fabric.tokens_seen[-1]
    world.entra.revoked.add(first_token)  # Fabric would now refuse it
    _expire_fabric_tokens(world.client)
    response = world.run("1+1")
    assert response.status_code == 200 and "X-Livy-Redirect" not in response
    assert len(_token_calls(world.entra, "refresh_token")) == 2
    assert world.fabric.tokens_seen[-1] != first_token
    assert Statement.objects.filter(code="1+1").count() == 2


def test_failed_refresh_sends_the_user_to_sign_in_and_back_with_nothing_lost(world):
    world.run("1+1")
    world.until_idle()
    _expire_fabric_tokens(world.client)
    world.entra.refresh_error = "invalid_grant"
    response = world.run("df = spark.read.table('sales')")
    assert response.status_code == 204
    target = urlsplit(response["X-Livy-Redirect"])
    assert target.path == reverse("entra_login") and parse_qs(target.query) == {"next": ["/"]}
    # The statement is kept, queued, while the user signs in again.
    assert Statement.objects.get(code="df = spark.read.table('sales')").state == Statement.QUEUED
    # Plain navigation is redirected too.
    assert world.client.get(reverse("livy:notebook"))["Location"].startswith(reverse("entra_login"))

    world.entra.refresh_error = None
    back = entra_sign_in(world.client, world.entra, EntraUser(groups=[EDITORS_GID]), next_url="/")
    assert back.status_code == 302 and back["Location"] == "/"
    world.live()
    stmt = Statement.objects.get(code="df = spark.read.table('sales')")
    assert stmt.state in ("waiting", "running") and stmt.livy_id is not None


def test_the_apps_fragment_header_gets_the_sign_in_round_trip_back_to_the_page_it_came_from(world):
    """The page's script names itself with ``X-Livy-Fragment: 1`` (no htmx header): an expired
    sign-in met by a poll of a session page is a 204 the script follows, back to that page."""
    world.run("1+1")
    world.until_idle()
    session = SparkSession.objects.get(active=True)
    _expire_fabric_tokens(world.client)
    world.entra.refresh_error = "invalid_grant"
    page = reverse("livy:session_detail", args=[session.pk])
    response = world.client.get(reverse("livy:notebook"), HTTP_X_LIVY_FRAGMENT="1",
                                HTTP_REFERER=f"http://testserver{page}?x=1")
    assert response.status_code == 204
    target = urlsplit(response["X-Livy-Redirect"])
    assert target.path == reverse("entra_login") and parse_qs(target.query) == {"next": [page]}
    # Without either header the same request is a plain redirect.
    assert world.client.get(reverse("livy:notebook"))["Location"].startswith(reverse("entra_login"))


def test_revoked_token_is_replaced_silently_when_the_refresh_token_still_works(world):
    world.run("1+1")
    world.until_idle()
    world.entra.revoked.update(world.entra.issued_access_tokens)  # e.g. a claims challenge
    session = SparkSession.objects.get(active=True)
    response = world.client.get(reverse("livy:live", args=[session.pk]), **FRAGMENT)
    assert response.status_code == 200 and "X-Livy-Redirect" not in response
    assert world.fabric.exchanges[-1][2] != 401


def test_revoked_sign_in_sends_the_user_to_sign_in_once_not_in_a_loop(world):
    world.run("1+1")
    world.until_idle()
    world.entra.revoked.update(world.entra.issued_access_tokens)
    world.entra.refresh_error = "invalid_grant"  # the whole sign-in was revoked
    # The statement finished with its Run, so polls need no Livy call; opening the notebook
    # checks the session on Fabric, which needs a token.
    response = world.client.get(reverse("livy:notebook"), **FRAGMENT)
    assert response.status_code == 204 and response["X-Livy-Redirect"].startswith(reverse("entra_login"))
    # After the same user signs in again the page works: the dead token left in the cache
    # (not expired, so MSAL would hand it out again) is replaced.
    world.entra.refresh_error = None
    entra_sign_in(world.client, world.entra, world.user)
    response = world.client.get(reverse("livy:notebook"), **FRAGMENT)
    assert response.status_code == 200 and "X-Livy-Redirect" not in response


def test_guest_user_from_another_tenant_gets_a_fabric_token(settings, client):
    configure_entra(settings, LIVY_BACKEND="fabric", LIVY_BASE_ENDPOINT=ENDPOINT)
    call_command("setup_roles", verbosity=0)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        entra = FakeEntra(mock)
        fabric = FakeFabric(mock, {"1+1": ("available", ok_output("2"))},
                            token_ok=lambda t: entra.valid_for(t, FABRIC))
        guest = EntraUser(upn="gus_fabrikam.com#EXT#@contoso.com", groups=[EDITORS_GID],
                          home_oid="0f0f0f0f-1111-2222-3333-444444444444",
                          home_tenant="9188040d-6c67-4c5b-b112-36a304b66dad")
        entra_sign_in(client, entra, guest)
        response = client.post(reverse("livy:run"), {"code": "1+1"}, **FRAGMENT)
        assert response.status_code == 200 and "X-Livy-Redirect" not in response
        assert fabric.calls("LivyApiSession_AcquireSparkSessionAsync")


def test_entra_unreachable_for_a_token_is_a_message_not_a_500(world):
    world.run("1+1")
    world.until_idle()
    _expire_fabric_tokens(world.client)
    world.entra.mock.replace("POST", f"https://login.microsoftonline.com/{world.settings.CONFIG.TENANT_ID}/oauth2/v2.0/token",
                             body=requests.ConnectionError("login.microsoftonline.com unreachable"))
    response = world.run("1+1")
    assert response.status_code == 200
    assert "Microsoft Entra ID cannot be reached" in response.content.decode()


def test_keep_alive_failure_does_not_say_the_code_was_not_run(world):
    world.run("1+1")
    world.until_idle()
    SparkSession.objects.update(kept_alive_at=None)
    world.fabric.inject("LivyApiSession_ResetSparkSessionTimeoutAsync", 430,
                        error_body("TooManyRequestsForCapacity", "busy"), {"Retry-After": "60"})
    page = world.run("1+1").content.decode()
    assert "not run" not in page
    assert Statement.objects.filter(code="1+1").exclude(livy_id=None).count() == 2


def test_admin_looking_at_a_users_session_sends_nothing_for_them(world):
    world.run("1+1")
    world.until_idle()
    session = SparkSession.objects.get(active=True)
    Statement.objects.create(session=session, author=session.owner, code="queued_for_owner()")
    SparkSession.objects.filter(pk=session.pk).update(kept_alive_at=None)
    from django.test import Client

    from tests.support.fakes_entra import ADMINS_GID
    other = Client()
    entra_sign_in(other, world.entra, EntraUser(upn="ada@contoso.com", groups=[ADMINS_GID]))
    before = len(world.fabric.exchanges)
    other.get(reverse("livy:session_detail", args=[session.pk]))
    ops = {op for op, _, _ in world.fabric.exchanges[before:]}
    assert "LivyApiSession_GetSparkSessionAsync" in ops  # it did look
    assert "LivyApiSession_ExecuteSparkSessionStatementAsync" not in ops
    assert "LivyApiSession_ResetSparkSessionTimeoutAsync" not in ops
    assert Statement.objects.get(code="queued_for_owner()").state == Statement.QUEUED


def test_tokens_never_reach_pages(world):
    world.run("1+1")
    world.until_idle()
    page = world.client.get(reverse("livy:notebook")).content.decode()
    assert all(t not in page for t in world.entra.issued_access_tokens)


def test_service_principal_token(settings):
    from livy.remote.tokens import _service_principal_app

    _service_principal_app.cache_clear()  # its MSAL cache would carry a token from another test
    configure_entra(settings, LIVY_BACKEND="fabric", LIVY_BASE_ENDPOINT=ENDPOINT, FABRIC_AUTH="service_principal")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        entra = FakeEntra(mock)
        token = ServicePrincipalTokenProvider(settings.CONFIG).access_token()
        assert entra.valid_for(token, FABRIC)
        grant = _token_calls(entra, "client_credentials")
        assert len(grant) == 1


def test_no_microsoft_account_in_session_means_sign_in(settings, client, editor):
    configure_entra(settings, LIVY_BACKEND="fabric", LIVY_BASE_ENDPOINT=ENDPOINT)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        FakeEntra(mock)
        client.force_login(editor)  # a local account: no MSAL cache
        with pytest.raises(LivySignInRequired):
            DelegatedTokenProvider(client.session, settings.CONFIG).access_token()
        response = client.post(reverse("livy:run"), {"code": "1+1"}, **FRAGMENT)
        assert response["X-Livy-Redirect"].startswith(reverse("entra_login"))


# ------------------------------------------------------------------------------- logs
def test_the_fake_fails_a_log_request_fabric_does_not_have(world):
    apache_style = LivyClient(ApacheLivyBackend(ENDPOINT), timeout=5)
    with pytest.raises(AssertionError, match="not an operation of the Fabric Livy API"):
        apache_style.get_session_log("4c7ad0c5-0c0a-4b8e-9d1b-3f6b3f1c2a10")


def test_session_log_page_calls_nothing_fabric_lacks_and_says_where_the_log_is(world):
    world.run("1+1")
    world.until_idle()
    session = SparkSession.objects.get(active=True)
    before = len(world.fabric.exchanges)
    page = world.client.get(reverse("livy:session_log", args=[session.pk])).content.decode()
    assert world.fabric.exchanges[before:] == []
    assert "Fabric&#x27;s Livy API has no session log" in page and "Monitoring hub" in page
    assert f"Livy id {session.livy_id}" in page and "application_1732000000000_0001" in page


# ------------------------------------------------------------------ output that never comes
def test_available_without_output_and_without_completed_finishes_by_our_clock(world):
    """Fabric's StatementResponse has no ``completed``: a statement ``available`` without an
    output is read again for a while, then shown finished (empty), never running for good."""
    world.fabric.outputs["spark.sql('SET x=1')"] = ("available", None)
    world.run("1+1")
    world.until_idle()
    world.run("spark.sql('SET x=1')")
    stmt = Statement.objects.get(code="spark.sql('SET x=1')")
    for _ in range(5):
        world.live()
        stmt.refresh_from_db()
        if stmt.available_seen_at is not None:
            break
    assert stmt.state == "running" and stmt.available_seen_at is not None  # the output may still come
    # Our clock moves on past the bound (as 10 s of polls would): the next read finishes it.
    Statement.objects.filter(pk=stmt.pk).update(available_seen_at=timezone.now() - timedelta(seconds=11))
    SparkSession.objects.filter(active=True).update(refreshed_at=None)
    page = world.live()
    stmt.refresh_from_db()
    assert stmt.state == "available" and stmt.output is None and stmt.completed_at is not None
    assert f'id="statement-{stmt.pk}" data-state="available"' in page
