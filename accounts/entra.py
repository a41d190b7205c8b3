"""Sign-in with Microsoft Entra ID, on top of django-azure-auth's ``AuthHandler`` (which drives
MSAL's auth code flow with PKCE and keeps the MSAL token cache in the Django session).

What this module adds to the library:

* group sync that never strips a user's groups because a claim is missing, and that reads
  memberships from Microsoft Graph (``GRAPH_MEMBER_ENDPOINT``, ``/me/transitiveMemberOf`` by
  default, like the claim, following ``@odata.nextLink``)
  when the ID token signals *group overage* (``_claim_names``/``_claim_sources`` instead of a
  ``groups`` claim: more than 200 groups, per "Groups overage claim" in Microsoft's ID token
  claims reference);
* ``is_staff`` for members of the administrators' groups only (:data:`accounts.roles.STAFF_GROUPS`);
* Graph calls with a timeout, and every failure raised as :class:`EntraSignInError` so that
  views show a page instead of a 500.
"""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from typing import Any

import requests
from azure_auth.exceptions import TokenError
from azure_auth.handlers import AuthHandler
from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Group

from accounts.roles import STAFF_GROUPS

log = logging.getLogger(__name__)

#: Seconds to wait for Microsoft Graph on sign-in.
GRAPH_TIMEOUT = 10
#: Most pages of ``memberOf`` read (Graph pages hold 100 objects by default: 10,000 groups).
GRAPH_MAX_PAGES = 100


class EntraSignInError(Exception):
    """A sign-in that cannot complete. ``title`` and ``detail`` are shown to the user;
    ``status`` is the HTTP status of the error page."""

    def __init__(self, title: str, detail: str = "", status: int = HTTPStatus.BAD_REQUEST):
        super().__init__(f"{title}: {detail}" if detail else title)
        self.title = title
        self.detail = detail
        self.status = int(status)


def _graph_get(url: str, access_token: str, params: dict[str, str] | None = None) -> dict[str, Any]:
    try:
        response = requests.get(
            url, headers={"Authorization": f"Bearer {access_token}"}, params=params, timeout=GRAPH_TIMEOUT
        )
    except requests.RequestException as exc:
        raise EntraSignInError(
            "Microsoft Graph cannot be reached",
            "Your account details could not be read. Try again in a moment.",
            HTTPStatus.BAD_GATEWAY,
        ) from exc
    if response.status_code in (HTTPStatus.UNAUTHORIZED, HTTPStatus.FORBIDDEN):
        try:
            error = response.json().get("error", {})
        except ValueError:
            error = {}
        raise EntraSignInError(
            "Microsoft Graph refused the request",
            f"{error.get('code', response.status_code)}: {error.get('message', '')}".strip(": "),
            HTTPStatus.FORBIDDEN,
        )
    if not response.ok:
        raise EntraSignInError(
            "Microsoft Graph answered with an error",
            f"HTTP {response.status_code}. Try again in a moment.",
            HTTPStatus.BAD_GATEWAY,
        )
    return response.json()


def fetch_member_group_ids(access_token: str) -> set[str]:
    """Object ids of the directory objects the user is a member of, from
    ``GRAPH_MEMBER_ENDPOINT`` (``/me/transitiveMemberOf``: nested groups count, as in the
    ``groups`` claim), following ``@odata.nextLink`` pages.

    Raises :class:`EntraSignInError` if Graph cannot be read or the pages do not end within
    :data:`GRAPH_MAX_PAGES`.
    """
    url: str | None = settings.AZURE_AUTH["GRAPH_MEMBER_ENDPOINT"]
    params: dict[str, str] | None = {"$select": "id"}
    ids: set[str] = set()
    for _ in range(GRAPH_MAX_PAGES):
        if url is None:
            return ids
        page = _graph_get(url, access_token, params)
        ids.update(item["id"] for item in page.get("value", []) if isinstance(item, dict) and "id" in item)
        url = page.get("@odata.nextLink")
        params = None  # the next link carries its own query
    if url is None:
        return ids
    raise EntraSignInError("Too many group memberships", "Graph kept returning more pages.", HTTPStatus.BAD_GATEWAY)


