"""Configuration read from the environment (and a ``.env`` file) and validated.

Every setting the app understands is a field of :class:`AppConfig`, named exactly as the
environment variable. Values are validated by pydantic-settings; a value that does not
validate never stops the process with a traceback: :func:`load_config` falls back to the
field's default and reports a :class:`ConfigProblem`, which ``livy/checks.py`` turns into a
Django system check error naming the variable (``python manage.py check`` prints it and
``runserver`` refuses to start).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BeforeValidator, Field, PositiveFloat, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


def _json_object(value: Any) -> Any:
    """Parse a JSON object given as text; pass dicts through (defaults, tests)."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return {}
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not valid JSON ({exc.msg} at character {exc.pos})") from None
    if not isinstance(value, dict):
        raise ValueError(f"must be a JSON object ({{...}}), got {type(value).__name__}")
    return value


def _comma_list(value: Any) -> Any:
    """Split ``"a, b,,c"`` into ``["a", "b", "c"]``; pass lists through."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _bool_text(value: Any) -> Any:
    """Accept the usual spellings of a boolean (1/0, true/false, yes/no, on/off)."""
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in {"1", "true", "yes", "on"}:
            return True
        if lowered in {"0", "false", "no", "off", ""}:
            return False
        raise ValueError("must be true or false")
    return value


JsonObject = Annotated[dict[str, Any], NoDecode, BeforeValidator(_json_object)]
CommaList = Annotated[list[str], NoDecode, BeforeValidator(_comma_list)]
Flag = Annotated[bool, BeforeValidator(_bool_text)]


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    try:
        port = parts.port  # None when there is none
    except ValueError:  # not a number, or above 65535
        port = 0
    if port == 0:
        raise ValueError("the port must be a number from 1 to 65535")
    return value.rstrip("/")


#: DATABASE_URL schemes the pinned drivers serve (dj-database-url's names): psycopg, sqlite3.
DATABASE_SCHEMES = ("postgres", "postgresql", "pgsql", "sqlite")
_SQLITE_ENGINE = "django.db.backends.sqlite3"


def _database_url(value: str) -> str:
    """A URL dj-database-url parses into a PostgreSQL (or SQLite) database. The messages never
    repeat the URL: it may hold a password."""
    value = value.strip()
    if not value:
        return ""
    scheme = value.split("://", 1)[0].lower() if "://" in value else ""
    if scheme not in DATABASE_SCHEMES:
        raise ValueError("must be a postgres://user:password@host:port/name URL (or sqlite:///path)")
    import dj_database_url  # only needed when the variable is set

    try:
        parsed = dj_database_url.parse(value)
    except ValueError:
        raise ValueError("cannot be parsed: check the port and that special characters in the password "
                         "are percent-encoded (@ as %40)") from None
    if not parsed.get("NAME"):
        raise ValueError("names no database (the URL must end with /<database name>)")
    return value


class AppConfig(BaseSettings):
    """All settings, one field per environment variable (same name, case-sensitive).

    Field descriptions double as the one-line help in ``.env.example`` and the hints of the
    system checks. Durations are in seconds.
    """

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", env_file=None)

    # --- Django -------------------------------------------------------------------------
    DJANGO_SECRET: str = Field(
        "",
        repr=False,
        description="Django SECRET_KEY: a long random string. Required when DEBUG is false.",
        examples=["change-me-to-50-random-characters"],
    )
    DEBUG: Flag = Field(True, description="Django debug mode: true for development only.")
    ALLOWED_HOSTS: CommaList = Field(
        ["localhost", "127.0.0.1", "[::1]"],
        description="Comma-separated host names this server answers to.",
        examples=["localhost,127.0.0.1"],
    )
    CSRF_TRUSTED_ORIGINS: CommaList = Field(
        [],
        description="Comma-separated origins (scheme://host[:port]) trusted for POSTs behind a proxy.",
        examples=["https://spark.example.com"],
    )
    DATABASE_PATH: str = Field(
        "db.sqlite3",
        description="Path of the SQLite database file, relative to the project folder.",
    )
    DATABASE_URL: str = Field(
        "",
        repr=False,
        description="PostgreSQL database as a URL (postgres://user:password@host:port/name); "
        "empty = the SQLite file DATABASE_PATH.",
        examples=["postgres://livy:password@db.example.com:5432/livy"],
    )
    DATABASE_CONN_MAX_AGE: int = Field(
        60,
        ge=0,
        description="PostgreSQL: seconds a database connection is kept for the next requests (0 = one per request).",
    )
    TIME_ZONE: str = Field("UTC", description="Time zone used to display times.")

    # --- Security (README, "Security") ------------------------------------------------------
    SECURE_SSL_REDIRECT: Flag | None = Field(
        None,
        description="Redirect plain HTTP requests to HTTPS (/healthz excepted); empty = true when DEBUG is false.",
    )
    SECURE_HSTS_SECONDS: int | None = Field(
        None,
        ge=0,
        description="Strict-Transport-Security max-age in seconds (0 = no header); empty = 31536000 (one year) "
        "when DEBUG is false.",
    )
    SECURE_HSTS_INCLUDE_SUBDOMAINS: Flag = Field(
        False, description="Add includeSubDomains to Strict-Transport-Security (only when every subdomain is HTTPS)."
    )
    SECURE_PROXY_SSL_HEADER: str = Field(
        "",
        description="Behind a TLS proxy: the request header and the value that mean the browser used HTTPS. "
        "Set it only when the proxy always sets (overwrites) that header.",
        examples=["HTTP_X_FORWARDED_PROTO,https"],
    )
    TRUSTED_PROXY_COUNT: int = Field(
        0,
        ge=0,
        description="Reverse proxies in front of the app that append the client address to X-Forwarded-For "
        "(0 = the connection's address is the client's). Used by sign-in lockouts and logs.",
    )
    AXES_FAILURE_LIMIT: int = Field(
        5, ge=1, description="Failed sign-ins, per user name and per client address, before sign-in is locked."
    )
    AXES_COOLOFF_MINUTES: PositiveFloat = Field(
        15.0, description="Minutes a locked sign-in stays locked (an attempt while locked starts the wait again)."
    )

    # --- Entra ID (django-azure-auth) ---------------------------------------------------
    TENANT_ID: str = Field("", description="Entra ID tenant id (GUID); empty = local accounts only.")
    CLIENT_ID: str = Field("", description="Application (client) id of the app registration.")
    CLIENT_SECRET: str = Field("", repr=False, description="Client secret of the app registration.")
    REDIRECT_URI: str = Field(
        "http://localhost:5000/azure_auth/callback",
        description="Redirect URI registered in Entra ID (…/azure_auth/callback).",
    )
    LOGOUT_URI: str = Field(
        "http://localhost:5000/accounts/signed-out/",
        description="Public page Entra ID sends the browser to after sign-out.",
    )
    ROLES: JsonObject = Field(
        {},
        description='JSON object: Entra group object id -> Django group name.',
        examples=['{"00000000-0000-0000-0000-000000000001": "Editors"}'],
    )
    ENTRA_AUTHORITY_HOST: str = Field(
        "https://login.microsoftonline.com",
        description="Entra ID sign-in host; the authority is <host>/<TENANT_ID> (sovereign clouds differ).",
    )
    ENTRA_SCOPES: CommaList = Field(
        ["User.Read"],
        description="Comma-separated delegated scopes asked for at sign-in (openid, profile and offline_access are added by MSAL).",
    )
    ENTRA_USERNAME_ATTRIBUTE: str = Field(
        "upn", description="ID token claim (or Graph /me field) used as the Django user name."
    )
    ENTRA_GROUP_ATTRIBUTE: str = Field(
        "roles",
        description="ID token claim holding the ids that ROLES maps: roles (app roles) or groups (security groups).",
    )
    GRAPH_USER_ENDPOINT: str = Field(
        "https://graph.microsoft.com/v1.0/me", description="Microsoft Graph endpoint for the user."
    )
    GRAPH_MEMBER_ENDPOINT: str = Field(
        "https://graph.microsoft.com/v1.0/me/transitiveMemberOf",
        description="Microsoft Graph endpoint for the user's group memberships, read on group overage "
        "(transitive, like the groups claim).",
    )

    # --- Livy -----------------------------------------------------------------------------
    LIVY_BACKEND: Literal["apache", "fabric"] = Field(
        "apache", description="Which Livy: apache (self-hosted Apache Livy) or fabric."
    )
    LIVY_BASE_ENDPOINT: str = Field(
        "http://127.0.0.1:8998",
        description="Base URL of the Livy REST API (Apache: http://host:8998).",
        examples=["http://127.0.0.1:8998"],
    )
    LIVY_REQUESTS_TIMEOUT: PositiveFloat = Field(
        30.0, description="Timeout of one HTTP request to Livy, in seconds (a positive number)."
    )
    LIVY_SESSION_NAME_PREFIX: str = Field(
        "livy-web-", description="Prefix of the names of the Livy sessions this app creates."
    )
    LIVY_SPARK_CONF: JsonObject = Field(
        {},
        description="JSON object of Spark configuration sent as the session's conf.",
        examples=['{"spark.executor.memory": "1g"}'],
    )
    LIVY_SPARK_DEPENDENCIES: CommaList = Field(
        [],
        description="Comma-separated pyFiles (URIs the Livy server can read) for new sessions.",
        examples=["hdfs:///libs/helpers.zip,local:/opt/libs/util.py"],
    )
    LIVY_SESSION_INIT_CODE: str = Field(
        "",
        description="PySpark code run as the first statement of every new session (e.g. Livy 0.8 workarounds).",
    )
    LIVY_POLL_INTERVAL: PositiveFloat = Field(
        1.0, description="How often the page asks for updates while something runs, in seconds."
    )
    LIVY_KEEPALIVE_INTERVAL: PositiveFloat = Field(
        300.0,
        description="Fabric: seconds between reset-timeout calls while the user has the page open (Fabric ends sessions idle for 20 minutes).",
    )
    LIVY_SESSION_CREATE_GRACE: float = Field(
        60.0,
        ge=0,
        description="Fabric: seconds after creating a session during which a 404 or 5xx for it is taken as 'still being set up'.",
    )
    LIVY_REFRESH_MIN_INTERVAL: float = Field(
        0.5,
        ge=0,
        description="Minimum seconds between two Livy refreshes of the same session, whatever the number of open tabs.",
    )
    LIVY_SESSION_CHECK_INTERVAL: float = Field(
        15.0,
        ge=0,
        description="While statements run, seconds between reads of their session (to notice it died or Livy restarted).",
    )
    LIVY_RUN_WAIT: float = Field(
        2.0,
        ge=0,
        le=30,
        description="Seconds a Run waits on the server for a quick result before answering (0: answer at once).",
    )
    LIVY_TABLE_ROWS: int = Field(
        100, ge=1, le=100_000, description="Rows of a table result shown in the page (the CSV download has all)."
    )
    LIVY_OUTPUT_INLINE_BYTES: int = Field(
        100_000,
        ge=1_000,
        description="Bytes of text output shown in the page; longer output is cut, with a download of the whole.",
    )

    # --- Fabric -----------------------------------------------------------------------------
    FABRIC_AUTH: Literal["delegated", "service_principal"] = Field(
        "delegated",
        description="Whose token calls Fabric: delegated (the signed-in user) or service_principal (one app identity).",
    )
    FABRIC_SCOPES: CommaList = Field(
        ["https://api.fabric.microsoft.com/.default"],
        description="Comma-separated scopes of the Fabric access token.",
    )
    FABRIC_TENANT_ID: str = Field("", description="Service principal only: its tenant (default TENANT_ID).")
    FABRIC_CLIENT_ID: str = Field("", description="Service principal only: its client id (default CLIENT_ID).")
    FABRIC_CLIENT_SECRET: str = Field(
        "", repr=False, description="Service principal only: its secret (default CLIENT_SECRET)."
    )

    # --- API (/api/v1/, the api app; README "API") --------------------------------------------
    API_ENTRA_AUDIENCES: CommaList = Field(
        [],
        description="Comma-separated audiences (aud) an Entra access token for the API may carry; "
        "empty = api://<CLIENT_ID> and <CLIENT_ID>.",
        examples=["api://0b1e3f5c-7d2a-4c6e-9f80-1a2b3c4d5e6f"],
    )
    API_JWT_LEEWAY: float = Field(
        60.0, ge=0, le=300, description="Seconds of clock skew allowed on an Entra token's exp and nbf."
    )
    API_JWKS_CACHE_SECONDS: PositiveFloat = Field(
        3600.0,
        description="Seconds the tenant's signing keys (JWKS) are kept before being read again "
        "(an unknown key id reads them at once).",
    )
    API_THROTTLE_RATE: str = Field(
        "600/min",
        pattern=r"^[1-9][0-9]*/(s|sec|second|m|min|minute|h|hour|d|day)$",
        description="Requests per token (personal or Entra) the API answers before 429: <number>/<s|min|h|day>.",
        examples=["600/min"],
    )
    API_WAIT_MAX: float = Field(
        60.0, ge=0, le=600,
        description="Most seconds a ?wait= on the API holds one request for a statement to finish.",
    )
    API_TOKEN_MAX_DAYS: int = Field(
        365, ge=1, le=3650, description="Longest life of a personal access token, in days."
    )

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, **sources):  # type: ignore[override]
        """Read only the mapping given to :func:`load_config` (which loads os.environ and .env),
        so that one invalid variable can be dropped and the rest still validated."""
        return (init_settings,)

    @field_validator("LIVY_BASE_ENDPOINT", "ENTRA_AUTHORITY_HOST", "GRAPH_USER_ENDPOINT", "GRAPH_MEMBER_ENDPOINT")
    @classmethod
    def _urls(cls, value: str) -> str:
        return _http_url(value)

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: str) -> str:
        return _database_url(value)

    @field_validator("SECURE_PROXY_SSL_HEADER")
    @classmethod
    def _proxy_ssl_header(cls, value: str) -> str:
        """``HTTP_X_FORWARDED_PROTO,https`` (``X-Forwarded-Proto,https`` is accepted and normalised)."""
        name, comma, expected = value.strip().partition(",")
        if not value.strip():
            return ""
        name = name.strip().upper().replace("-", "_")
        if not name.startswith("HTTP_"):
            name = f"HTTP_{name}"
        if not comma or not expected.strip() or "," in expected or not re.fullmatch(r"HTTP_[A-Z0-9_]+", name):
            raise ValueError("must be the header name and its value, e.g. HTTP_X_FORWARDED_PROTO,https")
        return f"{name},{expected.strip()}"

    @property
    def ssl_redirect(self) -> bool:
        """``SECURE_SSL_REDIRECT``, or true when DEBUG is false and it is not set."""
        return (not self.DEBUG) if self.SECURE_SSL_REDIRECT is None else self.SECURE_SSL_REDIRECT

    @property
    def hsts_seconds(self) -> int:
        """``SECURE_HSTS_SECONDS``, or one year when DEBUG is false and it is not set."""
        if self.SECURE_HSTS_SECONDS is None:
            return 0 if self.DEBUG else 31_536_000
        return self.SECURE_HSTS_SECONDS

    @property
    def proxy_ssl_header(self) -> tuple[str, str] | None:
        """Django's ``SECURE_PROXY_SSL_HEADER`` tuple, or None."""
        if not self.SECURE_PROXY_SSL_HEADER:
            return None
        name, _, expected = self.SECURE_PROXY_SSL_HEADER.partition(",")
        return name, expected

    @field_validator("ROLES")
    @classmethod
    def _roles(cls, value: dict[str, Any]) -> dict[str, Any]:
        for group_id, names in value.items():
            listed = names if isinstance(names, list) else [names]
            if not listed or not all(isinstance(n, str) and n.strip() for n in listed):
                raise ValueError(
                    f"the value for {group_id!r} must be a Django group name or a list of names"
                )
        return value

    @property
    def entra_authority(self) -> str:
        """``<ENTRA_AUTHORITY_HOST>/<TENANT_ID>``, e.g. https://login.microsoftonline.com/<tenant>."""
        return f"{self.ENTRA_AUTHORITY_HOST}/{self.TENANT_ID}"

    @property
    def entra_enabled(self) -> bool:
        """True when TENANT_ID and CLIENT_ID are both set (Entra ID sign-in offered)."""
        return bool(self.TENANT_ID and self.CLIENT_ID)


