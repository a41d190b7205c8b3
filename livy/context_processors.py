"""Template context shared by every page."""

from typing import Any

from django.http import HttpRequest

from livy.remote.backends import BACKEND_CLASSES, display_endpoint
from myapp.config import current_config


def livy(request: HttpRequest) -> dict[str, Any]:
    """``livy_backend``, ``livy_endpoint`` (scheme, host and port only: no credentials),
    ``entra_enabled``, ``poll_interval`` (seconds) and
    ``keepalive_interval`` (seconds; None when the backend has no idle timer to reset)."""
    cfg = current_config()
    backend = BACKEND_CLASSES.get(cfg.LIVY_BACKEND)
    return {
        "livy_backend": cfg.LIVY_BACKEND,
        "livy_endpoint": display_endpoint(cfg.LIVY_BASE_ENDPOINT),
        "entra_enabled": cfg.entra_enabled,
        "poll_interval": cfg.LIVY_POLL_INTERVAL,
        "keepalive_interval": cfg.LIVY_KEEPALIVE_INTERVAL if backend and backend.supports_reset_timeout else None,
    }
