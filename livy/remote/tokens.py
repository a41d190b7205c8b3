"""Access tokens for Fabric's Livy API.

Two providers, chosen by ``FABRIC_AUTH``:

* :class:`DelegatedTokenProvider` (``delegated``, the default): the signed-in user's token,
  so code runs as that user with their workspace role. MSAL gets it silently from the token
  cache that sign-in left in the Django session (the refresh token from the sign-in flow is
  redeemed for ``FABRIC_SCOPES``), refreshes it before it expires, and the updated cache is
  written back to the session. One :class:`msal.SerializableTokenCache` object is read once
  and saved once per provider: django-azure-auth's handler re-reads the session on every
  access to its cache, which can drop a cache MSAL just refreshed.
* :class:`ServicePrincipalTokenProvider` (``service_principal``): one app identity runs all
  code (client credentials flow); for deployments where users have no Fabric access of
  their own.

Tokens never leave the server: they are only put in the ``Authorization`` header of
requests to Fabric, never in a page, a log or a cookie.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import MutableMapping
from typing import Any, Protocol

import msal
import requests

from livy.remote.errors import LivyError, LivySignInRequired, LivyUnavailable

log = logging.getLogger(__name__)

#: Session key of django-azure-auth's serialized MSAL token cache.
CACHE_KEY = "token_cache"
#: A token is refreshed when it has less than this many seconds left (MSAL itself refreshes
#: within 5 minutes of expiry; this only bounds our per-request memo).
EXPIRY_MARGIN = 300
#: Entra's public discovery metadata (instance and OpenID configuration), shared by MSAL
#: apps of this process; it holds no user data or tokens.
_DISCOVERY_CACHE: dict[Any, Any] = {}


class Secret(Protocol):
    """A secret setting (pydantic's ``SecretStr``): its value only on demand, never in a repr."""

    def get_secret_value(self) -> str: ...


class TokenSettings(Protocol):
    """The settings the providers read (:class:`myapp.config.AppConfig` has them all):
    the app registration, the authority and the scopes of the Fabric token."""

    CLIENT_ID: str
    TENANT_ID: str
    ENTRA_AUTHORITY_HOST: str
    FABRIC_SCOPES: list[str]
    FABRIC_TENANT_ID: str
    FABRIC_CLIENT_ID: str

    # Read-only, so that any SecretStr (a subtype of Secret) satisfies them.
    @property
    def CLIENT_SECRET(self) -> Secret: ...

    @property
    def FABRIC_CLIENT_SECRET(self) -> Secret: ...

    @property
    def entra_authority(self) -> str: ...


class DelegatedTokenProvider:
    """The signed-in user's token for ``cfg.FABRIC_SCOPES``, from their MSAL cache in
    ``session`` (a Django session). :meth:`access_token` raises
    :class:`livy.remote.errors.LivySignInRequired` when only an interactive sign-in can give one
    (no account in the cache, ``invalid_grant``, ``interaction_required``)."""

    #: The tokens are the signed-in user's own (a 401 means: sign in again).
    user_tokens = True

    def __init__(self, session: MutableMapping[str, Any], cfg: TokenSettings):
        self.session = session
        self.cfg = cfg
        self._token: str | None = None
        self._expires_at = 0.0
        self._force_refresh = False
        self._rejections = 0

    def token_rejected(self) -> bool:
        """Fabric refused the token (401) though it has not expired (revoked, claims
        challenge): forget it and redeem the refresh token for a new one on the next call.
        Returns False the second time in one request (then only a new sign-in helps)."""
        self._rejections += 1
        self._token = None
        self._force_refresh = True
        return self._rejections == 1

    def access_token(self) -> str:
        if self._token and time.time() < self._expires_at - EXPIRY_MARGIN:
            return self._token
        cache = msal.SerializableTokenCache()
        if serialized := self.session.get(CACHE_KEY):
            cache.deserialize(serialized)
        try:
            app = msal.ConfidentialClientApplication(
                client_id=self.cfg.CLIENT_ID,
                client_credential=self.cfg.CLIENT_SECRET.get_secret_value(),
                authority=self.cfg.entra_authority,
                token_cache=cache,
                http_cache=_DISCOVERY_CACHE,
            )
            account = self._account(app)
            result = app.acquire_token_silent_with_error(
                list(self.cfg.FABRIC_SCOPES), account=account, force_refresh=self._force_refresh
            )
        except requests.RequestException as exc:
            raise LivyUnavailable("Microsoft Entra ID cannot be reached to get a token for Fabric.") from exc
        self._force_refresh = False
        if cache.has_state_changed:
            self.session[CACHE_KEY] = cache.serialize()
        if result and "access_token" in result:
            self._token = result["access_token"]
            self._expires_at = time.time() + float(result.get("expires_in", 0))
            return self._token
        reason = (result or {}).get("error", "no_token")
        log.info("silent Fabric token for the signed-in user failed: %s", reason)
        raise LivySignInRequired("Your Microsoft sign-in has expired. Sign in again to continue.")

    def _account(self, app: msal.ConfidentialClientApplication) -> dict[str, Any]:
        """The cached account of the signed-in user: the one whose object id and tenant in
        this tenant (``local_account_id``, ``realm``) are the ID token's ``oid`` and ``tid``.
        (``home_account_id`` names the home tenant, which differs for B2B guests.)"""
        claims = self.session.get("id_token_claims") or {}
        for account in app.get_accounts():
            if account.get("local_account_id") == claims.get("oid") and account.get("realm") == claims.get("tid"):
                return account
        raise LivySignInRequired("Sign in with Microsoft to run code on Fabric.")


@functools.lru_cache(maxsize=4)
def _service_principal_app(authority: str, client_id: str, secret: str) -> msal.ConfidentialClientApplication:
    # One app per identity and process: its cache holds that app's own tokens, never a user's.
    return msal.ConfidentialClientApplication(
        client_id=client_id, client_credential=secret, authority=authority, http_cache=_DISCOVERY_CACHE
    )


class ServicePrincipalTokenProvider:
    """An app-only token (client credentials) for ``cfg.FABRIC_SCOPES``, as the identity
    ``FABRIC_CLIENT_ID`` (default ``CLIENT_ID``) of tenant ``FABRIC_TENANT_ID`` (default
    ``TENANT_ID``). Raises :class:`livy.remote.errors.LivyError` when Entra refuses it."""

    #: One app identity for everyone: a 401 is a configuration problem, not a sign-in.
    user_tokens = False

    def __init__(self, cfg: TokenSettings):
        self.cfg = cfg

    def token_rejected(self) -> bool:
        """Fabric refused the app's token: no fresh one is tried (MSAL's client-credentials
        token is as good as the app registration; a 401 is reported as refused credentials)."""
        return False

    def access_token(self) -> str:
        cfg = self.cfg
        tenant = cfg.FABRIC_TENANT_ID or cfg.TENANT_ID
        app = _service_principal_app(
            f"{cfg.ENTRA_AUTHORITY_HOST}/{tenant}",
            cfg.FABRIC_CLIENT_ID or cfg.CLIENT_ID,
            cfg.FABRIC_CLIENT_SECRET.get_secret_value() or cfg.CLIENT_SECRET.get_secret_value(),
        )
        try:
            result = app.acquire_token_for_client(scopes=list(cfg.FABRIC_SCOPES))
        except requests.RequestException as exc:
            raise LivyUnavailable("Microsoft Entra ID cannot be reached to get a token for Fabric.") from exc
        if "access_token" in result:
            return result["access_token"]
        raise LivyError(
            f"The service principal could not get a Fabric token: {result.get('error_description') or result.get('error')}"
        )
