"""Django settings. All configuration comes from the environment, and from a ``.env`` file
in the project folder read with python-dotenv (real environment variables win).

The variables are declared and validated in :mod:`myapp.config`. An invalid security setting
(or no DJANGO_SECRET while DEBUG is false) raises :class:`myapp.config.UnsafeConfiguration`
here, so no server starts with it; other invalid values are reported by the system checks in
:mod:`livy.checks`.
"""

import os
from datetime import timedelta
from pathlib import Path

from django.core.management.utils import get_random_secret_key
from dotenv import load_dotenv

from myapp.config import (
    azure_auth_settings,
    content_security_policy,
    database_settings,
    load_config,
    refuse_unsafe,
)

BASE_DIR = Path(__file__).resolve().parent.parent

# LIVY_DOTENV=0 disables reading .env (the test settings do this to stay hermetic).
if os.environ.get("LIVY_DOTENV", "1") != "0":
    load_dotenv(BASE_DIR / ".env", override=False)

CONFIG, CONFIG_PROBLEMS = load_config(os.environ)
refuse_unsafe(CONFIG, CONFIG_PROBLEMS)

DEBUG = CONFIG.DEBUG
# Without DJANGO_SECRET a development server still runs (with a per-process key, so sessions
# do not survive a restart); with DEBUG false refuse_unsafe has stopped the process above.
SECRET_KEY = CONFIG.DJANGO_SECRET.get_secret_value() or get_random_secret_key()
ALLOWED_HOSTS = CONFIG.ALLOWED_HOSTS
CSRF_TRUSTED_ORIGINS = CONFIG.CSRF_TRUSTED_ORIGINS

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "azure_auth",
    "axes",
    "csp",
    "accounts",
    "livy",
    "ninja",  # django-ninja's templates and vendored Swagger UI assets (no CDN) for /api/v1/docs
    "api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Errors on /api/ paths as application/problem+json, never an HTML page; API answers no-store.
    "api.middleware.ApiProblemMiddleware",
    "csp.middleware.CSPMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "myapp.middleware.NoStoreWhenSignedInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # Upload limits per URL (livy/uploads.py): an over-limit Content-Length is refused unread, and
    # the upload handler that stops a body at the limit is installed, before anything reads the
    # body (the next middleware and the CSRF check read request.POST). URLs that declare no limit
    # take no files and at most DATA_UPLOAD_MAX_MEMORY_SIZE (+ 256 KB of multipart framing).
    "livy.uploads.UploadLimitMiddleware",
    "myapp.middleware.RejectUndecodableFormMiddleware",
    # An expired sign-in raised by a view (LivySignInRequired) becomes a sign-in round trip.
    "livy.middleware.LivySignInMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: turns a locked-out sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

if not DEBUG:
    # Serves static/ (the app bundles, CSS) in production; run `manage.py collectstatic` on deploy.
    # (In development, runserver serves them from STATICFILES_DIRS.)
    MIDDLEWARE.insert(1, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "myapp.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "livy.context_processors.livy",
            ],
        },
    },
]

WSGI_APPLICATION = "myapp.wsgi.application"
ASGI_APPLICATION = "myapp.asgi.application"

# PostgreSQL from DATABASE_URL (connections kept DATABASE_CONN_MAX_AGE seconds), else the
# SQLite file DATABASE_PATH (waits for locks: several requests may write at once).
DATABASES = {"default": database_settings(CONFIG, BASE_DIR)}

# Database-backed sessions: server-side, so a token cache kept in the session never
# reaches the browser (signed-cookie sessions would send it there).
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # the page's script reads the token from the page, not the cookie
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG

# HTTPS and security headers (README, "Security"). Redirect and HSTS are on by default when
# DEBUG is false; /healthz stays reachable over plain HTTP for load balancers' probes.
SECURE_SSL_REDIRECT = CONFIG.ssl_redirect
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]
SECURE_HSTS_SECONDS = CONFIG.hsts_seconds
SECURE_HSTS_INCLUDE_SUBDOMAINS = CONFIG.SECURE_HSTS_INCLUDE_SUBDOMAINS
SECURE_PROXY_SSL_HEADER = CONFIG.proxy_ssl_header
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
CONTENT_SECURITY_POLICY = content_security_policy(CONFIG)
# HSTS includeSubDomains and preload bind every host of the domain to HTTPS: the domain
# owner's decision (SECURE_HSTS_INCLUDE_SUBDOMAINS opts in), so not a deployment warning.
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Entra ID and local accounts side by side: a local superuser can always sign in to /admin.
# django-axes' backend comes first: it refuses every sign-in while its user name or client
# address is locked out.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "accounts.entra.EntraBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Sign-in throttling (django-axes): AXES_FAILURE_LIMIT failures per user name, and per client
# address, lock password sign-in for AXES_COOLOFF_MINUTES; Entra ID sign-ins are exempt
# (accounts/throttling.py).
AXES_FAILURE_LIMIT = CONFIG.AXES_FAILURE_LIMIT
AXES_COOLOFF_TIME = timedelta(minutes=CONFIG.AXES_COOLOFF_MINUTES)
AXES_LOCKOUT_PARAMETERS = "accounts.throttling.lockout_parameters"
AXES_CLIENT_IP_CALLABLE = "accounts.throttling.client_ip"
AXES_WHITELIST_CALLABLE = "accounts.throttling.is_entra_sign_in"
AXES_LOCKOUT_CALLABLE = "accounts.views.locked_out"

# django-azure-auth's settings, built from the variables users already know.
AZURE_AUTH = azure_auth_settings(CONFIG)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "livy:notebook"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = CONFIG.TIME_ZONE
# Read by livy.notebooks.service.max_import_bytes (tests override it here).
NOTEBOOK_MAX_IMPORT_BYTES = CONFIG.NOTEBOOK_MAX_IMPORT_BYTES
# Every upload is counted as it streams and stopped at the limit of its URL (livy/uploads.py;
# a URL that declares none takes no files): the first handler passes chunks on to Django's own,
# which keep a file in memory up to FILE_UPLOAD_MAX_MEMORY_SIZE (Django's 2.5 MB default) and
# in a temporary file above it.
FILE_UPLOAD_HANDLERS = [
    "livy.uploads.LimitedUploadHandler",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Compressed copies and far-future cache headers for collected files.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    # Everything reaches stderr through the root logger, in production too: server errors
    # with their traceback (django.request), sign-ins and their failures (accounts, axes).
    "root": {"handlers": ["console"], "level": "WARNING"},
    "loggers": {
        "livy": {"level": os.environ.get("LIVY_LOG_LEVEL", "INFO")},
        "accounts": {"level": "INFO"},
        # Django's own handlers print only when DEBUG is true: replaced by the root's.
        "django": {"handlers": [], "level": "INFO"},
        "django.request": {"level": "WARNING" if DEBUG else "ERROR"},
        # urllib3 logs request lines at DEBUG: keep them out even when the root level is lowered.
        "urllib3": {"level": "WARNING"},
    },
}
