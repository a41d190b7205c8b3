"""Django system checks for the configuration (``python manage.py check``).

Each invalid environment variable is an error naming the variable and showing the
expected form; ``runserver`` and ``migrate`` refuse to go on while one is left. (An invalid
security setting never gets this far: ``myapp.config.refuse_unsafe`` stops the process while
the settings are imported.)

IDs: ``livy.E001`` invalid value, ``livy.E002`` DJANGO_SECRET missing with DEBUG off,
``livy.E006`` not a Fabric endpoint, ``livy.E007``/``livy.E008`` Fabric credentials missing, ``livy.E004`` incomplete Entra ID
settings, ``livy.E005`` CLIENT_SECRET missing for Entra ID, ``livy.E009`` FABRIC_SESSION_MODE=high_concurrency without Fabric, ``livy.W001`` DJANGO_SECRET missing in development,
``livy.W002`` a TLS proxy in front (SECURE_PROXY_SSL_HEADER) but TRUSTED_PROXY_COUNT=0 in production.
"""

import re

from django.conf import settings
from django.core.checks import Error, Warning, register

from myapp.config import redact_url

#: What a Fabric Livy endpoint looks like (Fabric Livy API docs; the swagger writes livyApi).
FABRIC_ENDPOINT = re.compile(
    r"^https://api\.fabric\.microsoft\.com/v1/workspaces/[0-9a-f-]{36}/lakehouses/[0-9a-f-]{36}"
    r"/livyapi/versions/[0-9A-Za-z.-]+$",
    re.IGNORECASE,
)
FABRIC_EXAMPLE = (
    "https://api.fabric.microsoft.com/v1/workspaces/<workspace id>/lakehouses/<lakehouse id>"
    "/livyapi/versions/2023-12-01"
)


@register()
def configuration_check(app_configs, **kwargs):
    """Report :data:`settings.CONFIG_PROBLEMS` and inconsistent combinations of settings."""
    found = []
    for problem in settings.CONFIG_PROBLEMS:
        found.append(Error(problem.message, hint=problem.hint, id="livy.E001", obj=problem.variable))
    cfg = settings.CONFIG
    if not cfg.DJANGO_SECRET.get_secret_value():
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
    if cfg.LIVY_BACKEND == "fabric":
        found.extend(_fabric_checks(cfg))
    elif cfg.FABRIC_SESSION_MODE != "standard":
        found.append(
            Error(
                f"FABRIC_SESSION_MODE={cfg.FABRIC_SESSION_MODE} needs LIVY_BACKEND=fabric (it is {cfg.LIVY_BACKEND}).",
                hint="High-concurrency sessions are Fabric's: set LIVY_BACKEND=fabric, or FABRIC_SESSION_MODE=standard.",
                id="livy.E009",
                obj="FABRIC_SESSION_MODE",
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
    if not cfg.DEBUG and cfg.SECURE_PROXY_SSL_HEADER and cfg.TRUSTED_PROXY_COUNT == 0:
        found.append(
            Warning(
                "SECURE_PROXY_SSL_HEADER is set (a proxy is in front) but TRUSTED_PROXY_COUNT is 0: every "
                "client gets the proxy's address, so AXES_FAILURE_LIMIT wrong passwords from anyone lock "
                "password sign-in for everyone, and logs show the proxy's address.",
                hint="Set TRUSTED_PROXY_COUNT to the number of proxies that append the client address to "
                "X-Forwarded-For (usually 1).",
                id="livy.W002",
                obj="TRUSTED_PROXY_COUNT",
            )
        )
    if cfg.entra_enabled and not cfg.CLIENT_SECRET.get_secret_value():
        found.append(
            Error(
                "CLIENT_SECRET is not set while Entra ID sign-in is configured.",
                hint="Create a client secret for the app registration (Certificates & secrets) and set CLIENT_SECRET.",
                id="livy.E005",
                obj="CLIENT_SECRET",
            )
        )
    return found


def _fabric_checks(cfg):
    found = []
    if not FABRIC_ENDPOINT.match(cfg.LIVY_BASE_ENDPOINT):
        found.append(
            Error(
                f"LIVY_BASE_ENDPOINT={redact_url(cfg.LIVY_BASE_ENDPOINT)!r} does not look like a Fabric Livy endpoint.",
                hint=f"With LIVY_BACKEND=fabric use {FABRIC_EXAMPLE} (the ids are GUIDs from the lakehouse URL).",
                id="livy.E006",
                obj="LIVY_BASE_ENDPOINT",
            )
        )
    if cfg.FABRIC_AUTH == "delegated" and not cfg.entra_enabled:
        found.append(
            Error(
                "LIVY_BACKEND=fabric with FABRIC_AUTH=delegated needs Entra ID sign-in, but TENANT_ID and CLIENT_ID are not set.",
                hint="Set TENANT_ID, CLIENT_ID and CLIENT_SECRET (users' tokens call Fabric), or FABRIC_AUTH=service_principal.",
                id="livy.E007",
                obj="FABRIC_AUTH",
            )
        )
    if cfg.FABRIC_AUTH == "service_principal":
        for name, fallback in (("FABRIC_TENANT_ID", "TENANT_ID"), ("FABRIC_CLIENT_ID", "CLIENT_ID"),
                               ("FABRIC_CLIENT_SECRET", "CLIENT_SECRET")):
            if not (getattr(cfg, name) or getattr(cfg, fallback)):
                found.append(
                    Error(
                        f"{name} (or {fallback}) is not set, and FABRIC_AUTH=service_principal needs it.",
                        hint="Set the service principal's tenant, client id and secret.",
                        id="livy.E008",
                        obj=name,
                    )
                )
    return found
