"""Entra ID access tokens on the API: each validation rule has a test that fails when the rule
is removed; service principals and delegated users map to Django users and groups."""

from __future__ import annotations

import time

import jwt
import pytest
import responses
from django.contrib.auth import get_user_model

from api import entra
from tests.support.entra_jwt import DISCOVERY, JWKS_URI, FakeTenant, SigningKey
from tests.support.fakes_entra import CLIENT_ID, TENANT, configure_entra

pytestmark = pytest.mark.django_db

ROLES = {"Livy.Admin": ["Administrators", "Editors"], "Livy.Editor": "Editors", "Livy.Viewer": "Viewers"}


@pytest.fixture
def tenant(settings, roles):
    configure_entra(settings, ROLES=ROLES, ENTRA_GROUP_ATTRIBUTE="roles")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeTenant(mock)


def call(client, token):
    return client.get("/api/v1/sessions", headers={"Authorization": f"Bearer {token}"})


def refused(response, reason):
    assert response.status_code == 401, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
    assert reason in response.json()["detail"], response.json()
    return response


def test_a_service_principal_gets_its_groups_from_app_roles(client, tenant):
    claims = tenant.claims(app=True, roles=["Livy.Editor"])
    assert call(client, tenant.token(claims)).status_code == 200
    sp = get_user_model().objects.get(username=f"sp-{claims['oid']}")
    assert set(sp.groups.values_list("name", flat=True)) == {"Editors"} and not sp.has_usable_password()
    # It may run code (Editors) ...
    assert client.post("/api/v1/statements", {"code": ""}, content_type="application/json",
                       headers={"Authorization": f"Bearer {tenant.token(claims)}"}).status_code == 422
    # ... and loses the group when the role is taken away (a new token with another role).
    demoted = tenant.claims(app=True, roles=["Livy.Viewer"], oid=claims["oid"], sub=claims["oid"])
    call(client, tenant.token(demoted))
    assert set(sp.groups.values_list("name", flat=True)) == {"Viewers"}


def test_a_service_principal_with_only_an_unmapped_role_may_not_run_code(client, tenant):
    token = tenant.token(tenant.claims(app=True, roles=["Some.Other.Role"]))
    response = client.post("/api/v1/statements", {"code": "1"}, content_type="application/json",
                           headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 403 and response["Content-Type"] == "application/problem+json"


def test_an_app_token_without_any_app_role_is_refused(client, tenant):
    # Entra leaves "roles" out when no app role is granted to the service principal.
    refused(call(client, tenant.token(tenant.claims(app=True, roles=[]))), "app role")


# ------------------------------------------------- access tokens only (not the app's ID token)
def test_the_apps_own_id_token_is_refused(client, tenant, django_user_model):
    """Same aud and iss as an access token, and app roles: without the scp/idtyp rules it would
    sign in as erin with the Administrators role."""
    refused(call(client, tenant.token(tenant.id_token_claims())), "an ID token is not accepted")
    assert not django_user_model.objects.filter(username="erin@contoso.com").exists()


def test_an_id_token_without_roles_is_refused(client, tenant):
    refused(call(client, tenant.token(tenant.id_token_claims(roles=None))), "not an access token")


def test_a_delegated_token_needs_this_apis_scope(client, tenant):
    refused(call(client, tenant.token(tenant.claims(scp="User.Read openid"))), "scope 'access_as_user'")


def test_the_scope_is_configurable_and_one_of_several(client, tenant, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"API_ENTRA_SCOPE": "Livy.Run"})
    refused(call(client, tenant.token(tenant.claims())), "scope 'Livy.Run'")
    assert call(client, tenant.token(tenant.claims(scp="User.Read Livy.Run"))).status_code == 200


def test_a_v2_app_token_needs_idtyp_app(client, tenant):
    refused(call(client, tenant.token(tenant.claims(app=True, idtyp=None))), "idtyp")


def test_an_app_token_cannot_carry_scopes(client, tenant):
    refused(call(client, tenant.token(tenant.claims(app=True, scp="access_as_user"))), "cannot carry")


def test_a_v1_app_token_without_idtyp_is_told_apart_by_oid_and_sub(client, tenant):
    v1 = tenant.claims(app=True, version="1.0", idtyp=None)
    assert call(client, tenant.token(v1)).status_code == 200
    refused(call(client, tenant.token({**v1, "sub": "someone-else"})), "oid must equal sub")


