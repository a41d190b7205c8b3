"""The Entra ID sign-in flow through Django's test client, Entra and Graph faked at the HTTP
level: login redirect, callback, user created, groups synced (claims, overage via Graph),
failures as pages, sign-out, and tokens kept server-side."""

from __future__ import annotations

import logging
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.urls import reverse

from tests.support.fakes_entra import ADMINS_GID, CLIENT_ID, EDITORS_GID, TENANT, VIEWERS_GID, EntraUser, FakeEntra
from tests.support.fakes_entra import configure_entra as configure
from tests.support.fakes_entra import entra_sign_in as sign_in

pytestmark = pytest.mark.django_db

@pytest.fixture
def entra(settings):
    configure(settings)
    call_command("setup_roles", verbosity=0)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeEntra(mock)


def groups_of(username):
    return set(get_user_model().objects.get(username=username).groups.values_list("name", flat=True))


def test_login_page_offers_microsoft_first_when_configured(client, entra):
    body = client.get(reverse("login")).content.decode()
    assert body.index("Sign in with Microsoft") < body.index('name="password"')


def test_login_page_says_local_only_without_entra(client):
    body = client.get(reverse("login")).content.decode()
    assert "Sign in with Microsoft" not in body and "local accounts only" not in body
    assert "TENANT_ID and CLIENT_ID are unset" in body


def test_entra_urls_are_404_when_not_configured(client):
    assert client.get(reverse("entra_login")).status_code == 404
    assert client.get(reverse("entra_callback")).status_code == 404


def test_login_redirects_to_the_tenant_authority_with_pkce(client, entra):
    response = client.get(reverse("entra_login"))
    url = urlsplit(response["Location"])
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize"
    assert query["client_id"] == [CLIENT_ID] and query["code_challenge_method"] == ["S256"]
    assert query["redirect_uri"] == ["http://localhost:5000/azure_auth/callback"]
    assert "User.Read" in query["scope"][0] and "offline_access" in query["scope"][0]
    assert len(query["state"][0]) >= 24 and "next" not in query["state"][0]


def test_full_sign_in_creates_user_with_groups_and_returns_to_next(client, entra):
    user = EntraUser(groups=[EDITORS_GID, "unmapped-group"])
    response = sign_in(client, entra, user, next_url="/sessions/")
    assert response.status_code == 302 and response["Location"] == "/sessions/"
    django_user = get_user_model().objects.get(username="erin@contoso.com")
    assert (django_user.first_name, django_user.last_name, django_user.email) == ("Erin", "Editor", "erin@contoso.com")
    assert groups_of("erin@contoso.com") == {"Editors"}
    assert not django_user.is_staff
    assert client.get(reverse("livy:notebook")).status_code == 200
    assert django_user.has_perm("livy.run_code")


def test_only_administrators_get_staff(client, entra):
    sign_in(client, entra, EntraUser(upn="ada@contoso.com", groups=[ADMINS_GID]))
    ada = get_user_model().objects.get(username="ada@contoso.com")
    assert ada.is_staff and groups_of("ada@contoso.com") == {"Administrators", "Editors"}
    assert client.get("/admin/").status_code == 200


def test_unsafe_next_is_ignored(client, entra):
    response = sign_in(client, entra, EntraUser(groups=[EDITORS_GID]), next_url="https://evil.example/")
    assert response["Location"] == reverse("livy:notebook")


def test_group_removed_in_entra_is_removed_on_next_sign_in(client, entra):
    user = EntraUser(upn="ada@contoso.com", groups=[ADMINS_GID, VIEWERS_GID])
    sign_in(client, entra, user)
    assert groups_of("ada@contoso.com") == {"Administrators", "Editors", "Viewers"}
    client.logout()
    user.groups = [VIEWERS_GID]
    sign_in(client, entra, user)
    ada = get_user_model().objects.get(username="ada@contoso.com")
    assert groups_of("ada@contoso.com") == {"Viewers"} and not ada.is_staff


def test_groups_not_in_roles_are_left_alone(client, entra):
    sign_in(client, entra, EntraUser(groups=[EDITORS_GID]))
    extra = Group.objects.create(name="Data stewards")
    get_user_model().objects.get(username="erin@contoso.com").groups.add(extra)
    client.logout()
    sign_in(client, entra, EntraUser(groups=[VIEWERS_GID]))
    assert groups_of("erin@contoso.com") == {"Viewers", "Data stewards"}


def test_group_overage_reads_memberships_from_graph_across_pages(client, entra):
    user = EntraUser(groups=["g-1", "g-2", "g-3", EDITORS_GID, "g-5"], overage=True)
    sign_in(client, entra, user)
    assert groups_of("erin@contoso.com") == {"Editors"}
    member_calls = [c for c in entra.mock.calls if "/me/transitiveMemberOf" in c.request.url]
    assert len(member_calls) == 3  # 5 groups, 2 a page


def test_missing_roles_claim_keeps_groups(client, settings, entra):
    configure(settings, ENTRA_GROUP_ATTRIBUTE="roles",
              ROLES={"Spark.Editor": "Editors", "Spark.Admin": "Administrators"})
    user = EntraUser(roles=["Spark.Editor"])
    sign_in(client, entra, user)
    assert groups_of("erin@contoso.com") == {"Editors"}
    client.logout()
    user.roles = []  # the token carries no roles claim at all
    sign_in(client, entra, user)
    assert groups_of("erin@contoso.com") == {"Editors"}


