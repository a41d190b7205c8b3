"""App config of sign-in: Entra ID (django-azure-auth) beside local accounts, and roles."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Sign-in and roles"

    def ready(self) -> None:
        from accounts import signals  # noqa: F401  (connects the sign-in audit log receivers)