# ----------------------------------------------------------- delegated tokens and groups
def test_a_delegated_token_without_roles_takes_away_stale_groups(client, tenant, django_user_model):
    from django.contrib.auth.models import Group

    erin = django_user_model.objects.create_user("erin@contoso.com", is_staff=True)
    erin.groups.add(Group.objects.get(name="Administrators"))  # from an earlier sign-in
    assert call(client, tenant.token(tenant.claims())).status_code == 200  # no roles claim: no app role now
    erin.refresh_from_db()
    assert not erin.groups.exists() and not erin.is_staff
    # So a role removed in Entra is removed here, not kept from the last browser sign-in.
    response = client.post("/api/v1/sessions", headers={"Authorization": f"Bearer {tenant.token(tenant.claims())}"})
    assert response.status_code == 403


def test_a_delegated_token_with_group_overage_is_refused(client, tenant, settings):
    configure_entra(settings, ROLES={"9f1c0000-0000-0000-0000-000000000001": "Editors"},
                    ENTRA_GROUP_ATTRIBUTE="groups")
    claims = tenant.claims(_claim_names={"groups": "src1"}, _claim_sources={"src1": {"endpoint": "https://graph"}})
    refused(call(client, tenant.token(claims)), "group overage")


def test_a_delegated_token_is_the_browser_user(client, tenant, django_user_model):
    erin = django_user_model.objects.create_user("erin@contoso.com")  # signed in with the browser before
    claims = tenant.claims(roles=["Livy.Viewer"])
    assert call(client, tenant.token(claims)).status_code == 200
    assert set(erin.groups.values_list("name", flat=True)) == {"Viewers"}
    assert django_user_model.objects.filter(username__startswith="sp-").count() == 0


def test_a_v1_token_is_accepted(client, tenant):
    assert call(client, tenant.token(tenant.claims(app=True, roles=["Livy.Viewer"], version="1.0"))).status_code == 200


def test_expired_token_is_refused(client, tenant):
    now = int(time.time())
    refused(call(client, tenant.token(tenant.claims(app=True, iat=now - 7200, nbf=now - 7200, exp=now - 3600))),
            "expired")


def test_expiry_has_a_small_leeway(client, tenant):
    now = int(time.time())
    assert call(client, tenant.token(tenant.claims(app=True, exp=now - 10))).status_code == 200


def test_token_not_valid_yet_is_refused(client, tenant):
    now = int(time.time())
    refused(call(client, tenant.token(tenant.claims(app=True, nbf=now + 3600))), "not valid yet")


def test_wrong_audience_is_refused(client, tenant):
    refused(call(client, tenant.token(tenant.claims(app=True, aud="https://graph.microsoft.com"))), "aud")


def test_configured_audience_replaces_the_defaults(client, tenant, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"API_ENTRA_AUDIENCES": ["api://livy-web"]})
    refused(call(client, tenant.token(tenant.claims(app=True, aud=CLIENT_ID))), "aud")
    assert call(client, tenant.token(tenant.claims(app=True, aud="api://livy-web"))).status_code == 200


def test_wrong_issuer_is_refused(client, tenant):
    other = "https://login.microsoftonline.com/00000000-0000-0000-0000-000000000bad/v2.0"
    refused(call(client, tenant.token(tenant.claims(app=True, iss=other))), "iss")


def test_missing_expiry_is_refused(client, tenant):
    refused(call(client, tenant.token(tenant.claims(app=True, exp=None))), "exp")


def test_unknown_kid_reads_the_keys_again(client, tenant, monkeypatch):
    monkeypatch.setattr(entra, "JWKS_REFRESH_COOLDOWN", 0.0)
    assert call(client, tenant.token(tenant.claims(app=True))).status_code == 200
    assert tenant.jwks_reads == 1
    rotated = SigningKey("key-2")
    tenant.keys.append(rotated)  # Entra rotated its keys since they were cached
    assert call(client, tenant.token(tenant.claims(app=True), key=rotated)).status_code == 200
    assert tenant.jwks_reads == 2
    assert call(client, tenant.token(tenant.claims(app=True), key=rotated)).status_code == 200
    assert tenant.jwks_reads == 2  # cached again


def test_made_up_kids_do_not_make_the_server_read_the_keys_each_time(client, tenant):
    assert call(client, tenant.token(tenant.claims(app=True))).status_code == 200
    stranger = SigningKey("key-evil")
    for _ in range(3):
        refused(call(client, tenant.token(tenant.claims(app=True), key=stranger)), "does not publish")
    assert tenant.jwks_reads == 1  # within the cooldown


def test_a_key_the_tenant_does_not_publish_is_refused(client, tenant):
    stranger = SigningKey("key-1")  # same kid, another private key: the signature does not verify
    refused(call(client, tenant.token(tenant.claims(app=True), key=stranger)), "signature")


def test_alg_none_is_refused(client, tenant):
    token = jwt.encode(tenant.claims(app=True), None, algorithm="none", headers={"kid": "key-1"})
    refused(call(client, token), "RS256")


