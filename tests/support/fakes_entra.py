"""HTTP-level fakes of Microsoft Entra ID (v2.0 endpoints) and Microsoft Graph for `responses`.

Payload shapes follow Microsoft's references: the OpenID Connect discovery document, the
token endpoint's auth code and refresh token answers (``client_info`` = base64url JSON with
``uid``/``utid``), v2.0 ID token claims (with the ``upn``, ``given_name``, ``family_name``
optional claims and ``roles``/``groups``, or the overage ``_claim_names``/``_claim_sources``),
Graph ``/me`` and ``/me/transitiveMemberOf`` pages with ``@odata.nextLink``.
MSAL does not verify ID token signatures (it got the token from the token endpoint over TLS),
so the fake's tokens carry a dummy signature.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import requests
import responses

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CLIENT_ID = "0b1e3f5c-7d2a-4c6e-9f80-1a2b3c4d5e6f"
LOGIN = "https://login.microsoftonline.com"
GRAPH = "https://graph.microsoft.com/v1.0"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims: dict) -> str:
    header = {"typ": "JWT", "alg": "RS256", "kid": "fake-key-1"}
    return ".".join([b64url(json.dumps(header).encode()), b64url(json.dumps(claims).encode()), b64url(b"sig")])


@dataclass
class EntraUser:
    """A directory user: profile, group object ids, app role ids."""

    upn: str = "erin@contoso.com"
    given_name: str = "Erin"
    family_name: str = "Editor"
    oid: str = field(default_factory=lambda: str(uuid.uuid4()))
    groups: list[str] = field(default_factory=list)
    roles: list[str] = field(default_factory=list)
    overage: bool = False  # the ID token says "too many groups: ask Graph"
    home_oid: str | None = None  # B2B guest: the object id and tenant of their home directory
    home_tenant: str | None = None


class _GraphUnauthorized(Exception):
    """The bearer token is not one the fake issued."""


class FakeEntra:
    """Entra ID's v2.0 endpoints for one tenant and app registration, plus Microsoft Graph."""

    def __init__(self, mock: responses.RequestsMock, tenant: str = TENANT, client_id: str = CLIENT_ID):
        self.mock = mock
        self.tenant = tenant
        self.client_id = client_id
        self.codes: dict[str, tuple[EntraUser, str]] = {}
        self.refresh_tokens: dict[str, EntraUser] = {}
        self.access_tokens: dict[str, EntraUser] = {}
        self.issued_access_tokens: list[str] = []
        self.token_scopes: dict[str, str] = {}  # access token -> scope it was issued for
        self.revoked: set[str] = set()  # access tokens the resource servers now refuse
        self.graph_down = False
        self.refresh_error: str | None = None  # e.g. "invalid_grant" to fail silent refreshes
        self.member_page_size = 2
        authority = f"{LOGIN}/{tenant}"
        mock.add(responses.GET, f"{authority}/v2.0/.well-known/openid-configuration", json=self.openid_configuration())
        mock.add_callback(responses.POST, f"{authority}/oauth2/v2.0/token", callback=self._token)
        mock.add(responses.GET, f"{LOGIN}/common/discovery/instance", json=self.instance_discovery())
        mock.add_callback(responses.GET, f"{GRAPH}/me", callback=self._me)
        mock.add_callback(responses.GET, f"{GRAPH}/me/transitiveMemberOf", callback=self._member_of)

    def openid_configuration(self) -> dict:
        base = f"{LOGIN}/{self.tenant}"
        return {
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "jwks_uri": f"{LOGIN}/{self.tenant}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{LOGIN}/{self.tenant}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{base}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "nonce",
                                 "preferred_username", "name", "tid", "ver", "at_hash", "c_hash", "email"],
            "kerberos_endpoint": f"{base}/kerberos",
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
            "rbac_url": "https://pas.windows.net",
        }

    def instance_discovery(self) -> dict:
        """``/common/discovery/instance`` (api-version 1.1): the public cloud's host aliases,
        which MSAL reads to find cached tokens across equivalent authorities."""
        return {
            "tenant_discovery_endpoint": f"{LOGIN}/{self.tenant}/v2.0/.well-known/openid-configuration",
            "api-version": "1.1",
            "metadata": [
                {"preferred_network": "login.microsoftonline.com", "preferred_cache": "login.windows.net",
                 "aliases": ["login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"]},
                {"preferred_network": "login.partner.microsoftonline.cn", "preferred_cache": "login.partner.microsoftonline.cn",
                 "aliases": ["login.partner.microsoftonline.cn", "login.chinacloudapi.cn"]},
                {"preferred_network": "login.microsoftonline.us", "preferred_cache": "login.microsoftonline.us",
                 "aliases": ["login.microsoftonline.us", "login.usgovcloudapi.net"]},
            ],
        }

    # ------------------------------------------------------------------ browser side
    def authorize(self, auth_uri: str, user: EntraUser) -> dict[str, str]:
        """What Entra redirects the browser back with after ``user`` signs in at ``auth_uri``."""
        query = {k: v[0] for k, v in parse_qs(urlsplit(auth_uri).query).items()}
        assert urlsplit(auth_uri).path == f"/{self.tenant}/oauth2/v2.0/authorize"
        assert query["client_id"] == self.client_id and query["response_type"] == "code"
        assert query["code_challenge_method"] == "S256" and query["code_challenge"]
        code = secrets.token_urlsafe(32)
        self.codes[code] = (user, query.get("nonce", ""))
        return {"code": code, "state": query["state"], "session_state": str(uuid.uuid4())}

    def authorize_error(self, auth_uri: str, error: str, description: str) -> dict[str, str]:
        query = {k: v[0] for k, v in parse_qs(urlsplit(auth_uri).query).items()}
        return {"error": error, "error_description": description, "state": query["state"]}

    # ------------------------------------------------------------------ token endpoint
    def id_token_claims(self, user: EntraUser, nonce: str = "") -> dict:
        now = int(time.time())
        claims = {
            "aud": self.client_id,
            "iss": f"{LOGIN}/{self.tenant}/v2.0",
            "iat": now, "nbf": now, "exp": now + 3600,
            "name": f"{user.given_name} {user.family_name}",
            "oid": user.oid,
            "preferred_username": user.upn,
            "rh": "0.AXoA-fake.",
            "sub": b64url(user.oid.encode())[:43],
            "tid": self.tenant,
            "uti": secrets.token_urlsafe(16),
            "ver": "2.0",
            "upn": user.upn,
            "given_name": user.given_name,
            "family_name": user.family_name,
            "email": user.upn,
        }
        if nonce:
            claims["nonce"] = nonce
        if user.roles:
            claims["roles"] = list(user.roles)
        if user.overage:
            claims["_claim_names"] = {"groups": "src1"}
            claims["_claim_sources"] = {"src1": {"endpoint": f"https://graph.windows.net/{self.tenant}/users/{user.oid}/getMemberObjects"}}
        elif user.groups:
            claims["groups"] = list(user.groups)
        return claims

    def _token_response(self, user: EntraUser, scope: str, nonce: str = "", id_token: bool = True) -> dict:
        access = "eyJ0eXAiOiJKV1QiLCJub25jZSI6ImZha2UifQ." + secrets.token_urlsafe(48)
        refresh = "0.AXoA" + secrets.token_urlsafe(64)
        self.access_tokens[access] = user
        self.token_scopes[access] = scope
        self.issued_access_tokens.append(access)
        self.refresh_tokens[refresh] = user
        body = {
            "token_type": "Bearer",
            "scope": scope,
            "expires_in": 3599,
            "ext_expires_in": 3599,
            "access_token": access,
            "refresh_token": refresh,
            "client_info": b64url(json.dumps({"uid": user.home_oid or user.oid,
                                              "utid": user.home_tenant or self.tenant}).encode()),
        }
        if id_token:
            body["id_token"] = make_jwt(self.id_token_claims(user, nonce))
        return body

    def _token(self, request):
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        assert form.get("client_id") == self.client_id
        if form["grant_type"] == "authorization_code":
            entry = self.codes.pop(form["code"], None)
            if entry is None:
                return 400, {}, json.dumps({
                    "error": "invalid_grant",
                    "error_description": "AADSTS54005: OAuth2 Authorization code was already redeemed.",
                    "error_codes": [54005], "timestamp": "2026-11-22 04:00:00Z",
                    "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4())})
            assert form.get("code_verifier"), "PKCE code_verifier missing"
            user, nonce = entry
            scope = "openid profile email offline_access User.Read"
            return 200, {}, json.dumps(self._token_response(user, scope, nonce))
        if form["grant_type"] == "refresh_token":
            user = self.refresh_tokens.get(form["refresh_token"])
            if user is None or self.refresh_error:
                error = self.refresh_error or "invalid_grant"
                return 400, {}, json.dumps({
                    "error": error,
                    "error_description": "AADSTS700082: The refresh token has expired due to inactivity.",
                    "error_codes": [700082], "suberror": "bad_token",
                    "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4())})
            return 200, {}, json.dumps(self._token_response(user, form.get("scope", ""), id_token=False))
        if form["grant_type"] == "client_credentials":
            access = "eyJ0eXAiOiJKV1QiLCJhcHAiOnRydWV9." + secrets.token_urlsafe(48)
            self.issued_access_tokens.append(access)
            self.token_scopes[access] = form.get("scope", "")
            return 200, {}, json.dumps({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                                        "access_token": access})
        return 400, {}, json.dumps({"error": "unsupported_grant_type"})

    # ------------------------------------------------------------------ Graph
    def _user_for(self, request) -> EntraUser | None:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        return self.access_tokens.get(token)

    def _graph_unauthorized(self):
        return 401, {}, json.dumps({"error": {"code": "InvalidAuthenticationToken",
                                              "message": "Access token is empty.",
                                              "innerError": {"request-id": str(uuid.uuid4())}}})

    def _graph_caller(self, request) -> EntraUser:
        """The user a Graph request's token belongs to; raises like Graph would fail."""
        if self.graph_down:
            raise requests.ConnectionError("graph.microsoft.com unreachable")
        user = self._user_for(request)
        if user is None:
            raise _GraphUnauthorized()
        return user

    def _me(self, request):
        try:
            user = self._graph_caller(request)
        except _GraphUnauthorized:
            return self._graph_unauthorized()
        return 200, {}, json.dumps({
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
            "businessPhones": [], "displayName": f"{user.given_name} {user.family_name}",
            "givenName": user.given_name, "jobTitle": None, "mail": user.upn, "mobilePhone": None,
            "officeLocation": None, "preferredLanguage": "en-US", "surname": user.family_name,
            "userPrincipalName": user.upn, "id": user.oid,
        })

    def _member_of(self, request):
        try:
            user = self._graph_caller(request)
        except _GraphUnauthorized:
            return self._graph_unauthorized()
        query = parse_qs(urlsplit(request.url).query)
        start = int(query.get("$skiptoken", ["0"])[0])
        page = user.groups[start:start + self.member_page_size]
        body = {
            "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#directoryObjects(id)",
            "value": [{"@odata.type": "#microsoft.graph.group", "id": gid} for gid in page],
        }
        if start + self.member_page_size < len(user.groups):
            body["@odata.nextLink"] = f"{GRAPH}/me/transitiveMemberOf?$select=id&$skiptoken={start + self.member_page_size}"
        return 200, {}, json.dumps(body)


    def valid_for(self, token: str, resource: str) -> bool:
        """True if ``token`` was issued here for a scope of ``resource`` and not revoked."""
        return resource in self.token_scopes.get(token, "") and token not in self.revoked


ADMINS_GID = "5a0f4b6e-0001-4000-8000-000000000001"
EDITORS_GID = "5a0f4b6e-0002-4000-8000-000000000002"
VIEWERS_GID = "5a0f4b6e-0003-4000-8000-000000000003"
ROLES = {ADMINS_GID: ["Administrators", "Editors"], EDITORS_GID: "Editors", VIEWERS_GID: "Viewers"}


def configure_entra(settings, **overrides) -> None:
    """Point the app at the fake tenant (pytest-django ``settings`` fixture)."""
    from myapp.config import azure_auth_settings

    values = {"TENANT_ID": TENANT, "CLIENT_ID": CLIENT_ID, "CLIENT_SECRET": "s3cr3t~value", "ROLES": ROLES,
              "ENTRA_GROUP_ATTRIBUTE": "groups"}
    values.update(overrides)
    settings.CONFIG = settings.CONFIG.model_copy(update=values)
    settings.AZURE_AUTH = azure_auth_settings(settings.CONFIG)


def entra_sign_in(client, entra: FakeEntra, user: EntraUser, next_url: str = "/"):
    """The whole browser round trip through the app's Entra endpoints, with Django's test client."""
    from django.urls import reverse

    start = client.get(reverse("entra_login"), {"next": next_url})
    assert start.status_code == 302, start
    return client.get(reverse("entra_callback"), entra.authorize(start["Location"], user))
