"""Configuration read from the environment (and a ``.env`` file) and validated.

Every setting the app understands is a field of :class:`AppConfig`, named exactly as the
environment variable. Values are validated by pydantic-settings. :func:`load_config` never
raises: each invalid value falls back to the field's default and is reported as a
:class:`ConfigProblem`. What happens next depends on the variable:

* a security setting (:data:`SECURITY_FIELDS`: DEBUG, ALLOWED_HOSTS, CSRF_TRUSTED_ORIGINS,
  SECURE_*, the secrets) fails safe: :func:`refuse_unsafe`, called by ``myapp/settings.py``,
  raises :class:`UnsafeConfiguration`, so no server (gunicorn, ASGI, manage.py) starts;
* any other is a Django system check error naming the variable (``livy/checks.py``:
  ``python manage.py check`` prints it and ``runserver`` refuses to start).

:func:`current_config` is the accessor the rest of the code uses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured
from pydantic import BeforeValidator, Field, PositiveFloat, SecretStr, ValidationError, field_validator
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


class Secret(SecretStr):
    """A secret setting: pydantic's ``SecretStr`` (``Secret('**********')`` in every repr, dump
    and JSON; ``.get_secret_value()`` reads it). It also compares equal to the same text, so
    ``cfg.DATABASE_URL == ""`` reads "not set" without unwrapping the value."""

    def __eq__(self, other: object) -> bool:
        if isinstance(other, str):
            return self.get_secret_value() == other
        return super().__eq__(other)

    __hash__ = SecretStr.__hash__


def _absolute_http_url(value: str) -> str:
    """An absolute http(s) URL with a host, kept exactly as given (Entra compares redirect URIs
    character by character)."""
    _http_url(value)
    return value


_HOST = re.compile(r"^(\*|\.?[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*\.?"
                   r"|\[[0-9A-Fa-f:.]+\])$")


def _allowed_hosts(value: list[str]) -> list[str]:
    """Host names as Django's ``ALLOWED_HOSTS`` matches them: ``spark.example.com``, ``.example.com``
    (and subdomains), an IPv4 address, ``[::1]``, ``*``. A scheme, port or path never matches a
    request, so it is refused rather than silently answered with 400 to every request."""
    for host in value:
        if not _HOST.match(host):
            raise ValueError(f"{host!r} is not a host name: give names without scheme, port or path, "
                             "e.g. spark.example.com,localhost")
    return value


def _origins(value: list[str]) -> list[str]:
    """Origins as Django's ``CSRF_TRUSTED_ORIGINS`` wants them: ``scheme://host[:port]``, no path
    (``*.`` allowed at the start of the host, as Django allows)."""
    for origin in value:
        parts = urlsplit(origin)
        host = (parts.hostname or "").removeprefix("*.")
        try:
            parts.port  # noqa: B018 - raises for a bad port
        except ValueError:
            host = ""
        if parts.scheme not in {"http", "https"} or not host or parts.path not in {"", "/"} or parts.query:
            raise ValueError(f"{origin!r} is not an origin: give scheme://host[:port], e.g. https://spark.example.com")
    return [origin.rstrip("/") for origin in value]


class AppConfig(BaseSettings):
    """All settings, one field per environment variable (same name, case-sensitive).

    Each field's description is its documentation: ``manage.py config_docs --write``
    generates ``.env.example`` and the README's configuration table from them, and the
    system checks show them as hints. Durations are in seconds. Secrets are
    :class:`Secret` (pydantic ``SecretStr``): ``.get_secret_value()`` reads one, and no
    repr, page, log or check message shows it.
    """

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", env_file=None)

    # --- Django -------------------------------------------------------------------------
    DJANGO_SECRET: Secret = Field(
        Secret(""),
        description="Django SECRET_KEY: a long random string (50 characters or more, e.g. the output of "
        "python -c 'import secrets; print(secrets.token_urlsafe(50))'). Required when DEBUG is false; empty in "
        "development = a random key per process (sign-ins end when the server restarts).",
    )
    DEBUG: Flag = Field(True, description="Django debug mode: true for development on this machine only.")
    ALLOWED_HOSTS: CommaList = Field(
        ["localhost", "127.0.0.1", "[::1]"],
        description="Comma-separated host names this server answers to (no scheme, port or path; "
        ".example.com = the domain and its subdomains).",
        examples=["spark.example.com,localhost"],
    )
    CSRF_TRUSTED_ORIGINS: CommaList = Field(
        [],
        description="Comma-separated origins (scheme://host[:port]) trusted for POSTs behind a TLS proxy.",
        examples=["https://spark.example.com"],
    )
    DATABASE_PATH: str = Field(
        "db.sqlite3",
        description="Path of the SQLite database file, relative to the project folder.",
    )
    DATABASE_URL: Secret = Field(
        Secret(""),
        description="PostgreSQL instead of SQLite: postgres://user:password@host:port/name (percent-encode "
        "special characters of the password, @ as %40); empty = the SQLite file DATABASE_PATH.",
        examples=["postgres://livy:password@db.example.com:5432/livy"],
    )
    DATABASE_CONN_MAX_AGE: int = Field(
        60,
        ge=0,
        description="PostgreSQL: seconds a database connection is kept for the next requests (checked before "
        "reuse); 0 = one per request.",
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
        "when DEBUG is false, else 0.",
    )
    SECURE_HSTS_INCLUDE_SUBDOMAINS: Flag = Field(
        False, description="Add includeSubDomains to Strict-Transport-Security (only when every subdomain serves HTTPS)."
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
    TENANT_ID: str = Field(
        "", description="Directory (tenant) id of the Entra ID tenant; empty (with CLIENT_ID) = local accounts only."
    )
    CLIENT_ID: str = Field("", description="Application (client) id of the app registration.")
    CLIENT_SECRET: Secret = Field(
        Secret(""), description="A client secret of the app registration (Certificates & secrets)."
    )
    REDIRECT_URI: str = Field(
        "http://localhost:5000/azure_auth/callback",
        description="Redirect URI registered in Entra ID (Web platform), an absolute http(s) URL ending in "
        "/azure_auth/callback.",
    )
    LOGOUT_URI: str = Field(
        "http://localhost:5000/accounts/signed-out/",
        description="Public page (absolute http(s) URL) Entra ID sends the browser to after sign-out.",
    )
    ROLES: JsonObject = Field(
        {},
        description="JSON object: Entra group object id (or app role value) -> Django group name or list of names.",
        examples=['{"00000000-0000-0000-0000-000000000001": "Editors"}'],
    )
    ENTRA_GROUP_ATTRIBUTE: str = Field(
        "roles",
        description="ID token claim holding the ids that ROLES maps: roles (app roles) or groups (security groups).",
    )
    ENTRA_USERNAME_ATTRIBUTE: str = Field(
        "upn", description="ID token claim (or Graph /me field) used as the Django user name."
    )
    ENTRA_SCOPES: CommaList = Field(
        ["User.Read"],
        description="Comma-separated delegated scopes asked for at sign-in (MSAL adds openid, profile and "
        "offline_access).",
    )
    ENTRA_AUTHORITY_HOST: str = Field(
        "https://login.microsoftonline.com",
        description="Entra ID sign-in host; the authority is <host>/<TENANT_ID> (sovereign clouds differ).",
    )
    GRAPH_USER_ENDPOINT: str = Field(
        "https://graph.microsoft.com/v1.0/me", description="Microsoft Graph endpoint for the signed-in user."
    )
    GRAPH_MEMBER_ENDPOINT: str = Field(
        "https://graph.microsoft.com/v1.0/me/transitiveMemberOf",
        description="Microsoft Graph endpoint for the user's group memberships, read on group overage "
        "(transitive, like the groups claim).",
    )

    # --- Livy -----------------------------------------------------------------------------
    LIVY_BACKEND: Literal["apache", "fabric"] = Field(
        "apache", description="Which Livy: apache (self-hosted Apache Livy) or fabric (Microsoft Fabric's Livy API)."
    )
    LIVY_BASE_ENDPOINT: str = Field(
        "http://127.0.0.1:8998",
        description="Base URL of the Livy REST API (Apache: http://host:8998; Fabric: the lakehouse's Livy "
        "endpoint, https://api.fabric.microsoft.com/v1/workspaces/<workspace id>/lakehouses/<lakehouse id>"
        "/livyapi/versions/2023-12-01).",
        examples=["http://127.0.0.1:8998"],
    )
    LIVY_REQUESTS_TIMEOUT: PositiveFloat = Field(
        30.0, description="Timeout of one HTTP request to Livy, in seconds (a positive number)."
    )
    LIVY_SESSION_NAME_PREFIX: str = Field(
        "livy-web-", description="Prefix of the names of the Livy sessions this app creates (a UTC timestamp follows)."
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
        description="PySpark code run as the first statement of every new session (e.g. the Livy 0.8 "
        "java_import workaround of LIVY-863).",
    )
    LIVY_POLL_INTERVAL: PositiveFloat = Field(
        1.0, description="Seconds between page updates while something runs."
    )
    LIVY_REFRESH_MIN_INTERVAL: float = Field(
        0.5,
        ge=0,
        description="Minimum seconds between two Livy reads of the same session, whatever the number of open tabs.",
    )
    LIVY_SESSION_CHECK_INTERVAL: float = Field(
        15.0,
        ge=0,
        description="Fabric: while statements run, seconds between reads of their session (to notice it died). "
        "Apache Livy needs none: a statement read of an ended session answers 400 or 404.",
    )
    LIVY_RUN_WAIT: float = Field(
        2.0,
        ge=0,
        le=30,
        description="Seconds a Run waits on the server for a quick result before answering (0: answer at once).",
    )
    LIVY_TABLE_ROWS: int = Field(
        100, ge=1, le=100_000, description="Rows of a table result shown in the page (the CSV download has every row)."
    )
    LIVY_OUTPUT_INLINE_BYTES: int = Field(
        100_000,
        ge=1_000,
        description="Bytes of text output shown in the page; longer output is cut, with a download of the whole.",
    )
    LIVY_KEEPALIVE_INTERVAL: PositiveFloat = Field(
        300.0,
        description="Fabric: seconds between reset-timeout calls while the user is active (Fabric ends sessions "
        "idle for 20 minutes).",
    )
    LIVY_SESSION_CREATE_GRACE: float = Field(
        60.0,
        ge=0,
        description="Fabric: seconds after creating a session during which a 404 or 5xx for it means "
        "'still being set up'.",
    )

    # --- Fabric -----------------------------------------------------------------------------
    FABRIC_AUTH: Literal["delegated", "service_principal"] = Field(
        "delegated",
        description="Whose token calls Fabric: delegated (the signed-in user's; needs Entra ID sign-in) or "
        "service_principal (one app identity).",
    )
    FABRIC_SCOPES: CommaList = Field(
        ["https://api.fabric.microsoft.com/.default"],
        description="Comma-separated scopes of the Fabric access token.",
    )
    FABRIC_SESSION_MODE: Literal["standard", "high_concurrency"] = Field(
        "standard",
        description="Fabric: standard (one Livy session, i.e. one Spark application, per user) or high_concurrency "
        "(each user's console acquires its own REPL in a Livy session Fabric shares, up to 5 REPLs per Spark "
        "application; variables stay isolated per REPL).",
    )
    FABRIC_SESSION_TAG: str = Field(
        "",
        max_length=200,
        description="Fabric high_concurrency: the sessionTag sent with each acquire, Fabric's hint to pack REPLs "
        "with the same tag into one Livy session (empty: LIVY_SESSION_NAME_PREFIX without its trailing dash).",
        examples=["livy-web-finance"],
    )
    FABRIC_TENANT_ID: str = Field("", description="Service principal only: its tenant id (empty: TENANT_ID).")
    FABRIC_CLIENT_ID: str = Field("", description="Service principal only: its client id (empty: CLIENT_ID).")
    FABRIC_CLIENT_SECRET: Secret = Field(
        Secret(""), description="Service principal only: its client secret (empty: CLIENT_SECRET)."
    )

    # --- Spark jobs (Livy batches; README, "Spark jobs") --------------------------------------
    LIVY_BATCH_UPLOAD_DIR: str = Field(
        ".livy/batch-uploads",
        description="Apache Livy: folder where job files uploaded on the Jobs page are stored (content-addressed), "
        "relative to the project folder; the Livy server must read it and list it in livy.file.local-dir-whitelist "
        "(scripts/livy/livy.sh does for the local Livy).",
        examples=["/srv/livy-web/batch-uploads"],
    )
    LIVY_BATCH_MAX_UPLOAD_BYTES: int = Field(
        100 * 1024 * 1024,
        ge=1,
        description="Largest file accepted by a Jobs page upload, in bytes.",
        examples=["104857600"],
    )
    LIVY_BATCH_UPLOAD_RETENTION_DAYS: int = Field(
        7,
        ge=1,
        le=3650,
        description="Days a job file uploaded on the Jobs page is kept after the last job using it ended; "
        "manage.py maintenance then deletes it (a Resubmit asks for it again).",
        examples=["7"],
    )
    LIVY_BATCH_LOCAL_DIRS: CommaList = Field(
        [],
        description="Apache Livy: comma-separated absolute folders on the Livy server in which users may give local "
        "paths for job files (besides LIVY_BATCH_UPLOAD_DIR); they must be in livy.file.local-dir-whitelist too.",
        examples=["/data/jobs,/opt/spark-libs"],
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
    API_ENTRA_SCOPE: str = Field(
        "access_as_user",
        min_length=1, max_length=200, pattern=r"^\S+$",
        description="The scope (Expose an API) a delegated Entra access token for the API must carry in its scp "
        "claim; app-only tokens must carry an app role (roles) instead.",
    )
    API_ENTRA_FAILURE_CACHE_SECONDS: float = Field(
        5.0, ge=0, le=300,
        description="Seconds a failed read of Entra's OpenID configuration or signing keys is remembered: "
        "meanwhile API requests with Entra tokens answer 503 at once instead of calling Entra again.",
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
    NOTEBOOK_MAX_IMPORT_BYTES: int = Field(
        20 * 1024 * 1024,
        ge=1024,
        description="Largest .ipynb file (in bytes) the notebook import accepts; a larger one is refused with a "
        "message and changes nothing.",
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

    @field_validator("REDIRECT_URI", "LOGOUT_URI")
    @classmethod
    def _absolute_urls(cls, value: str) -> str:
        return _absolute_http_url(value)

    @field_validator("ALLOWED_HOSTS")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        return _allowed_hosts(value)

    @field_validator("CSRF_TRUSTED_ORIGINS")
    @classmethod
    def _trusted_origins(cls, value: list[str]) -> list[str]:
        return _origins(value)

    @field_validator("DATABASE_URL")
    @classmethod
    def _database_url(cls, value: Secret) -> Secret:
        return Secret(_database_url(value.get_secret_value()))

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> AppConfig:
        """pydantic's ``model_copy`` (which does not validate ``update``), with a secret given as
        text still wrapped as a :class:`Secret`, so no copy holds one in the clear."""
        if update:
            update = {k: Secret(v) if k in SECRET_FIELDS and isinstance(v, str) else v for k, v in update.items()}
        return super().model_copy(update=update, deep=deep)

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
    def fabric_session_tag(self) -> str:
        """``FABRIC_SESSION_TAG``, or by default the app's name: ``LIVY_SESSION_NAME_PREFIX``
        without trailing dashes/underscores (``livy-web``), so the app's REPLs pack together."""
        return self.FABRIC_SESSION_TAG or self.LIVY_SESSION_NAME_PREFIX.rstrip("-_ ") or "livy-web"

    @property
    def entra_authority(self) -> str:
        """``<ENTRA_AUTHORITY_HOST>/<TENANT_ID>``, e.g. https://login.microsoftonline.com/<tenant>."""
        return f"{self.ENTRA_AUTHORITY_HOST}/{self.TENANT_ID}"

    @property
    def entra_enabled(self) -> bool:
        """True when TENANT_ID and CLIENT_ID are both set (Entra ID sign-in offered)."""
        return bool(self.TENANT_ID and self.CLIENT_ID)