def test_hs256_with_the_public_key_as_secret_is_refused(client, tenant):
    from cryptography.hazmat.primitives import serialization

    public_pem = tenant.keys[0].private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    header = {"alg": "HS256", "kid": "key-1", "typ": "JWT"}
    # PyJWT refuses to sign with a PEM key as HMAC secret: build the token by hand.
    import base64
    import hashlib
    import hmac
    import json

    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(tenant.claims(app=True)).encode())}"
    signature = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    refused(call(client, f"{signing_input}.{b64(signature)}"), "RS256")


def test_delegated_token_without_the_user_name_claim_is_refused(client, tenant):
    refused(call(client, tenant.token(tenant.claims(upn=None))), "'upn' claim")


def test_entra_unreachable_is_503_and_not_asked_again_at_once(client, settings, roles, monkeypatch):
    import requests

    configure_entra(settings, ROLES=ROLES, ENTRA_GROUP_ATTRIBUTE="roles")
    settings.CONFIG = settings.CONFIG.model_copy(update={"API_ENTRA_FAILURE_CACHE_SECONDS": 5.0})
    now = [1000.0]
    monkeypatch.setattr(entra, "_clock", lambda: now[0])
    key = SigningKey("key-1")
    token = jwt.encode({"sub": "x"}, key.private, algorithm="RS256", headers={"kid": "key-1"})
    with responses.RequestsMock() as mock:
        down = mock.add(responses.GET, DISCOVERY, body=requests.ConnectionError("down"))
        answers = [call(client, token) for _ in range(3)]
        assert down.call_count == 1  # the failure is remembered: no call per request
        for response in answers:
            assert response.status_code == 503 and response["Content-Type"] == "application/problem+json"
            assert "Entra ID cannot be reached" in response.json()["detail"]
            assert response.json()["type"].endswith("/auth-unavailable")
        assert answers[0]["Retry-After"] == "5"
        now[0] += 5.5  # the pause is over: Entra is asked again
        call(client, token)
        assert down.call_count == 2


def test_unreadable_keys_are_remembered_too_and_cached_keys_keep_working(client, tenant, monkeypatch):
    import requests

    now = [1000.0]
    monkeypatch.setattr(entra, "_clock", lambda: now[0])
    monkeypatch.setattr(entra, "JWKS_REFRESH_COOLDOWN", 0.0)
    good = tenant.token(tenant.claims(app=True))
    assert call(client, good).status_code == 200 and tenant.jwks_reads == 1
    tenant_mock = tenant.mock
    tenant_mock.replace(responses.GET, JWKS_URI, body=requests.ConnectionError("down"))  # Entra goes down
    rotated = SigningKey("key-2")
    for _ in range(3):  # unknown kid: a refresh is needed, and fails
        response = call(client, tenant.token(tenant.claims(app=True), key=rotated))
        assert response.status_code == 503
    assert len([c for c in tenant_mock.calls if c.request.url == JWKS_URI]) == 2  # 1 good + 1 failed
    assert call(client, good).status_code == 200  # the cached key still checks known tokens


def test_entra_unreachable_is_503(client, settings, roles):
    import requests

    configure_entra(settings, ROLES=ROLES, ENTRA_GROUP_ATTRIBUTE="roles")
    with responses.RequestsMock() as mock:
        mock.add(responses.GET, f"https://login.microsoftonline.com/{TENANT}/v2.0/.well-known/openid-configuration",
                 body=requests.ConnectionError("down"))
        tenant_key = SigningKey("key-1")
        token = jwt.encode({"sub": "x"}, tenant_key.private, algorithm="RS256", headers={"kid": "key-1"})
        response = call(client, token)
    assert response.status_code == 503 and response["Content-Type"] == "application/problem+json"


def test_jwts_are_refused_when_entra_is_not_configured(client, db):
    key = SigningKey("key-1")
    token = jwt.encode({"sub": "x"}, key.private, algorithm="RS256", headers={"kid": "key-1"})
    refused(call(client, token), "not configured")


def test_without_a_roles_mapping_a_delegated_token_leaves_groups_alone(client, tenant, settings, django_user_model):
    from django.contrib.auth.models import Group

    configure_entra(settings, ROLES={}, ENTRA_GROUP_ATTRIBUTE="groups")
    erin = django_user_model.objects.create_user("erin@contoso.com")
    erin.groups.add(Group.objects.get(name="Editors"))  # given by an administrator
    claims = tenant.claims(_claim_names={"groups": "src1"})  # overage does not matter without a mapping
    assert call(client, tenant.token(claims)).status_code == 200
    assert set(erin.groups.values_list("name", flat=True)) == {"Editors"}
