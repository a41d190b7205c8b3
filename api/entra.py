"""Entra ID access tokens for the API: validation and the Django user a token stands for.

Validation (:func:`validate`) uses PyJWT: the signature with the tenant's published keys
(JWKS; the ``jwks_uri`` of the tenant's OpenID configuration, ``<ENTRA_AUTHORITY_HOST>/
<TENANT_ID>/v2.0/.well-known/openid-configuration``), RS256 only, ``iss`` one of the tenant's
v1 (``https://sts.windows.net/<tenant>/``) or v2 (``<ENTRA_AUTHORITY_HOST>/<tenant>/v2.0``)
issuers, ``aud`` one of ``API_ENTRA_AUDIENCES`` (default ``api://<CLIENT_ID>`` and
``<CLIENT_ID>``: v1 tokens carry the first, v2 tokens the second), ``exp`` and ``nbf`` with
``API_JWT_LEEWAY`` seconds of skew. Rules from Microsoft's "Access tokens in the Microsoft
identity platform" (validating tokens) and its "Access token claims reference".

Only **access tokens** are accepted, not the app's own ID tokens (which carry the same ``aud``
and ``iss``): a delegated token must carry ``scp`` with ``API_ENTRA_SCOPE`` (the scope exposed
under *Expose an API*), an app-only token carries no ``scp`` but ``roles`` (app roles) and
``idtyp=app`` (v2; the optional claim ``idtyp`` must be added to access tokens), or, for a v1
token without ``idtyp``, ``oid`` equal to ``sub`` and an ``appid`` (Microsoft's rule for telling
app-only tokens apart). An ID token has no ``scp`` and no ``idtyp=app``, so it is refused.

The keys are kept ``API_JWKS_CACHE_SECONDS`` and read again at once for a key id they do not
hold (Entra rotates its keys), at most once per :data:`JWKS_REFRESH_COOLDOWN` seconds, so
tokens with made-up key ids cannot make the server hammer Entra. A failed read of the
discovery document or of the keys is remembered ``API_ENTRA_FAILURE_CACHE_SECONDS`` (a few
seconds): meanwhile requests that need a read fail at once (503) instead of each calling Entra
again, so an Entra outage does not multiply outbound calls; keys already read keep working.
Keys are public data: the per-process caches (:data:`_JWKS_CLIENTS`, :data:`_FAILURES`) hold no
user's token.

Identity (:func:`user_for`): an app-only token (a service principal) is the Django user
``sp-<oid>``, whose groups are its ``roles`` claim (app roles) through ``ROLES``, as for people;
a delegated token is the same Django user as the browser sign-in (the
``ENTRA_USERNAME_ATTRIBUTE`` claim, ``upn`` by default), its mapped groups made to match the
``ENTRA_GROUP_ATTRIBUTE`` claim with :func:`accounts.entra.apply_role_mapping`, as at sign-in.
An access token of this API lists every app role (or group, when the registration emits the
``groups`` claim) the user holds, so a token without the claim means none: the mapped groups
are taken away, never kept from an earlier sign-in. A token signalling group overage
(``_claim_names``) is refused: its groups cannot be known without Microsoft Graph.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from typing import Any

import jwt
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from jwt import PyJWKClient
from jwt.exceptions import PyJWKClientConnectionError, PyJWKClientError

from accounts.entra import apply_role_mapping, has_group_overage, map_user_attributes
from myapp.config import AppConfig

log = logging.getLogger(__name__)

#: Seconds to wait for Entra's discovery document or keys.
HTTP_TIMEOUT = 10
#: Least seconds between two reads of the keys forced by unknown key ids.
JWKS_REFRESH_COOLDOWN = 30.0
#: The only signature algorithm Entra uses for access tokens.
ALGORITHMS = ["RS256"]
#: v1 issuer host per authority host (v1 tokens are issued by the STS, whatever the sign-in host).
V1_ISSUER_HOSTS = {
    "https://login.microsoftonline.com": "https://sts.windows.net",
    "https://login.microsoftonline.us": "https://sts.windows.net",
    "https://login.chinacloudapi.cn": "https://sts.chinacloudapi.cn",
    "https://login.partner.microsoftonline.cn": "https://sts.chinacloudapi.cn",
}
#: Seconds a role sync of a user is remembered for the same roles (one sync per token, not per request).
ROLE_SYNC_SECONDS = 300


class TokenRejected(Exception):
    """The bearer token is not an access token of this API. ``str(exc)`` says why, in words fit
    for the caller (never the token)."""


class EntraUnavailable(Exception):
    """Entra's discovery document or keys could not be read; ``retry_after`` is the seconds
    until the next read is tried (:data:`_FAILURES`)."""

    def __init__(self, message: str, retry_after: float = 0.0):
        super().__init__(message)
        self.retry_after = retry_after


#: (authority host, tenant) -> monotonic time until which reads of Entra are not tried again.
_FAILURES: dict[tuple[str, str], float] = {}
#: The clock of :data:`_FAILURES` (a module attribute so tests can move it).
_clock = time.monotonic


def _failure_key(cfg: AppConfig) -> tuple[str, str]:
    return (cfg.ENTRA_AUTHORITY_HOST, cfg.TENANT_ID)


def _still_failing(key: tuple[str, str]) -> float:
    """Seconds left of a remembered failure of ``key`` (0: none, try Entra)."""
    with _LOCK:
        until = _FAILURES.get(key, 0.0)
    return max(0.0, until - _clock())


def _remember_failure(key: tuple[str, str], seconds: float) -> None:
    if seconds > 0:
        with _LOCK:
            _FAILURES[key] = _clock() + seconds


class _RequestsJWKClient(PyJWKClient):
    """PyJWT's JWKS client reading with ``requests`` (timeouts, no redirects, the same HTTP
    stack as the rest of the app); caching and the unknown-kid refresh are PyJWT's. A failed
    read is remembered ``failure_seconds`` under ``failure_key`` (:data:`_FAILURES`)."""

    failure_key: tuple[str, str] = ("", "")
    failure_seconds: float = 0.0

    def fetch_data(self) -> Any:
        if _still_failing(self.failure_key):
            raise PyJWKClientConnectionError("the signing keys could not be read a moment ago")
        try:
            response = requests.get(self.uri, timeout=self.timeout, allow_redirects=False)
            response.raise_for_status()
            jwk_set = response.json()
        except (requests.RequestException, ValueError) as exc:
            _remember_failure(self.failure_key, self.failure_seconds)
            raise PyJWKClientConnectionError(f"the signing keys could not be read ({type(exc).__name__})") from exc
        jwk_set = self._as_jwk_set_payload(jwk_set)
        if self.jwk_set_cache is not None:
            self.jwk_set_cache.put(jwk_set)
        self._last_successful_fetch = time.monotonic()
        return jwk_set


_JWKS_CLIENTS: dict[tuple[str, str, float], PyJWKClient] = {}
_LOCK = threading.Lock()


#: The message of :class:`EntraUnavailable` (``what``: the document that could not be read).
_UNREADABLE = ("Entra ID cannot be reached to check the token: the tenant's {what} could not be read "
               "(API_ENTRA_FAILURE_CACHE_SECONDS: it is read again after a short pause).")


def discovery_url(cfg: AppConfig) -> str:
    """The tenant's OpenID configuration (v2.0)."""
    return f"{cfg.entra_authority}/v2.0/.well-known/openid-configuration"