def has_group_overage(claims: dict[str, Any], attribute: str) -> bool:
    """True when the token names ``attribute`` in ``_claim_names`` instead of carrying it
    (group overage, Microsoft's ID and access token claims references)."""
    return attribute in (claims.get("_claim_names") or {})


class EntraAuthHandler(AuthHandler):
    """django-azure-auth's handler with safe Graph calls and group sync (see module doc)."""

    @property
    def cache(self):
        """The MSAL token cache, read from the session once per handler.

        The library's property deserializes the session's copy on every access, which resets
        MSAL's ``has_state_changed``: tokens just obtained (a second sign-in, a silent
        refresh) were then never saved back. Reading once keeps them.
        """
        if not getattr(self, "_cache_loaded", False):
            if serialized := self.request.session.get("token_cache"):
                self._cache.deserialize(serialized)
            self._cache_loaded = True
        return self._cache

    def _get_azure_user(self, token: str, fields: dict | None = None) -> dict[str, Any]:
        params = {"$select": ",".join(fields)} if fields else None
        return _graph_get(self.graph_user_endpoint, token, params)

    def authenticate(self, token: dict) -> Any:
        """The library's get-or-create of the user from Graph's ``/me`` and the ID token
        claims, with a clear error when the ``USERNAME_ATTRIBUTE`` is in neither."""
        try:
            return super().authenticate(token)
        except KeyError as exc:
            attribute = settings.AZURE_AUTH["USERNAME_ATTRIBUTE"]
            if exc.args != (attribute,):
                raise
            raise EntraSignInError(
                "Your account has no user name the app can use",
                f"The ID token has no '{attribute}' claim. An administrator can add it as an optional "
                f"claim of the app registration, or set ENTRA_USERNAME_ATTRIBUTE (e.g. preferred_username).",
            ) from exc

    def group_ids(self, token: dict) -> set[str] | None:
        """The user's Entra group (or app role) ids, or None when they cannot be known.

        The claim named by ``GROUP_ATTRIBUTE`` when present; Graph's ``memberOf`` when the
        token signals overage, or when the attribute is ``groups`` and the claim is absent
        (a user in no group gets no claim); None for an absent ``roles`` claim, which the
        token does not distinguish from a registration that emits none.
        """
        claims = token.get("id_token_claims") or {}
        attribute = settings.AZURE_AUTH.get("GROUP_ATTRIBUTE", "roles")
        if attribute in claims:
            return {str(v) for v in claims[attribute] or []}
        if has_group_overage(claims, attribute) or attribute == "groups":
            return fetch_member_group_ids(token["access_token"])
        return None

    def sync_groups(self, user: Any, token: dict) -> Any:
        """Make the user's mapped Django groups match their Entra groups; set ``is_staff``.

        Groups not named in ``ROLES`` are never touched. When the groups cannot be known
        (see :meth:`group_ids`) the user keeps the groups they have.
        """
        if not settings.AZURE_AUTH.get("ROLES"):
            return user
        ids = self.group_ids(token)
        if ids is None:
            log.warning("sign-in of user %s: no %s claim; groups left unchanged", user.pk,
                        settings.AZURE_AUTH.get("GROUP_ATTRIBUTE"))
            return user
        return apply_role_mapping(user, ids)