#: The secret fields: those typed :class:`Secret` (their values are never repeated in a message).
SECRET_FIELDS = frozenset(name for name, field in AppConfig.model_fields.items() if field.annotation is Secret)
#: Settings whose invalid value stops the process at start, under any server (gunicorn, an ASGI
#: server, manage.py), instead of falling back to the default: falling back would serve with a
#: security setting the operator did not choose (``DEBUG=flase`` would run with DEBUG on).
SECURITY_FIELDS = SECRET_FIELDS | {"DEBUG", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS"} | {
    name for name in AppConfig.model_fields if name.startswith("SECURE_")
}
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
            shown = "***" if name in SECRET_FIELDS else values.get(name, "")
            if name in _URL_FIELDS:
                shown = redact_url(shown)
            if len(shown) > 80:
                shown = shown[:77] + "..."
            problems.append(
                ConfigProblem(name, f"{name}={shown!r} is invalid: {message}.", _hint(name))
            )
        kept = {k: v for k, v in values.items() if k not in bad}
        return AppConfig.model_validate(kept), problems


class UnsafeConfiguration(ImproperlyConfigured):
    """A security setting is invalid (:data:`SECURITY_FIELDS`), or DJANGO_SECRET is missing
    while DEBUG is false: the process must not serve. Raised while the settings are imported,
    so gunicorn, an ASGI server and manage.py all stop before answering a request; the message
    names each variable and its expected form, never a secret's value."""