def test_app_roles_map_to_groups(client, settings, entra):
    configure(settings, ENTRA_GROUP_ATTRIBUTE="roles", ROLES={"Spark.Admin": ["Administrators", "Editors"]})
    sign_in(client, entra, EntraUser(roles=["Spark.Admin"]))
    assert groups_of("erin@contoso.com") == {"Administrators", "Editors"}


# -------------------------------------------------------------------- failures are pages
def test_error_returned_by_entra_is_a_page(client, entra):
    start = client.get(reverse("entra_login"))
    params = entra.authorize_error(start["Location"], "consent_required",
                                   "AADSTS65001: The user or administrator has not consented to use the application.")
    response = client.get(reverse("entra_callback"), params)
    body = response.content.decode()
    assert response.status_code == 400
    assert "AADSTS65001" in body and "Sign in again" in body


def test_callback_without_pending_flow_is_a_page(client, entra):
    response = client.get(reverse("entra_callback"), {"code": "abc", "state": "xyz"})
    assert response.status_code == 400
    assert "expired" in response.content.decode() and "Sign in again" in response.content.decode()


def test_replayed_callback_is_a_page(client, entra):
    start = client.get(reverse("entra_login"))
    params = entra.authorize(start["Location"], EntraUser(groups=[EDITORS_GID]))
    assert client.get(reverse("entra_callback"), params).status_code == 302
    replay = client.get(reverse("entra_callback"), params)
    assert replay.status_code == 400 and "Sign in again" in replay.content.decode()


def test_state_mismatch_is_a_page(client, entra):
    start = client.get(reverse("entra_login"))
    params = entra.authorize(start["Location"], EntraUser())
    params["state"] = "forged-state"
    response = client.get(reverse("entra_callback"), params)
    assert response.status_code == 400 and "does not match" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_graph_unreachable_is_a_page(client, entra):
    entra.graph_down = True
    response = sign_in(client, entra, EntraUser(groups=[EDITORS_GID]))
    assert response.status_code == 502
    assert "Microsoft Graph cannot be reached" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_overage_with_graph_unreachable_is_a_page_not_a_stripped_user(client, entra):
    user = EntraUser(groups=[EDITORS_GID])
    sign_in(client, entra, user)
    client.logout()
    user.overage = True
    entra.graph_down = True
    assert sign_in(client, entra, user).status_code == 502
    assert groups_of("erin@contoso.com") == {"Editors"}


def test_missing_username_claim_is_a_page(client, settings, entra):
    configure(settings, ENTRA_USERNAME_ATTRIBUTE="employeeId")
    response = sign_in(client, entra, EntraUser())
    assert response.status_code == 400 and "employeeId" in response.content.decode()


def test_disabled_account_is_a_page(client, entra):
    sign_in(client, entra, EntraUser(groups=[EDITORS_GID]))
    client.logout()
    get_user_model().objects.filter(username="erin@contoso.com").update(is_active=False)
    response = sign_in(client, entra, EntraUser(groups=[EDITORS_GID]))
    assert response.status_code == 403 and "disabled" in response.content.decode()


# ---------------------------------------------------------------------- sign-out, tokens
def test_sign_out_ends_django_and_entra_sessions(client, entra):
    sign_in(client, entra, EntraUser(groups=[EDITORS_GID]))
    response = client.post(reverse("logout"))
    location = urlsplit(response["Location"])
    assert f"{location.netloc}{location.path}" == f"login.microsoftonline.com/{TENANT}/oauth2/v2.0/logout"
    assert parse_qs(location.query)["post_logout_redirect_uri"] == ["http://localhost:5000/accounts/signed-out/"]
    assert client.get(reverse("livy:notebook")).status_code == 302
    assert client.get(reverse("signed_out")).status_code == 200  # LOGOUT_URI is public


def test_local_sign_out_goes_to_signed_out_page(client, editor):
    client.force_login(editor)
    assert client.post(reverse("logout"))["Location"] == reverse("signed_out")


def test_tokens_stay_server_side_and_out_of_pages_and_logs(client, entra, caplog):
    caplog.set_level(logging.DEBUG)
    response = sign_in(client, entra, EntraUser(groups=[EDITORS_GID]))
    tokens = entra.issued_access_tokens
    assert tokens
    # The browser holds only the session id and CSRF cookies.
    assert set(response.cookies) <= {"sessionid", "csrftoken"}
    for morsel in client.cookies.values():
        assert all(t not in morsel.value for t in tokens)
    # The MSAL cache is in the database-backed session.
    stored = Session.objects.get(session_key=client.session.session_key).get_decoded()
    assert tokens[-1] in stored["token_cache"]
    for url in ["/", "/sessions/", "/admin/"]:
        body = client.get(url).content.decode()
        assert all(t not in body for t in tokens)
    assert all(t not in caplog.text for t in tokens)
    assert all(t[:40] not in caplog.text for t in tokens)


def test_superuser_signs_in_to_admin_with_password_while_entra_is_configured(client, entra, django_user_model):
    django_user_model.objects.create_superuser("root", "root@localhost", "a-long-local-password")
    response = client.post("/admin/login/?next=/admin/", {"username": "root", "password": "a-long-local-password"})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_second_sign_in_saves_its_new_tokens(client, entra):
    """django-azure-auth re-read the session's cache on each access and dropped new tokens."""
    sign_in(client, entra, EntraUser(groups=[EDITORS_GID]))
    first = client.session["token_cache"]
    sign_in(client, entra, EntraUser(groups=[EDITORS_GID]))
    second = client.session["token_cache"]
    assert second != first and entra.issued_access_tokens[-1] in second