def apply_role_mapping(user: Any, ids: set[str]) -> Any:
    """Give ``user`` the Django groups ``ROLES`` maps ``ids`` (Entra group object ids or app
    role values) to, take away the mapped groups they no longer have, and set ``is_staff``
    (:data:`accounts.roles.STAFF_GROUPS`). Groups not named in ``ROLES`` are never touched.
    Used by browser sign-in and by the API's Entra tokens (``api.entra``)."""
    mapping: dict[str, Any] = settings.AZURE_AUTH.get("ROLES") or {}
    if mapping:
        managed: set[str] = set()
        wanted: set[str] = set()
        for group_id, names in mapping.items():
            names = names if isinstance(names, list) else [names]
            managed.update(names)
            if group_id in ids:
                wanted.update(names)
        for name in managed:
            Group.objects.get_or_create(name=name)
        current = set(user.groups.values_list("name", flat=True))
        if to_add := wanted - current:
            user.groups.add(*Group.objects.filter(name__in=to_add))
        if to_remove := (current & managed) - wanted:
            user.groups.remove(*Group.objects.filter(name__in=to_remove))
        staff = user.is_superuser or bool(wanted & set(STAFF_GROUPS))
        if user.is_staff != staff:
            user.is_staff = staff
            user.save(update_fields=["is_staff"])
    return user


class EntraBackend(ModelBackend):
    """Authentication backend for Entra ID sign-ins (``authenticate(request, token=...)``).

    Sits beside Django's ``ModelBackend``, so local accounts with a password always work.
    Raises :class:`EntraSignInError` for failures the user must be told about.
    """

    def authenticate(self, request, token=None, **kwargs):
        if not token:
            return None
        user = EntraAuthHandler(request).authenticate(token)
        return user if self.user_can_authenticate(user) else None


def map_user_attributes(**attributes: Any) -> dict[str, Any]:
    """``USER_MAPPING_FN``: Django user fields from ID token claims and Graph's ``/me``.

    Name from ``given_name``/``family_name`` (claims) or ``givenName``/``surname`` (Graph);
    e-mail from ``email``, ``mail``, ``preferred_username`` or ``upn``, the first present.
    Never ``is_staff``: that follows group membership (:meth:`EntraAuthHandler.sync_groups`).
    """
    email = next((attributes[k] for k in ("email", "mail", "preferred_username", "upn") if attributes.get(k)), "")
    return {
        "first_name": (attributes.get("given_name") or attributes.get("givenName") or "")[:150],
        "last_name": (attributes.get("family_name") or attributes.get("surname") or "")[:150],
        "email": email if "@" in email else "",
    }


#: An Entra ID error code inside an ``error_description``.
AADSTS_CODE = re.compile(r"\bAADSTS\d{4,9}\b")
#: What to do about common codes (Microsoft's "Microsoft Entra authentication and
#: authorization error codes"), in the app's words.
AADSTS_HINTS = {
    "AADSTS50011": "The app's redirect URI is not one the app registration lists: an administrator must "
    "correct REDIRECT_URI or the registration.",
    "AADSTS50020": "Your account is not in this organisation's directory: a guest must be invited first.",
    "AADSTS50105": "Your account is not assigned to this application: ask an administrator to assign you a role.",
    "AADSTS53003": "An access policy of your organisation (Conditional Access) blocked this sign-in.",
    "AADSTS65001": "The application has not been granted consent: ask an administrator to grant it.",
    "AADSTS65004": "Consent to the application was declined.",
    "AADSTS700016": "The application is not registered in this directory: an administrator must check "
    "TENANT_ID and CLIENT_ID.",
    "AADSTS7000215": "The application's client secret is wrong: an administrator must check CLIENT_SECRET.",
    "AADSTS7000222": "The application's client secret has expired: an administrator must create a new one.",
}


def sign_in_refused_message(description: str) -> str:
    """The error page's text for an error Entra returned: the app's own words and the AADSTS
    code, never the ``error_description`` itself (on the callback anyone can write it, so it
    would put an attacker's text on this site's page)."""
    match = AADSTS_CODE.search(description or "")
    if not match:
        return "Microsoft sign-in refused the request."
    code = match.group(0)
    hint = AADSTS_HINTS.get(code, "")
    return f"Microsoft sign-in refused the request ({code}). {hint}".strip()


def token_error_message(error: TokenError) -> str:
    """The error page's text for a token error (see :func:`sign_in_refused_message`)."""
    return sign_in_refused_message(error.description or "")