def unsafe_problems(cfg: AppConfig, problems: list[ConfigProblem]) -> list[ConfigProblem]:
    """The problems among ``problems`` that must stop the process (a security setting), plus
    a missing DJANGO_SECRET when DEBUG is false (each process, each gunicorn worker, would
    sign sessions and CSRF tokens with a random key of its own)."""
    found = [p for p in problems if p.variable in SECURITY_FIELDS]
    if not cfg.DEBUG and not cfg.DJANGO_SECRET.get_secret_value():
        found.append(ConfigProblem("DJANGO_SECRET", "DJANGO_SECRET is not set and DEBUG is false.",
                                   _hint("DJANGO_SECRET")))
    return found


def refuse_unsafe(cfg: AppConfig, problems: list[ConfigProblem]) -> None:
    """Raise :class:`UnsafeConfiguration` when :func:`unsafe_problems` finds any; the other
    problems are left to the system checks (``livy.E001``)."""
    found = unsafe_problems(cfg, problems)
    if found:
        lines = [f"  {p.message} Expected: {p.hint}" for p in found]
        raise UnsafeConfiguration(
            "the configuration is not safe to serve; fix these variables (environment or .env):\n" + "\n".join(lines)
        )


def current_config() -> AppConfig:
    """The validated :class:`AppConfig` of this process (``settings.CONFIG``): the one accessor
    of the configuration outside the settings module."""
    from django.conf import settings

    config: AppConfig = settings.CONFIG
    return config


