"""Template context shared by every page."""

from django.conf import settings


def livy(request):
    """``livy_backend``, ``livy_endpoint``, ``entra_enabled`` and ``poll_interval`` (seconds)."""
    cfg = settings.CONFIG
    return {
        "livy_backend": cfg.LIVY_BACKEND,
        "livy_endpoint": cfg.LIVY_BASE_ENDPOINT,
        "entra_enabled": cfg.entra_enabled,
        "poll_interval": cfg.LIVY_POLL_INTERVAL,
    }
