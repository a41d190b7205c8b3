"""Configuration errors are Django system check errors naming the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import Error, Warning

from livy.checks import configuration_check
from myapp.config import load_config

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "variable,value,expected",
    [
        ("LIVY_BACKEND", "foo", "Input should be 'apache' or 'fabric'"),
        ("LIVY_SPARK_CONF", "{bad", "not valid JSON"),
        ("LIVY_SPARK_CONF", "[1, 2]", "must be a JSON object"),
        ("ROLES", "not json", "not valid JSON"),
        ("ROLES", '"Editors"', "must be a JSON object"),
        ("LIVY_REQUESTS_TIMEOUT", "0", "greater than 0"),
        ("LIVY_REQUESTS_TIMEOUT", "soon", "valid number"),
        ("LIVY_BASE_ENDPOINT", "localhost:8998", "http:// or https:// URL"),
        ("LIVY_BASE_ENDPOINT", "ftp://livy:8998", "http:// or https:// URL"),
        ("LIVY_BASE_ENDPOINT", "http://livy:99999", "the port must be a number from 1 to 65535"),
        ("LIVY_BASE_ENDPOINT", "http://livy:0", "the port must be a number from 1 to 65535"),
        ("LIVY_BASE_ENDPOINT", "http://livy:port", "the port must be a number from 1 to 65535"),
        ("LIVY_BASE_ENDPOINT", "http://:8998", "http:// or https:// URL with a host"),
        ("DEBUG", "maybe", "must be true or false"),
    ],
)
def test_invalid_value_is_reported_with_variable_and_form(variable, value, expected):
    cfg, problems = load_config({variable: value})
    assert [p.variable for p in problems] == [variable]
    assert variable in problems[0].message and expected in problems[0].message
    assert problems[0].hint
    # The rest of the configuration still loads, with the default in place of the bad value.
    assert cfg.LIVY_BACKEND == "apache"


def test_valid_values_parse():
    cfg, problems = load_config(
        {
            "LIVY_BACKEND": "apache",
            "LIVY_BASE_ENDPOINT": "https://livy.example.com:8998/",
            "LIVY_REQUESTS_TIMEOUT": "12.5",
            "LIVY_SPARK_CONF": '{"spark.executor.memory": "2g", "spark.executor.instances": 2}',
            "LIVY_SPARK_DEPENDENCIES": "hdfs:///a.zip, local:/b.py,,",
            "ROLES": '{"0b8f0c1e-0000-0000-0000-000000000001": "Editors"}',
            "ALLOWED_HOSTS": "spark.example.com, localhost",
            "DEBUG": "false",
        }
    )
    assert problems == []
    assert cfg.LIVY_BASE_ENDPOINT == "https://livy.example.com:8998"
    assert cfg.LIVY_REQUESTS_TIMEOUT == 12.5
    assert cfg.LIVY_SPARK_CONF == {"spark.executor.memory": "2g", "spark.executor.instances": 2}
    assert cfg.LIVY_SPARK_DEPENDENCIES == ["hdfs:///a.zip", "local:/b.py"]
    assert cfg.ALLOWED_HOSTS == ["spark.example.com", "localhost"] and cfg.DEBUG is False


def test_secret_values_are_not_echoed():
    _, problems = load_config({"DJANGO_SECRET": "x", "LIVY_REQUESTS_TIMEOUT": "-1"})
    assert all("'x'" not in p.message for p in problems)


def _check_with(settings, environ):
    settings.CONFIG, settings.CONFIG_PROBLEMS = load_config(environ)
    return configuration_check(None)


def test_check_turns_problems_into_errors(settings):
    found = _check_with(settings, {"LIVY_BACKEND": "foo", "DJANGO_SECRET": "s" * 50})
    assert [(type(m), m.id, m.obj) for m in found] == [(Error, "livy.E001", "LIVY_BACKEND")]


def test_missing_secret_is_error_in_production_and_warning_in_development(settings):
    assert [m.id for m in _check_with(settings, {"DEBUG": "false"})] == ["livy.E002"]
    found = _check_with(settings, {"DEBUG": "true"})
    assert [(type(m), m.id) for m in found] == [(Warning, "livy.W001")]


PRODUCTION = {"DEBUG": "false", "DJANGO_SECRET": "s" * 50}


def test_proxy_without_trusted_proxy_count_is_a_warning_in_production(settings):
    proxied = {**PRODUCTION, "SECURE_PROXY_SSL_HEADER": "HTTP_X_FORWARDED_PROTO,https"}
    found = _check_with(settings, proxied)
    assert [(type(m), m.id, m.obj) for m in found] == [(Warning, "livy.W002", "TRUSTED_PROXY_COUNT")]
    assert "every client gets the proxy's address" in found[0].msg and "TRUSTED_PROXY_COUNT" in found[0].hint
    assert _check_with(settings, {**proxied, "TRUSTED_PROXY_COUNT": "1"}) == []
    assert _check_with(settings, PRODUCTION) == []  # no proxy: the connection's address is the client's
    assert _check_with(settings, {**proxied, "DEBUG": "true"}) == []


def test_half_configured_entra_is_an_error(settings):
    found = _check_with(settings, {"DJANGO_SECRET": "s" * 50, "TENANT_ID": "t"})
    assert [(m.id, m.obj) for m in found] == [("livy.E004", "CLIENT_ID")]


@pytest.mark.parametrize(
    "variable,value",
    [("LIVY_BACKEND", "foo"), ("LIVY_SPARK_CONF", "{bad"), ("LIVY_BASE_ENDPOINT", "http://livy:99999")],
)
def test_manage_py_check_prints_the_error_not_a_traceback(variable, value, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update({"LIVY_DOTENV": "0", "DJANGO_SECRET": "s" * 50, variable: value,
                "DATABASE_PATH": str(tmp_path / "db.sqlite3")})
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert f"{variable}: (livy.E001) {variable}=" in output
    assert "Traceback" not in output


def test_env_example_documents_every_variable_and_is_valid():
    from dotenv import dotenv_values

    from myapp.config import AppConfig

    path = ROOT / ".env.example"
    values = dotenv_values(path)
    assert set(values) == set(AppConfig.model_fields)
    text = path.read_text()
    for name in AppConfig.model_fields:
        line_before = text.split(f"\n{name}=")[0].rstrip().splitlines()[-1]
        assert line_before.startswith("#"), f"{name} has no comment line"
    _, problems = load_config({k: v or "" for k, v in values.items()})
    assert problems == []


def test_production_mode_serves_static_files_after_collectstatic(tmp_path):
    """DEBUG=false: the page's script and CSS are still served (WhiteNoise)."""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update({"LIVY_DOTENV": "0", "DJANGO_SECRET": "s" * 50, "DEBUG": "false", "SECURE_SSL_REDIRECT": "false",
                "DATABASE_PATH": str(tmp_path / "db.sqlite3")})
    script = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE']='myapp.settings'; django.setup();"
        "from django.conf import settings; settings.STATIC_ROOT = r'%s';"
        "from django.core.management import call_command; call_command('collectstatic', '--noinput', verbosity=0);"
        "from django.test import Client;"
        "r = Client(HTTP_HOST='localhost').get('/static/livy/app.min.js');"
        "print(r.status_code, b''.join(r.streaming_content)[:10] if r.streaming else r.content[:10])"
    ) % (tmp_path / "static")
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    first = (ROOT / "static/livy/app.min.js").read_bytes()[:10]
    assert result.stdout.startswith(f"200 {first!r}"), result.stdout + result.stderr


