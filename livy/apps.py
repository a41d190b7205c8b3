"""App config: registers the configuration system checks."""

from django.apps import AppConfig


class LivyConfig(AppConfig):
    name = "livy"
    verbose_name = "Livy sessions"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from livy import checks  # noqa: F401  (registers the checks)