def _jwks_client(cfg: AppConfig) -> PyJWKClient:
    key = (cfg.ENTRA_AUTHORITY_HOST, cfg.TENANT_ID, cfg.API_JWKS_CACHE_SECONDS)
    with _LOCK:
        client = _JWKS_CLIENTS.get(key)
    if client is not None:
        return client
    failure = _failure_key(cfg)
    if left := _still_failing(failure):
        raise EntraUnavailable(_UNREADABLE.format(what="OpenID configuration"), retry_after=left)
    try:
        response = requests.get(discovery_url(cfg), timeout=HTTP_TIMEOUT, allow_redirects=False)
        response.raise_for_status()
        jwks_uri = response.json()["jwks_uri"]
        if not isinstance(jwks_uri, str):
            raise TypeError("jwks_uri")
    except (requests.RequestException, ValueError, KeyError, TypeError) as exc:
        _remember_failure(failure, cfg.API_ENTRA_FAILURE_CACHE_SECONDS)
        raise EntraUnavailable(_UNREADABLE.format(what="OpenID configuration"),
                               retry_after=cfg.API_ENTRA_FAILURE_CACHE_SECONDS) from exc
    client = _RequestsJWKClient(jwks_uri, lifespan=cfg.API_JWKS_CACHE_SECONDS, timeout=HTTP_TIMEOUT,
                                cooldown_duration=JWKS_REFRESH_COOLDOWN)
    client.failure_key = failure
    client.failure_seconds = cfg.API_ENTRA_FAILURE_CACHE_SECONDS
    with _LOCK:
        return _JWKS_CLIENTS.setdefault(key, client)


