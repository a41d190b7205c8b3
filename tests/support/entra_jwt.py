"""Entra ID access tokens for the API, signed in tests with a generated RSA key, and the
tenant's OpenID configuration and JWKS served by `responses` (shapes from Microsoft's
"Access tokens in the Microsoft identity platform" and the v2.0 discovery document)."""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import jwt
import responses
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.fakes_entra import CLIENT_ID, LOGIN, TENANT

JWKS_URI = f"{LOGIN}/{TENANT}/discovery/v2.0/keys"
DISCOVERY = f"{LOGIN}/{TENANT}/v2.0/.well-known/openid-configuration"


def _b64(n: int) -> str:
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@dataclass
class SigningKey:
    kid: str
    private: Any = field(default_factory=lambda: rsa.generate_private_key(public_exponent=65537, key_size=2048))

    def jwk(self) -> dict[str, Any]:
        numbers = self.private.public_key().public_numbers()
        # As Entra publishes them: kty, use, kid, x5t, n, e, x5c, issuer (x5c left out: not used).
        return {"kty": "RSA", "use": "sig", "kid": self.kid, "x5t": self.kid, "n": _b64(numbers.n),
                "e": _b64(numbers.e), "issuer": f"{LOGIN}/{TENANT}/v2.0"}


class FakeTenant:
    """The tenant's discovery document and key set; ``keys`` may change (rotation) and every
    read of the key set is counted in ``jwks_reads``."""

    def __init__(self, mock: responses.RequestsMock):
        self.keys = [SigningKey("key-1")]
        self.jwks_reads = 0
        self.mock = mock
        mock.add(responses.GET, DISCOVERY, json={
            "token_endpoint": f"{LOGIN}/{TENANT}/oauth2/v2.0/token", "jwks_uri": JWKS_URI,
            "issuer": f"{LOGIN}/{TENANT}/v2.0", "id_token_signing_alg_values_supported": ["RS256"],
            "authorization_endpoint": f"{LOGIN}/{TENANT}/oauth2/v2.0/authorize",
        })
        mock.add_callback(responses.GET, JWKS_URI, callback=self._jwks)

    def _jwks(self, request):
        import json

        self.jwks_reads += 1
        return 200, {"Content-Type": "application/json"}, json.dumps({"keys": [k.jwk() for k in self.keys]})

    def claims(self, *, app: bool = False, roles: list[str] | None = None, version: str = "2.0",
               **overrides: Any) -> dict[str, Any]:
        """Claims of an access token of the API: delegated (``scp``), or app-only (``app``:
        ``idtyp=app``, ``roles`` default ``["Livy.Viewer"]``); ``overrides`` set (None: drop) claims."""
        now = int(time.time())
        oid = str(uuid.uuid4())
        claims: dict[str, Any] = {
            "aud": CLIENT_ID if version == "2.0" else f"api://{CLIENT_ID}",
            "iss": f"{LOGIN}/{TENANT}/v2.0" if version == "2.0" else f"https://sts.windows.net/{TENANT}/",
            "iat": now, "nbf": now, "exp": now + 3600,
            "aio": "E2RgYJg", "azp" if version == "2.0" else "appid": str(uuid.uuid4()),
            "azpacr" if version == "2.0" else "appidacr": "1",
            "oid": oid, "rh": "0.AXoA.", "tid": TENANT, "uti": uuid.uuid4().hex[:22], "ver": version,
        }
        if app:
            # Entra leaves "roles" out of an app token when no app role is granted (roles=[]).
            granted = ["Livy.Viewer"] if roles is None else roles
            claims.update({"sub": oid, "idtyp": "app", "roles": granted or None})
        else:
            claims.update({"sub": "AAAAAAAAAAAAAAAAAAAAAIkzqFVrSaSaFHy782bbtaQ", "scp": "access_as_user",
                           "name": "Erin Editor", "given_name": "Erin", "family_name": "Editor",
                           "upn": "erin@contoso.com", "preferred_username": "erin@contoso.com", "idtyp": "user"})
            if roles is not None:
                claims["roles"] = roles
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, claims: dict[str, Any], *, key: SigningKey | None = None, alg: str = "RS256",
              kid: str | None = None) -> str:
        key = key or self.keys[0]
        return jwt.encode(claims, key.private, algorithm=alg, headers={"kid": kid or key.kid, "typ": "JWT"})

    def id_token_claims(self, **overrides: Any) -> dict[str, Any]:
        """Claims of the app's own v2 ID token for a user (what browser sign-in receives): the same
        ``aud`` (CLIENT_ID) and ``iss``, app roles in ``roles``, but no ``scp`` and no ``idtyp``."""
        now = int(time.time())
        claims: dict[str, Any] = {
            "aud": CLIENT_ID, "iss": f"{LOGIN}/{TENANT}/v2.0", "iat": now, "nbf": now, "exp": now + 3600,
            "name": "Erin Editor", "nonce": uuid.uuid4().hex, "oid": str(uuid.uuid4()),
            "preferred_username": "erin@contoso.com", "upn": "erin@contoso.com", "rh": "0.AXoA.",
            "roles": ["Livy.Admin"], "sid": str(uuid.uuid4()), "sub": "pairwise-subject-of-erin",
            "tid": TENANT, "uti": uuid.uuid4().hex[:22], "ver": "2.0",
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}
