"""App config of sign-in: Entra ID (django-azure-auth) beside local accounts, and roles."""

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = "Sign-in and roles"