def issuers(cfg: AppConfig) -> list[str]:
    """The tenant's v2 and v1 issuers."""
    found = [f"{cfg.entra_authority}/v2.0"]
    if v1 := V1_ISSUER_HOSTS.get(cfg.ENTRA_AUTHORITY_HOST.rstrip("/")):
        found.append(f"{v1}/{cfg.TENANT_ID}/")
    return found


def audiences(cfg: AppConfig) -> list[str]:
    """``API_ENTRA_AUDIENCES``, or ``api://<CLIENT_ID>`` and ``<CLIENT_ID>``."""
    return list(cfg.API_ENTRA_AUDIENCES) or [f"api://{cfg.CLIENT_ID}", cfg.CLIENT_ID]


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("eyJ")


def validate(token: str, cfg: AppConfig) -> dict[str, Any]:
    """The claims of ``token`` once it is proved an access token of this API for the tenant.

    Raises :class:`TokenRejected` (with the reason) or :class:`EntraUnavailable`."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError as exc:
        raise TokenRejected("The token is not a well-formed JWT.") from exc
    if header.get("alg") not in ALGORITHMS:
        raise TokenRejected("The token is not signed with RS256.")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise TokenRejected("The token names no signing key (kid).")
    try:
        key = _jwks_client(cfg).get_signing_key(kid)
    except PyJWKClientConnectionError as exc:
        left = _still_failing(_failure_key(cfg)) or cfg.API_ENTRA_FAILURE_CACHE_SECONDS
        raise EntraUnavailable(_UNREADABLE.format(what="signing keys (JWKS)"), retry_after=left) from exc
    except PyJWKClientError as exc:
        raise TokenRejected("The token is signed with a key the tenant does not publish.") from exc
    try:
        claims: dict[str, Any] = jwt.decode(
            token, key.key, algorithms=ALGORITHMS, audience=audiences(cfg), issuer=issuers(cfg),
            leeway=cfg.API_JWT_LEEWAY, options={"require": ["exp", "nbf", "iss", "aud"]},
        )
    except jwt.ExpiredSignatureError as exc:
        raise TokenRejected("The token has expired.") from exc
    except jwt.ImmatureSignatureError as exc:
        raise TokenRejected("The token is not valid yet (nbf).") from exc
    except jwt.InvalidAudienceError as exc:
        raise TokenRejected("The token is for another application (aud).") from exc
    except jwt.InvalidIssuerError as exc:
        raise TokenRejected("The token was issued by another tenant or authority (iss).") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise TokenRejected(f"The token has no '{exc.claim}' claim.") from exc
    except jwt.InvalidTokenError as exc:
        raise TokenRejected("The token's signature or claims are invalid.") from exc
    if not isinstance(claims.get("oid"), str) or not claims["oid"]:
        raise TokenRejected("The token has no 'oid' claim.")
    check_access_token(claims, cfg)
    return claims


def check_access_token(claims: dict[str, Any], cfg: AppConfig) -> None:
    """Refuse (:class:`TokenRejected`) claims that are not those of an access token of this API
    (Microsoft's "Access token claims reference": ``scp`` for delegated tokens, ``roles`` and
    ``idtyp`` for app-only ones; see the module docstring). Delegated: ``scp`` (space-separated)
    holds ``API_ENTRA_SCOPE``. App-only: a non-empty ``roles`` list, and ``idtyp=app`` (v2, or
    whenever ``idtyp`` is present) or, for a v1 token without ``idtyp``, ``oid == sub`` and an
    ``appid``. The app's own ID token (same ``aud`` and ``iss``) fails both."""
    scp, idtyp = claims.get("scp"), claims.get("idtyp")
    if scp is not None:
        if idtyp == "app":
            raise TokenRejected("An app-only token (idtyp=app) cannot carry delegated scopes (scp).")
        if not isinstance(scp, str) or cfg.API_ENTRA_SCOPE not in scp.split():
            raise TokenRejected(
                f"The token does not carry this API's scope '{cfg.API_ENTRA_SCOPE}' (scp): ask for "
                f"api://<client id>/{cfg.API_ENTRA_SCOPE} (API_ENTRA_SCOPE)."
            )
        return
    roles = claims.get("roles")
    if not isinstance(roles, list) or not roles:
        raise TokenRejected(
            "The token is not an access token of this API: it has neither this API's scope (scp) nor an app "
            "role (roles). ID tokens are not accepted; a service principal needs an app role granted."
        )
    if idtyp is not None or claims.get("ver") != "1.0":
        if idtyp != "app":
            raise TokenRejected(
                "The token has app roles but no idtyp=app, so it is not an app-only access token (an ID token is "
                "not accepted): add the optional claim idtyp to the registration's access tokens."
            )
        return
    if claims.get("oid") != claims.get("sub") or not claims.get("appid"):
        raise TokenRejected("The token is not an app-only access token (v1: oid must equal sub, with an appid).")


