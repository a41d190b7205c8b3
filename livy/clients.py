"""The one way to get a :class:`~livy.remote.client.LivyClient`: :func:`livy_client`.

A client is built per request (or per command run) from the configuration and, for Fabric,
a token provider bound to the signed-in user's Django session; nothing is shared between
users and no module-level client or token exists. Lifecycle functions take the client as a
required keyword argument, so none of them can build one without a token.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from livy.remote.backends import TokenProvider, build_backend
from livy.remote.client import LivyClient
from livy.remote.tokens import DelegatedTokenProvider, ServicePrincipalTokenProvider
from myapp.config import AppConfig, current_config


def token_provider_for(session_store: MutableMapping[str, Any] | None, cfg: AppConfig) -> TokenProvider | None:
    """The token provider ``cfg`` asks for: None for Apache Livy (no token); for Fabric the
    service principal (``FABRIC_AUTH=service_principal``) or the signed-in user's delegated
    token from ``session_store`` (their Django session, which holds the MSAL cache).

    Raises ``ValueError`` when delegated tokens are configured and there is no session
    (a management command cannot act as a user)."""
    if cfg.LIVY_BACKEND != "fabric":
        return None
    if cfg.FABRIC_AUTH == "service_principal":
        return ServicePrincipalTokenProvider(cfg)
    if session_store is None:
        raise ValueError("Fabric with delegated tokens needs the signed-in user's session")
    return DelegatedTokenProvider(session_store, cfg)


def livy_client(session_store: MutableMapping[str, Any] | None = None, cfg: AppConfig | None = None) -> LivyClient:
    """A ready client for the configured backend (``LIVY_BACKEND`` at ``LIVY_BASE_ENDPOINT``,
    ``LIVY_REQUESTS_TIMEOUT`` seconds per request; Fabric's ``FABRIC_SESSION_MODE`` and
    ``FABRIC_SESSION_TAG``), with the token provider of
    :func:`token_provider_for` for ``session_store`` (``request.session``, or None outside a
    request). Raises ``ValueError`` as :func:`token_provider_for` does."""
    cfg = cfg or current_config()
    backend = build_backend(cfg.LIVY_BACKEND, cfg.LIVY_BASE_ENDPOINT, token_provider_for(session_store, cfg),
                            session_mode=cfg.FABRIC_SESSION_MODE, session_tag=cfg.fabric_session_tag)
    return LivyClient(backend, timeout=cfg.LIVY_REQUESTS_TIMEOUT)
