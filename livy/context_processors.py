"""Template context shared by every page."""

from django.conf import settings

from livy.backends import BACKEND_CLASSES


def livy(request):
    """``livy_backend``, ``livy_endpoint``, ``entra_enabled``, ``poll_interval`` (seconds) and
    ``keepalive_interval`` (seconds; None when the backend has no idle timer to reset)."""
    cfg = settings.CONFIG
    backend = BACKEND_CLASSES.get(cfg.LIVY_BACKEND)
    return {
        "livy_backend": cfg.LIVY_BACKEND,
        "livy_endpoint": cfg.LIVY_BASE_ENDPOINT,
        "entra_enabled": cfg.entra_enabled,
        "poll_interval": cfg.LIVY_POLL_INTERVAL,
        "keepalive_interval": cfg.LIVY_KEEPALIVE_INTERVAL if backend and backend.supports_reset_timeout else None,
    }
