"""Django settings. All configuration comes from the environment, and from a ``.env`` file
in the project folder read with python-dotenv (real environment variables win).

The variables are declared and validated in :mod:`myapp.config`; invalid values are reported
by the system checks in :mod:`livy.checks` rather than raising here.
"""

import os
from pathlib import Path

from django.core.management.utils import get_random_secret_key
from dotenv import load_dotenv

from myapp.config import azure_auth_settings, load_config

BASE_DIR = Path(__file__).resolve().parent.parent

# LIVY_DOTENV=0 disables reading .env (the test settings do this to stay hermetic).
if os.environ.get("LIVY_DOTENV", "1") != "0":
    load_dotenv(BASE_DIR / ".env", override=False)

CONFIG, CONFIG_PROBLEMS = load_config(os.environ)

DEBUG = CONFIG.DEBUG
# Without DJANGO_SECRET a development server still runs (with a per-process key, so sessions
# do not survive a restart); livy.checks makes it an error when DEBUG is false.
SECRET_KEY = CONFIG.DJANGO_SECRET or get_random_secret_key()
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
    "accounts",
    "livy",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if not DEBUG:
    # Serves static/ (htmx, CSS) in production; run `manage.py collectstatic` on deploy.
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

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / CONFIG.DATABASE_PATH,
        # Several requests may write at once (polls, runs): wait for the lock instead of
        # failing with "database is locked".
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
    }
}

# Database-backed sessions: server-side, so a token cache kept in the session never
# reaches the browser (signed-cookie sessions would send it there).
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = False  # htmx reads the token from the page, not the cookie
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Entra ID and local accounts side by side: a local superuser can always sign in to /admin.
AUTHENTICATION_BACKENDS = ["accounts.entra.EntraBackend", "django.contrib.auth.backends.ModelBackend"]

# django-azure-auth's settings, built from the variables users already know.
AZURE_AUTH = azure_auth_settings(CONFIG)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "livy:notebook"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = CONFIG.TIME_ZONE
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
    "loggers": {
        "livy": {"handlers": ["console"], "level": os.environ.get("LIVY_LOG_LEVEL", "INFO")},
    },
}