#: Run on every new SQLite connection (see :func:`database_settings`).
SQLITE_INIT = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"


def database_settings(cfg: AppConfig, base_dir: Path) -> dict[str, Any]:
    """Django's ``DATABASES["default"]``: ``DATABASE_URL`` when set, else the SQLite file
    ``DATABASE_PATH`` (relative to ``base_dir``).

    PostgreSQL connections are kept ``DATABASE_CONN_MAX_AGE`` seconds and checked before
    reuse, and a connection attempt gives up after 10 s (unless the URL sets
    ``?connect_timeout=``). SQLite waits up to 20 s for a lock instead of failing with
    "database is locked", and takes the write lock when a transaction begins (``IMMEDIATE``),
    since several requests may write at once (polls, runs). It runs in write-ahead-log mode
    with ``synchronous=NORMAL`` (SQLite's "Write-Ahead Logging" page: readers do not block the
    writer, and a commit needs no fsync of its own, consistent after a crash; a power cut may
    lose the last commits): a default rollback-journal commit costs about 0.8 ms of fsync on
    this project's machines, and a notebook run writes several rows per cell.
    """
    name: Any = base_dir / cfg.DATABASE_PATH
    url = cfg.DATABASE_URL.get_secret_value()
    if url:
        import dj_database_url

        parsed: dict[str, Any] = dict(dj_database_url.parse(url))
        if parsed["ENGINE"] != _SQLITE_ENGINE:
            parsed["CONN_MAX_AGE"] = cfg.DATABASE_CONN_MAX_AGE
            parsed["CONN_HEALTH_CHECKS"] = True
            parsed["OPTIONS"] = {"connect_timeout": 10, **parsed.get("OPTIONS", {})}
            return parsed
        name = parsed["NAME"] if parsed["NAME"] == ":memory:" else base_dir / parsed["NAME"]
    return {
        "ENGINE": _SQLITE_ENGINE,
        "NAME": name,
        "OPTIONS": {"timeout": 20, "transaction_mode": "IMMEDIATE", "init_command": SQLITE_INIT},
    }


def azure_auth_settings(cfg: AppConfig) -> dict[str, Any]:
    """django-azure-auth's ``AZURE_AUTH`` dict from the config (authority
    ``<ENTRA_AUTHORITY_HOST>/<TENANT_ID>``, the user mapping in ``accounts.entra``)."""
    return {
        "CLIENT_ID": cfg.CLIENT_ID,
        "CLIENT_SECRET": cfg.CLIENT_SECRET.get_secret_value(),
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