def test_secrets_are_not_in_the_config_repr():
    cfg, _ = load_config({"DJANGO_SECRET": "django-secret-value-123", "CLIENT_SECRET": "client-secret-value-456",
                          "FABRIC_CLIENT_SECRET": "fabric-secret-value-789"})
    text = repr(cfg) + str(cfg)
    assert "django-secret-value-123" not in text and "client-secret-value-456" not in text
    assert "fabric-secret-value-789" not in text


FABRIC_OK = ("https://api.fabric.microsoft.com/v1/workspaces/f8113ba8-dd81-443e-811a-b385340f3f05"
             "/lakehouses/8cee7699-2e81-4121-9a53-cc9025046193/livyapi/versions/2023-12-01")
ENTRA = {"TENANT_ID": "t", "CLIENT_ID": "c", "CLIENT_SECRET": "s", "DJANGO_SECRET": "s" * 50}


@pytest.mark.parametrize("endpoint", [
    "http://127.0.0.1:8998",
    "https://api.fabric.microsoft.com/v1/workspaces/ws/lakehouses/lh/livyapi/versions/2023-12-01",
    FABRIC_OK + "/sessions",
])
def test_fabric_endpoint_that_does_not_look_like_one(settings, endpoint):
    found = _check_with(settings, {**ENTRA, "LIVY_BACKEND": "fabric", "LIVY_BASE_ENDPOINT": endpoint})
    assert [(m.id, m.obj) for m in found] == [("livy.E006", "LIVY_BASE_ENDPOINT")]
    assert "api.fabric.microsoft.com/v1/workspaces/<workspace id>" in found[0].hint


def test_fabric_endpoint_as_the_swagger_writes_it_is_accepted(settings):
    assert _check_with(settings, {**ENTRA, "LIVY_BACKEND": "fabric",
                                  "LIVY_BASE_ENDPOINT": FABRIC_OK.replace("livyapi", "livyApi")}) == []