_SECRET_FIELDS = {"DJANGO_SECRET", "CLIENT_SECRET", "FABRIC_CLIENT_SECRET", "DATABASE_URL"}
#: URL-valued fields: their user info (``user:password@``) is never repeated in a message.
_URL_FIELDS = {"LIVY_BASE_ENDPOINT", "ENTRA_AUTHORITY_HOST", "GRAPH_USER_ENDPOINT", "GRAPH_MEMBER_ENDPOINT",
               "REDIRECT_URI", "LOGOUT_URI"}
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)?[^/?#]*@")


def redact_url(url: str) -> str:
    """``url`` with any user info (``user:password@``) replaced by ``***@``, the rest kept, for
    messages that must show the path (a Fabric endpoint's ids) but never a credential."""
    return _USERINFO.sub(r"\1***@", url, count=1)


@dataclass(frozen=True)
class ConfigProblem:
    """One invalid environment variable: its name, what is wrong, and the expected form."""

    variable: str
    message: str
    hint: str


def _hint(name: str) -> str:
    field = AppConfig.model_fields[name]
    hint = field.description or ""
    if field.examples:
        hint += f" Example: {name}={field.examples[0]}"
    return hint.strip()


def load_config(environ: Mapping[str, str]) -> tuple[AppConfig, list[ConfigProblem]]:
    """Validate the variables in ``environ`` into an :class:`AppConfig`.

    Returns the config and a list of problems. Each invalid variable falls back to its
    default and yields one :class:`ConfigProblem`, so a bad value is reported by the system
    checks instead of crashing settings import. Empty values count as unset.
    """
    known = AppConfig.model_fields
    values = {k: v for k, v in environ.items() if k in known and v.strip() != ""}
    problems: list[ConfigProblem] = []
    try:
        return AppConfig.model_validate(values), problems
    except ValidationError as exc:
        bad: set[str] = set()
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "?"
            bad.add(name)
            message = err["msg"].removeprefix("Value error, ")
            shown = "***" if name in _SECRET_FIELDS else values.get(name, "")
            if name in _URL_FIELDS:
                shown = redact_url(shown)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            problems.append(
                ConfigProblem(name, f"{name}={shown!r} is invalid: {message}.", _hint(name))
            )
        kept = {k: v for k, v in values.items() if k not in bad}
        return AppConfig.model_validate(kept), problems


def database_settings(cfg: AppConfig, base_dir: Path) -> dict[str, Any]:
    """Django's ``DATABASES["default"]``: ``DATABASE_URL`` when set, else the SQLite file
    ``DATABASE_PATH`` (relative to ``base_dir``).

    PostgreSQL connections are kept ``DATABASE_CONN_MAX_AGE`` seconds and checked before
    reuse, and a connection attempt gives up after 10 s (unless the URL sets
    ``?connect_timeout=``). SQLite waits up to 20 s for a lock instead of failing with
    "database is locked", and takes the write lock when a transaction begins (``IMMEDIATE``),
    since several requests may write at once (polls, runs).
    """
    name: Any = base_dir / cfg.DATABASE_PATH
    if cfg.DATABASE_URL:
        import dj_database_url

        parsed: dict[str, Any] = dict(dj_database_url.parse(cfg.DATABASE_URL))
        if parsed["ENGINE"] != _SQLITE_ENGINE:
            parsed["CONN_MAX_AGE"] = cfg.DATABASE_CONN_MAX_AGE
            parsed["CONN_HEALTH_CHECKS"] = True
            parsed["OPTIONS"] = {"connect_timeout": 10, **parsed.get("OPTIONS", {})}
            return parsed
        name = parsed["NAME"] if parsed["NAME"] == ":memory:" else base_dir / parsed["NAME"]
    return {
        "ENGINE": _SQLITE_ENGINE,
        "NAME": name,
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE"},
    }


def azure_auth_settings(cfg: AppConfig) -> dict[str, Any]:
    """django-azure-auth's ``AZURE_AUTH`` dict from the config (authority
    ``<ENTRA_AUTHORITY_HOST>/<TENANT_ID>``, the user mapping in ``accounts.entra``)."""
    return {
        "CLIENT_ID": cfg.CLIENT_ID,
        "CLIENT_SECRET": cfg.CLIENT_SECRET,
        "CLIENT_TYPE": "confidential_client",
        "REDIRECT_URI": cfg.REDIRECT_URI,
        "SCOPES": list(cfg.ENTRA_SCOPES),
        "AUTHORITY": cfg.entra_authority,
        "LOGOUT_URI": cfg.LOGOUT_URI,
        "USERNAME_ATTRIBUTE": cfg.ENTRA_USERNAME_ATTRIBUTE,
        "GROUP_ATTRIBUTE": cfg.ENTRA_GROUP_ATTRIBUTE,
        "ROLES": dict(cfg.ROLES),
        "GRAPH_USER_ENDPOINT": cfg.GRAPH_USER_ENDPOINT,
        "GRAPH_MEMBER_ENDPOINT": cfg.GRAPH_MEMBER_ENDPOINT,
        "USER_MAPPING_FN": "accounts.entra.map_user_attributes",
    }


def content_security_policy(cfg: AppConfig) -> dict[str, Any]:
    """django-csp's ``CONTENT_SECURITY_POLICY``: only the app's own scripts, styles, images
    (plus ``data:`` images: plots) and requests; no framing, plugins or ``<base>``.

    ``style-src`` allows inline styles, which the CodeMirror editor injects. ``form-action``
    also names the Entra ID sign-in host when Entra is configured: the sign-out form's POST is
    redirected to its logout endpoint, and browsers apply ``form-action`` to redirects.
    """
    self_, none = "'self'", "'none'"
    form_action = [self_]
    if cfg.entra_enabled:
        host = urlsplit(cfg.ENTRA_AUTHORITY_HOST)
        form_action.append(f"{host.scheme}://{host.netloc}")
    return {
        "DIRECTIVES": {
            "default-src": [self_],
            "script-src": [self_],
            "style-src": [self_, "'unsafe-inline'"],
            "img-src": [self_, "data:"],
            "connect-src": [self_],
            "font-src": [self_],
            "object-src": [none],
            "base-uri": [none],
            "frame-ancestors": [none],
            "form-action": form_action,
        }
    }
