"""Test settings: the app's settings, made hermetic.

``.env`` is not read (a developer's Fabric or Entra values must not leak into tests), and the
Livy endpoint is the local test server unless LIVY_TEST_ENDPOINT says otherwise.

The database is SQLite (in memory), unless DATABASE_URL is set in the environment: then the
tests run on that server, in a ``test_<name>`` database pytest-django creates and drops
(``scripts/test-postgres.sh`` does this with a throwaway PostgreSQL).
"""

import os

os.environ["LIVY_DOTENV"] = "0"
for _name in ("LIVY_BACKEND", "TENANT_ID", "CLIENT_ID", "CLIENT_SECRET", "ROLES", "LIVY_SPARK_CONF",
              "LIVY_SPARK_DEPENDENCIES", "LIVY_SESSION_INIT_CODE", "DATABASE_PATH"):
    os.environ.pop(_name, None)
os.environ["LIVY_BASE_ENDPOINT"] = os.environ.get("LIVY_TEST_ENDPOINT", "http://127.0.0.1:8998")
os.environ.setdefault("DJANGO_SECRET", "tests-only-secret-key-" + "x" * 40)
os.environ.setdefault("LIVY_REQUESTS_TIMEOUT", "30")
# Several checkouts may share one local Livy: each can give its sessions a prefix of its own.
os.environ["LIVY_SESSION_NAME_PREFIX"] = os.environ.get("LIVY_TEST_SESSION_PREFIX", "pytest-")
os.environ["LIVY_REFRESH_MIN_INTERVAL"] = "0"
# Every refresh reads the session too, as it did before reads were spaced out.
os.environ["LIVY_SESSION_CHECK_INTERVAL"] = "0"
# Playwright's sync API runs an event loop in the test thread; Django's ORM calls from that
# thread are still synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

from myapp.settings import *  # noqa: E402,F401,F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]  # fast test users