def test_fabric_delegated_needs_entra_sign_in(settings):
    found = _check_with(settings, {"DJANGO_SECRET": "s" * 50, "LIVY_BACKEND": "fabric", "LIVY_BASE_ENDPOINT": FABRIC_OK})
    assert [(m.id, m.obj) for m in found] == [("livy.E007", "FABRIC_AUTH")]


def test_fabric_service_principal_needs_its_credentials(settings):
    found = _check_with(settings, {"DJANGO_SECRET": "s" * 50, "LIVY_BACKEND": "fabric", "LIVY_BASE_ENDPOINT": FABRIC_OK,
                                   "FABRIC_AUTH": "service_principal", "FABRIC_TENANT_ID": "t"})
    assert sorted(m.obj for m in found) == ["FABRIC_CLIENT_ID", "FABRIC_CLIENT_SECRET"]
    assert {m.id for m in found} == {"livy.E008"}


# ------------------------------------------------------------- security settings fail safe
def _env(tmp_path, **values):
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env.update({"LIVY_DOTENV": "0", "DJANGO_SECRET": "s" * 50, "DATABASE_PATH": str(tmp_path / "db.sqlite3"),
                **values})
    return env


def test_debug_misspelt_stops_gunicorn_at_start(tmp_path):
    """`DEBUG=flase gunicorn myapp.wsgi` refuses to start (it ran with DEBUG on: gunicorn runs no
    system checks), and says which variable and what form it expects."""
    gunicorn = Path(sys.executable).with_name("gunicorn")
    result = subprocess.run(
        [str(gunicorn), "myapp.wsgi:application", "--bind", "127.0.0.1:0", "--workers", "1",
         "--no-control-socket", "--graceful-timeout", "1"],
        cwd=ROOT, env=_env(tmp_path, DEBUG="flase"), capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "DEBUG='flase' is invalid: must be true or false" in output, output


@pytest.mark.parametrize("entry", [
    ["manage.py", "check"],
    ["manage.py", "runserver", "--noreload", "127.0.0.1:0"],
    ["-c", "import myapp.asgi"],
    ["-c", "import myapp.wsgi"],
])
def test_invalid_debug_stops_every_entry_point(tmp_path, entry):
    result = subprocess.run([sys.executable, *entry], cwd=ROOT, env=_env(tmp_path, DEBUG="flase"),
                            capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    assert "DEBUG='flase' is invalid: must be true or false" in output and "Expected: " in output, output
    if entry[0] == "manage.py":
        assert "Traceback" not in output, output


@pytest.mark.parametrize("variable,value,expected", [
    ("SECURE_SSL_REDIRECT", "sometimes", "must be true or false"),
    ("SECURE_HSTS_SECONDS", "a year", "valid integer"),
    ("ALLOWED_HOSTS", "https://spark.example.com", "is not a host name"),
    ("CSRF_TRUSTED_ORIGINS", "spark.example.com", "is not an origin"),
    ("DATABASE_URL", "mysql://livy:s3cret-pw@db/livy", "must be a postgres://"),
])
def test_invalid_security_setting_stops_manage_py(tmp_path, variable, value, expected):
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=_env(tmp_path, **{variable: value}),
                            capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert f"{variable}=" in output and expected in output and "Traceback" not in output, output
    assert "s3cret-pw" not in output


def test_missing_secret_with_debug_off_stops_the_process(tmp_path):
    env = _env(tmp_path, DEBUG="false")
    env.pop("DJANGO_SECRET")
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "DJANGO_SECRET is not set and DEBUG is false" in result.stderr


def test_other_invalid_values_stay_system_check_errors():
    cfg, problems = load_config({"LIVY_BACKEND": "foo", "DEBUG": "false", "DJANGO_SECRET": "s" * 50})
    from myapp.config import refuse_unsafe

    refuse_unsafe(cfg, problems)  # does not raise: manage.py check reports it (livy.E001)
    assert [p.variable for p in problems] == ["LIVY_BACKEND"]


@pytest.mark.parametrize("hosts", ["spark.example.com,localhost", ".example.com", "*", "127.0.0.1,[::1]",
                                   "my_host.internal"])
def test_allowed_hosts_that_django_can_match_are_accepted(hosts):
    assert load_config({"ALLOWED_HOSTS": hosts})[1] == []


@pytest.mark.parametrize("hosts", ["localhost:8000", "spark.example.com/app", "http://localhost", "a b"])
def test_allowed_hosts_that_never_match_are_refused(hosts):
    problems = load_config({"ALLOWED_HOSTS": hosts})[1]
    assert [p.variable for p in problems] == ["ALLOWED_HOSTS"] and "not a host name" in problems[0].message


@pytest.mark.parametrize("origins,ok", [
    ("https://spark.example.com", True), ("https://spark.example.com:8443,http://localhost:5000", True),
    ("https://*.example.com", True), ("spark.example.com", False), ("https://spark.example.com/app", False),
    ("ftp://spark.example.com", False),
])
def test_csrf_trusted_origins_are_origins(origins, ok):
    problems = load_config({"CSRF_TRUSTED_ORIGINS": origins})[1]
    assert (problems == []) is ok
    if not ok:
        assert problems[0].variable == "CSRF_TRUSTED_ORIGINS" and "scheme://host[:port]" in problems[0].message


# ------------------------------------------------------------------------ Entra URIs
@pytest.mark.parametrize("variable", ["REDIRECT_URI", "LOGOUT_URI"])
@pytest.mark.parametrize("value", ["localhost:5000/azure_auth/callback", "/accounts/signed-out/",
                                   "ftp://example.com/x", "https://:443/x"])
def test_entra_uris_must_be_absolute_http_urls(settings, variable, value):
    found = _check_with(settings, {"DJANGO_SECRET": "s" * 50, variable: value})
    assert [(m.id, m.obj) for m in found] == [("livy.E001", variable)]
    assert "http:// or https:// URL" in found[0].msg


def test_entra_uris_are_kept_exactly_as_registered():
    cfg, problems = load_config({"REDIRECT_URI": "https://spark.example.com/azure_auth/callback",
                                 "LOGOUT_URI": "https://spark.example.com/accounts/signed-out/"})
    assert problems == []
    assert cfg.LOGOUT_URI == "https://spark.example.com/accounts/signed-out/"  # the trailing slash kept


# ------------------------------------------------------------------------------ secrets
def test_secrets_are_secretstr_and_never_in_dumps_or_problems():
    from pydantic import SecretStr

    from myapp.config import SECRET_FIELDS, AppConfig

    assert SECRET_FIELDS == {"DJANGO_SECRET", "CLIENT_SECRET", "FABRIC_CLIENT_SECRET", "DATABASE_URL"}
    values = {"DJANGO_SECRET": "django-secret-value-123", "CLIENT_SECRET": "client-secret-value-456",
              "FABRIC_CLIENT_SECRET": "fabric-secret-value-789",
              "DATABASE_URL": "postgres://livy:db-password-000@db:5432/livy"}
    cfg, problems = load_config(values)
    assert problems == []
    for name, value in values.items():
        assert isinstance(getattr(cfg, name), SecretStr) and getattr(cfg, name).get_secret_value() == value
    text = repr(cfg) + str(cfg.model_dump()) + cfg.model_dump_json()
    assert not any(value in text for value in values.values())
    copy = cfg.model_copy(update={"CLIENT_SECRET": "another-secret-111"})
    assert isinstance(copy.CLIENT_SECRET, SecretStr) and "another-secret-111" not in repr(copy)
    assert AppConfig.model_fields["DJANGO_SECRET"].repr  # marked once, by its type


def test_secret_settings_reach_django_and_msal_unwrapped():
    from myapp.config import azure_auth_settings, database_settings

    cfg, _ = load_config({"CLIENT_SECRET": "client-secret-value-456",
                          "DATABASE_URL": "postgres://livy:db-password-000@db:5432/livy"})
    assert azure_auth_settings(cfg)["CLIENT_SECRET"] == "client-secret-value-456"
    assert database_settings(cfg, ROOT)["PASSWORD"] == "db-password-000"


def test_fabric_session_mode_is_validated_and_named(settings):
    found = _check_with(settings, {**ENTRA, "LIVY_BACKEND": "fabric", "LIVY_BASE_ENDPOINT": FABRIC_OK,
                                   "FABRIC_SESSION_MODE": "shared"})
    assert [(m.id, m.obj) for m in found] == [("livy.E001", "FABRIC_SESSION_MODE")]
    assert "'standard' or 'high_concurrency'" in found[0].msg
    ok = _check_with(settings, {**ENTRA, "LIVY_BACKEND": "fabric", "LIVY_BASE_ENDPOINT": FABRIC_OK,
                                "FABRIC_SESSION_MODE": "high_concurrency"})
    assert ok == []


def test_high_concurrency_without_fabric_is_an_error(settings):
    found = _check_with(settings, {"DJANGO_SECRET": "s" * 50, "FABRIC_SESSION_MODE": "high_concurrency"})
    assert [(m.id, m.obj) for m in found] == [("livy.E009", "FABRIC_SESSION_MODE")]


def test_session_tag_defaults_to_the_app_name():
    cfg, _ = load_config({})
    assert cfg.fabric_session_tag == "livy-web"
    cfg, _ = load_config({"LIVY_SESSION_NAME_PREFIX": "finance_", "FABRIC_SESSION_TAG": ""})
    assert cfg.fabric_session_tag == "finance"
    cfg, _ = load_config({"FABRIC_SESSION_TAG": "team-a"})
    assert cfg.fabric_session_tag == "team-a"
