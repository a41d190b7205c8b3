"""Django system checks for the configuration (``python manage.py check``).

Each invalid environment variable is an error naming the variable and showing the
expected form; ``runserver`` and ``migrate`` refuse to go on while one is left.

IDs: ``livy.E001`` invalid value, ``livy.E002`` DJANGO_SECRET missing with DEBUG off,
``livy.E003`` backend not served by this version, ``livy.E004`` incomplete Entra ID
settings, ``livy.E005`` CLIENT_SECRET missing for Entra ID, ``livy.W001`` DJANGO_SECRET missing in development.
"""

from django.conf import settings
from django.core.checks import Error, Warning, register

SUPPORTED_BACKENDS = ("apache",)


@register()
def configuration_check(app_configs, **kwargs):
    """Report :data:`settings.CONFIG_PROBLEMS` and inconsistent combinations of settings."""
    found = []
    for problem in settings.CONFIG_PROBLEMS:
        found.append(Error(problem.message, hint=problem.hint, id="livy.E001", obj=problem.variable))
    cfg = settings.CONFIG
    if not cfg.DJANGO_SECRET:
        if cfg.DEBUG:
            found.append(
                Warning(
                    "DJANGO_SECRET is not set: a random key is used, so sign-ins end when the server restarts.",
                    hint="Set DJANGO_SECRET in .env to a long random string, e.g. the output of "
                    "python -c \"import secrets; print(secrets.token_urlsafe(50))\".",
                    id="livy.W001",
                    obj="DJANGO_SECRET",
                )
            )
        else:
            found.append(
                Error(
                    "DJANGO_SECRET is not set and DEBUG is false.",
                    hint="Set DJANGO_SECRET to a long random string (50 characters or more).",
                    id="livy.E002",
                    obj="DJANGO_SECRET",
                )
            )
    if cfg.LIVY_BACKEND not in SUPPORTED_BACKENDS:
        found.append(
            Error(
                f"LIVY_BACKEND={cfg.LIVY_BACKEND!r} is not served by this version of the app.",
                hint="Use LIVY_BACKEND=apache with LIVY_BASE_ENDPOINT=http://host:8998.",
                id="livy.E003",
                obj="LIVY_BACKEND",
            )
        )
    if bool(cfg.TENANT_ID) != bool(cfg.CLIENT_ID):
        missing = "CLIENT_ID" if cfg.TENANT_ID else "TENANT_ID"
        found.append(
            Error(
                f"{missing} is not set while {'TENANT_ID' if missing == 'CLIENT_ID' else 'CLIENT_ID'} is.",
                hint="Set both TENANT_ID and CLIENT_ID for Entra ID sign-in, or neither for local accounts only.",
                id="livy.E004",
                obj=missing,
            )
        )
    if cfg.entra_enabled and not cfg.CLIENT_SECRET:
        found.append(
            Error(
                "CLIENT_SECRET is not set while Entra ID sign-in is configured.",
                hint="Create a client secret for the app registration (Certificates & secrets) and set CLIENT_SECRET.",
                id="livy.E005",
                obj="CLIENT_SECRET",
            )
        )
    return found
