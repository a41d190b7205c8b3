from django.apps import AppConfig


class ApiConfig(AppConfig):
    """The versioned JSON API (``/api/v1/``) and personal access tokens."""

    name = "api"
    verbose_name = "API"
    default_auto_field = "django.db.models.BigAutoField"