def is_app_token(claims: dict[str, Any]) -> bool:
    """An app-only (client credentials) token, among claims :func:`validate` accepted: one
    without ``scp`` (:func:`check_access_token` has proved it carries ``roles`` and
    ``idtyp=app``, or v1's ``oid == sub``)."""
    return "scp" not in claims


def _sync_roles(user: Any, ids: set[str]) -> None:
    """:func:`accounts.entra.apply_role_mapping`, skipped when the same roles were applied to
    this user in the last :data:`ROLE_SYNC_SECONDS` seconds."""
    mapping = settings.AZURE_AUTH.get("ROLES") or {}
    stamp = hashlib.sha256(repr((sorted(ids), sorted(mapping.items(), key=str))).encode()).hexdigest()[:32]
    key = f"api-entra-roles:{user.pk}"
    if cache.get(key) == stamp:
        return
    apply_role_mapping(user, ids)
    cache.set(key, stamp, ROLE_SYNC_SECONDS)


def _as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [str(v) for v in value]
    return []


def user_for(claims: dict[str, Any]) -> Any:
    """The Django user a validated token stands for, created on first use (unusable password).
    Raises :class:`TokenRejected` when a delegated token lacks the user-name claim."""
    model = get_user_model()
    if is_app_token(claims):
        oid = claims["oid"]
        app = str(claims.get("app_displayname") or claims.get("azp") or claims.get("appid") or "")
        user, created = model._default_manager.get_or_create(
            username=f"sp-{oid}"[:150], defaults={"first_name": "Service principal", "last_name": app[:150]},
        )
        if created:
            user.set_unusable_password()
            user.save(update_fields=["password"])
            log.info("API: service principal %s (%s) first seen as user %s", oid, app, user.pk)
        # A service principal's roles are all in the token: none means no mapped group.
        _sync_roles(user, set(_as_list(claims.get("roles"))))
        return user
    attribute = settings.AZURE_AUTH.get("USERNAME_ATTRIBUTE", "upn")
    username = claims.get(attribute)
    if not isinstance(username, str) or not username:
        raise TokenRejected(
            f"The token has no '{attribute}' claim: add it as an optional claim of the access token, "
            "or set ENTRA_USERNAME_ATTRIBUTE."
        )
    try:
        user = model._default_manager.get_by_natural_key(username)
    except model.DoesNotExist:
        user = model._default_manager.create_user(username, **map_user_attributes(**claims))
        user.set_unusable_password()
        user.save(update_fields=["password"])
    if settings.AZURE_AUTH.get("ROLES"):  # as at sign-in: without a mapping, groups are the admin's to set
        _sync_roles(user, delegated_group_ids(claims))
    return user


def delegated_group_ids(claims: dict[str, Any]) -> set[str]:
    """The ids (app role values or group object ids) :func:`accounts.entra.apply_role_mapping`
    maps for a delegated access token: its ``ENTRA_GROUP_ATTRIBUTE`` claim, and none when the
    claim is absent (Entra leaves it out when the user has no role or group: an access token
    of this API is issued for this registration, so it lists all of them). Raises
    :class:`TokenRejected` on group overage (``_claim_names`` names the attribute: more groups
    than a token holds, per Microsoft's "Groups overage claim"), whose groups the token does
    not say."""
    attribute = settings.AZURE_AUTH.get("GROUP_ATTRIBUTE", "roles")
    if attribute in claims:
        return set(_as_list(claims[attribute]))
    if has_group_overage(claims, attribute):
        raise TokenRejected(
            f"The token lists too many groups to carry its '{attribute}' claim (group overage), so this API "
            "cannot tell your role: use app roles (ENTRA_GROUP_ATTRIBUTE=roles) for API callers."
        )
    return set()


def reset_caches() -> None:
    """Forget the discovery documents and keys read so far (tests; a changed tenant)."""
    with _LOCK:
        _JWKS_CLIENTS.clear()
        _FAILURES.clear()
