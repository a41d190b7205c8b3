"""Security of a tenant-wide deployment: no privilege escalation in the admin, no endpoint
credential in pages or logs, logs and lockouts for sign-ins, security headers, a 400 for
undecodable form data, and no attacker text on the Entra error page."""

from __future__ import annotations

import http.server
import io
import json
import logging
import os
import re
import secrets
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import responses
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from livy.models import SparkSession, Statement
from tests.support.fakes_entra import EDITORS_GID, EntraUser, FakeEntra
from tests.support.fakes_entra import configure_entra as configure
from tests.support.fakes_entra import entra_sign_in as sign_in
from tests.support.livy_json import LIVY, session_json

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def roles():
    call_command("setup_roles", verbosity=0)


@pytest.fixture
def administrator(django_user_model, roles):
    """A member of Administrators, as Entra sign-in makes them: staff, not superuser."""
    user = django_user_model.objects.create_user("ada", password="ada-password-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Administrators"))
    return user


@pytest.fixture
def superuser(django_user_model):
    return django_user_model.objects.create_superuser("root", "root@localhost", "root-password-1")


@pytest.fixture
def entra(settings, roles):
    configure(settings)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield FakeEntra(mock)


def _user_form(user, **fields):
    """The POST of the admin's user change form, as the browser sends it."""
    data = {"username": user.username, "first_name": user.first_name, "last_name": user.last_name,
            "email": user.email, "is_active": "on", "is_staff": "on" if user.is_staff else "",
            "groups": [str(g.pk) for g in user.groups.all()],
            "date_joined_0": user.date_joined.strftime("%Y-%m-%d"), "date_joined_1": "00:00:00",
            "last_login_0": "", "last_login_1": ""}
    data.update(fields)
    return {k: v for k, v in data.items() if v != ""}


# --------------------------------------------------------------- 1. admin escalation
@pytest.mark.parametrize("target", ["self", "other"])
def test_administrator_cannot_make_anyone_superuser(client, administrator, django_user_model, target):
    user = administrator if target == "self" else django_user_model.objects.create_user("oscar")
    client.force_login(administrator)
    url = f"/admin/auth/user/{user.pk}/change/"
    page = client.get(url).content.decode()
    assert 'name="is_superuser"' not in page and 'name="user_permissions"' not in page
    every = [str(p.pk) for p in Permission.objects.all()]
    response = client.post(url, _user_form(user, is_superuser="on", user_permissions=every))
    assert response.status_code == 302, response.content.decode()[:2000]  # saved: the fields were ignored
    user.refresh_from_db()
    assert not user.is_superuser and not user.user_permissions.exists()


def test_administrator_cannot_change_their_own_staff_status_or_groups(client, administrator):
    client.force_login(administrator)
    client.post(f"/admin/auth/user/{administrator.pk}/change/",
                _user_form(administrator, is_staff="", groups=[]))
    administrator.refresh_from_db()
    assert administrator.is_staff and administrator.groups.filter(name="Administrators").exists()


def test_administrator_cannot_change_a_superuser(client, administrator, superuser):
    client.force_login(administrator)
    url = f"/admin/auth/user/{superuser.pk}/change/"
    assert client.get(url).status_code == 200  # still visible, read-only
    response = client.post(url, _user_form(superuser, is_active="", email="evil@example.com"))
    assert response.status_code == 403
    superuser.refresh_from_db()
    assert superuser.is_active and superuser.email == "root@localhost"


def test_only_superusers_set_other_accounts_passwords(client, administrator, superuser, django_user_model):
    other = django_user_model.objects.create_user("oscar", password="oscar-password-1")
    client.force_login(administrator)
    for user in (superuser, other):
        url = f"/admin/auth/user/{user.pk}/password/"
        assert client.get(url).status_code in (403, 404)
        response = client.post(url, {"password1": "Taken-over-123", "password2": "Taken-over-123",
                                     "usable_password": "true", "set-password": ""})
        assert response.status_code in (403, 404)
        user.refresh_from_db()
        assert not user.check_password("Taken-over-123")
    assert client.get(f"/admin/auth/user/{administrator.pk}/password/").status_code == 200  # their own
    client.force_login(superuser)
    assert client.get(f"/admin/auth/user/{other.pk}/password/").status_code == 200


def test_administrator_grants_only_permissions_and_groups_they_hold(client, administrator, django_user_model):
    client.force_login(administrator)
    delete = Permission.objects.get(content_type__app_label="livy", codename="delete_sparksession")
    run = Permission.objects.get(content_type__app_label="livy", codename="run_code")
    client.post("/admin/auth/group/add/", {"name": "Deleters", "permissions": [str(delete.pk)]})
    assert not Group.objects.filter(name="Deleters", permissions=delete).exists()
    # A group a superuser made with more rights cannot be handed out, and keeps its rights when edited.
    auditors = Group.objects.create(name="Auditors")
    auditors.permissions.add(delete)
    client.post(f"/admin/auth/group/{auditors.pk}/change/", {"name": "Auditors", "permissions": [str(run.pk)]})
    assert set(auditors.permissions.all()) == {delete, run}
    oscar = django_user_model.objects.create_user("oscar")
    response = client.post(f"/admin/auth/user/{oscar.pk}/change/", _user_form(oscar, groups=[str(auditors.pk)]))
    assert response.status_code == 200  # "Select a valid choice"
    assert not oscar.groups.exists()


def test_nobody_deletes_sessions_in_the_admin(client, superuser):
    session = SparkSession.objects.create(owner=superuser, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="audit-me", state="idle", active=False)
    Statement.objects.create(session=session, author=superuser, code="1+1", livy_id=0, state="available")
    client.force_login(superuser)  # has every permission
    assert client.get(f"/admin/livy/sparksession/{session.pk}/delete/").status_code == 403
    assert client.post(f"/admin/livy/sparksession/{session.pk}/delete/", {"post": "yes"}).status_code == 403
    changelist = client.get("/admin/livy/sparksession/")
    assert "delete_selected" not in changelist.content.decode()
    bulk = client.post("/admin/livy/sparksession/", {"action": "delete_selected", "_selected_action": [session.pk],
                                                      "post": "yes"})
    assert bulk.status_code in (200, 302, 403)
    assert SparkSession.objects.filter(pk=session.pk).exists() and Statement.objects.filter(session=session).exists()


# ---------------------------------------------------------- 2. endpoint credentials
SECRET = "Pa55-livy-s3cret"


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_endpoint_password_is_in_no_page_and_no_log(client, settings, editor, superuser, caplog, monkeypatch):
    monkeypatch.setattr("livy.remote.client.BACKOFF_FACTOR", 0)
    endpoint = f"http://livyuser:{SECRET}@127.0.0.1:{_closed_port()}"
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_BASE_ENDPOINT": endpoint})
    session = SparkSession.objects.create(owner=editor, backend="apache", endpoint=endpoint, livy_id="4",
                                          name="pytest-s", state="idle")
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="livy")
    client.force_login(editor)
    notebook = client.get(reverse("livy:notebook")).content.decode()
    notice = client.get(reverse("livy:session_log", args=[session.pk])).content.decode()
    assert f"Livy at http://127.0.0.1:{urlsplit(endpoint).port} cannot be reached" in notice
    for page in (notebook, notice):
        assert SECRET not in page and "livyuser" not in page
    client.force_login(superuser)
    admin_page = client.get(f"/admin/livy/sparksession/{session.pk}/change/").content.decode()
    assert "127.0.0.1" in admin_page and SECRET not in admin_page
    assert SECRET not in caplog.text
    # urllib3 logs request lines at DEBUG: none are emitted, whatever the root level.
    assert not [r for r in caplog.records if r.name.startswith("urllib3") and r.levelno < logging.WARNING]


class _LivyAnswering(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps(session_json(4, "idle")).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_endpoint_password_is_not_in_the_clients_debug_log(caplog):
    from livy.remote.backends import ApacheLivyBackend
    from livy.remote.client import LivyClient

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _LivyAnswering)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        caplog.set_level(logging.DEBUG)
        caplog.set_level(logging.DEBUG, logger="livy")
        client = LivyClient(ApacheLivyBackend(f"http://livyuser:{SECRET}@127.0.0.1:{server.server_port}"), timeout=5)
        assert client.get_session("4").id == "4"
    finally:
        server.shutdown()
    assert "sessions/4" in caplog.text  # the request is logged...
    assert SECRET not in caplog.text  # ...without the credential


def test_an_endpoint_port_out_of_range_does_not_break_pages(client, settings, editor):
    """Reported by the checks (LIVY_BASE_ENDPOINT), but a server started anyway still serves
    its pages: the endpoint is shown without the port, and without its credentials."""
    from livy.remote.backends import display_endpoint

    assert display_endpoint(f"http://livyuser:{SECRET}@livy:99999/x") == "http://livy"
    assert display_endpoint("http://[::1") == "(invalid URL)"
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_BASE_ENDPOINT": f"http://u:{SECRET}@livy:99999"})
    assert client.get(reverse("login")).status_code == 200
    client.force_login(editor)
    page = client.get(reverse("livy:session_list"))
    assert page.status_code == 200 and 'title="http://livy"' in page.content.decode()
    assert SECRET not in page.content.decode()


def test_check_messages_do_not_repeat_endpoint_credentials(settings):
    from livy.checks import configuration_check
    from myapp.config import load_config

    _, problems = load_config({"LIVY_BASE_ENDPOINT": f"ftp://livyuser:{SECRET}@livy:8998"})
    assert problems and all(SECRET not in p.message for p in problems)
    assert "***@livy:8998" in problems[0].message
    settings.CONFIG, settings.CONFIG_PROBLEMS = load_config({
        "DJANGO_SECRET": "s" * 50, "LIVY_BACKEND": "fabric", "FABRIC_AUTH": "service_principal",
        "TENANT_ID": "t", "CLIENT_ID": "c", "CLIENT_SECRET": "s",
        "LIVY_BASE_ENDPOINT": f"https://livyuser:{SECRET}@livy.example.com/v1/workspaces/x",
    })
    messages = [m.msg for m in configuration_check(None)]
    assert messages and all(SECRET not in m for m in messages)


# ------------------------------------------------------------------------ 3. logging
def _env(tmp_path, **extra):
    """A production environment (tests/settings.py's DJANGO_ALLOW_ASYNC_UNSAFE left out)."""
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update({"LIVY_DOTENV": "0", "DEBUG": "false", "DJANGO_SECRET": secrets.token_urlsafe(50),
                "ALLOWED_HOSTS": "spark.example.com", "DATABASE_PATH": str(tmp_path / "db.sqlite3")})
    env.update(extra)
    return env


def test_server_error_is_logged_with_its_traceback_in_production(tmp_path):
    script = (
        "import os, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'myapp.settings'; django.setup()\n"
        "from unittest import mock\n"
        "from django.test import Client\n"
        "with mock.patch('accounts.views.render', side_effect=RuntimeError('deliberate failure 7f3a')):\n"
        "    r = Client(raise_request_exception=False).get('/accounts/signed-out/', secure=True,"
        " HTTP_HOST='spark.example.com')\n"
        "print('STATUS', r.status_code)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    assert "STATUS 500" in result.stdout, result.stdout + result.stderr
    assert "Internal Server Error: /accounts/signed-out/" in result.stderr
    assert "Traceback (most recent call last)" in result.stderr
    assert "RuntimeError: deliberate failure 7f3a" in result.stderr


def _sign_in(client, username, password, address="127.0.0.1"):
    return client.post(reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=address)


def test_repeated_failures_lock_the_account_and_are_logged_without_passwords(client, superuser, caplog):
    caplog.set_level(logging.INFO)
    statuses = [_sign_in(client, "root", f"wrong-guess-{i}").status_code for i in range(6)]
    assert statuses[:4] == [200] * 4 and statuses[4:] == [429, 429]
    response = _sign_in(client, "root", "root-password-1")
    body = response.content.decode()
    assert response.status_code == 429 and "locked" in body and "try again in 15 minutes" in body
    assert "_auth_user_id" not in client.session
    assert caplog.text.count("sign-in failed for user 'root' from 127.0.0.1") == 7
    assert "sign-in locked after repeated failures: user 'root' from 127.0.0.1" in caplog.text
    assert "wrong-guess" not in caplog.text and "root-password-1" not in caplog.text
    from axes.models import AccessAttempt

    assert not AccessAttempt.objects.filter(post_data__contains="wrong-guess").exists()


def test_failures_from_one_address_lock_it_for_every_account(client, superuser):
    for i in range(5):
        _sign_in(client, f"guess-{i}", "x", address="10.0.0.7")
    assert _sign_in(client, "root", "root-password-1", address="10.0.0.7").status_code == 429
    assert _sign_in(client, "root", "root-password-1", address="10.0.0.8").status_code == 302


def test_failures_for_one_account_lock_it_from_every_address(client, superuser):
    for i in range(5):
        _sign_in(client, "root", "x", address=f"10.0.1.{i}")
    assert _sign_in(client, "root", "root-password-1", address="10.0.1.99").status_code == 429


def test_client_address_behind_trusted_proxies(rf, settings):
    from accounts.throttling import client_ip

    request = rf.get("/", REMOTE_ADDR="10.9.9.9", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.5")
    assert client_ip(request) == "10.9.9.9"
    settings.CONFIG = settings.CONFIG.model_copy(update={"TRUSTED_PROXY_COUNT": 1})
    assert client_ip(request) == "203.0.113.5"  # not the forged left-most entry


def test_entra_sign_in_works_and_is_logged(client, entra, caplog):
    caplog.set_level(logging.INFO)
    assert sign_in(client, entra, EntraUser(groups=[EDITORS_GID])).status_code == 302
    assert "user 'erin@contoso.com' signed in from 127.0.0.1" in caplog.text
    assert all(t[:40] not in caplog.text for t in entra.issued_access_tokens)


def test_a_locked_address_still_signs_in_with_entra(client, entra, superuser):
    """Behind a proxy with TRUSTED_PROXY_COUNT=0 every client has the proxy's address: wrong
    local passwords from anyone must not refuse the users Microsoft has already authenticated."""
    from axes.models import AccessAttempt

    for i in range(5):
        _sign_in(client, f"guess-{i}", "x")
    assert _sign_in(client, "root", "root-password-1").status_code == 429  # passwords stay locked
    attempts = AccessAttempt.objects.count()
    response = sign_in(client, entra, EntraUser(groups=[EDITORS_GID]))
    assert response.status_code == 302 and client.session["_auth_user_id"]
    assert AccessAttempt.objects.count() == attempts  # neither refused nor counted
    client.logout()
    assert _sign_in(client, "root", "root-password-1").status_code == 429


def test_entra_sign_in_is_exempt_from_lockouts_and_passwords_are_not():
    from accounts.throttling import is_entra_sign_in

    assert is_entra_sign_in(None, {"username": None, "password": None, "token": {"id_token_claims": {}}})
    assert not is_entra_sign_in(None, {"username": "root", "password": "pw"})
    assert not is_entra_sign_in(None, {"username": "root", "password": "pw", "token": "x"})
    assert not is_entra_sign_in(None, None)


# ------------------------------------------------------------------------ 4. headers
CSP_DIRECTIVES = ["default-src 'self'", "img-src 'self' data:", "style-src 'self' 'unsafe-inline'",
                  "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'",
                  "object-src 'none'"]


def _csp(response) -> dict[str, list[str]]:
    header = response.headers.get("Content-Security-Policy", "")
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


def test_every_response_has_the_security_headers(client, editor):
    anonymous = [client.get(reverse("login")), client.get("/no-such-page/"), client.get("/admin/login/")]
    client.force_login(editor)
    signed_in = [client.get(reverse("livy:session_list")), client.get(reverse("livy:notebook"))]
    for response in anonymous + signed_in:
        header = response.headers.get("Content-Security-Policy", "")
        for directive in CSP_DIRECTIVES:
            assert directive in header, (response.request["PATH_INFO"], header)
        assert "unsafe-eval" not in header and _csp(response)["form-action"] == ["'self'"]
        assert response.headers["X-Frame-Options"] == "DENY"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert response.headers["Referrer-Policy"] == "same-origin"
    for response in signed_in:
        assert "no-store" in response.headers.get("Cache-Control", "")


def test_pages_run_only_the_apps_own_script_files(client, editor):
    """No inline script (the CSP forbids it) and no library the page does not use: the notebook
    loads the editor bundle and the app's bundle, the sessions page only the app's."""
    client.force_login(editor)
    for name, expected in (("livy:notebook", ["livy/vendor/codemirror-bundle.min.js", "livy/app.min.js"]),
                           ("livy:session_list", ["livy/app.min.js"])):
        page = client.get(reverse(name)).content.decode()
        scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, flags=re.S)
        assert [body for _, body in scripts if body.strip()] == []
        assert [re.search(r'src="([^"]*)"', attrs).group(1) for attrs, _ in scripts] == [
            f"/static/{path}" for path in expected]
        assert " hx-" not in page


def test_sign_out_redirect_to_entra_is_allowed_by_form_action(client, settings, entra):
    from myapp.config import content_security_policy

    settings.CONTENT_SECURITY_POLICY = content_security_policy(settings.CONFIG)
    sign_in(client, entra, EntraUser(groups=[EDITORS_GID]))
    page = client.get(reverse("livy:session_list"))  # has the sign-out form
    assert 'action="/accounts/logout/"' in page.content.decode()
    logout = client.post(reverse("logout"))
    target = urlsplit(logout["Location"])
    assert f"{target.scheme}://{target.netloc}" in _csp(page)["form-action"]
    assert content_security_policy(settings.CONFIG.model_copy(update={"TENANT_ID": ""}))["DIRECTIVES"][
        "form-action"] == ["'self'"]


def test_remote_images_in_html_output_are_not_fetched(client, editor):
    from livy.output import render_parts

    parts = render_parts({"status": "ok", "data": {
        "text/html": '<p>hi</p><img src="https://evil.example/x.png" alt="pixel"><img src="/admin/logout/">'}})
    assert parts[0].kind == "html" and "evil.example" not in parts[0].html and "/admin/" not in parts[0].html
    client.force_login(editor)
    assert _csp(client.get(reverse("livy:session_list")))["img-src"] == ["'self'", "data:"]


def test_production_defaults_and_overrides():
    from myapp.config import load_config

    production, problems = load_config({"DEBUG": "false"})
    assert not problems and production.ssl_redirect and production.hsts_seconds == 31_536_000
    assert not production.SECURE_HSTS_INCLUDE_SUBDOMAINS and production.proxy_ssl_header is None
    development, _ = load_config({"DEBUG": "true"})
    assert not development.ssl_redirect and development.hsts_seconds == 0
    chosen, problems = load_config({"DEBUG": "false", "SECURE_SSL_REDIRECT": "false", "SECURE_HSTS_SECONDS": "0",
                                    "SECURE_PROXY_SSL_HEADER": "X-Forwarded-Proto,https"})
    assert not problems and not chosen.ssl_redirect and chosen.hsts_seconds == 0
    assert chosen.proxy_ssl_header == ("HTTP_X_FORWARDED_PROTO", "https")
    _, problems = load_config({"SECURE_PROXY_SSL_HEADER": "https"})
    assert [p.variable for p in problems] == ["SECURE_PROXY_SSL_HEADER"]


def test_healthz_is_not_redirected_to_https(client, settings, livy_api):
    from django.core.cache import cache

    livy_api.get(f"{LIVY}/version", json={"version": "0.9.0-incubating"})  # not the real Livy
    settings.SECURE_SSL_REDIRECT = True
    assert client.get(reverse("login")).status_code == 301
    cache.clear()  # livy.health keeps one answer per endpoint
    try:
        response = client.get("/healthz")
    finally:
        cache.clear()
    assert response.status_code == 200 and "Location" not in response
    assert response.json()["status"] == "ok"


def test_check_deploy_reports_no_warning_with_production_settings(tmp_path):
    result = subprocess.run([sys.executable, "manage.py", "check", "--deploy"], cwd=ROOT, env=_env(tmp_path),
                            capture_output=True, text=True, timeout=120)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "WARNINGS" not in output and "?: (security." not in output, output
    assert "System check identified no issues" in output


# --------------------------------------------------------------- 5. undecodable forms
MULTIPART = (b'--xx\r\nContent-Disposition: form-data; name="username"\r\n\r\nroot\r\n'
             b'--xx\r\nContent-Disposition: form-data; name="code"\r\n\r\n1+1\r\n--xx--\r\n')


@pytest.mark.parametrize("url", ["/accounts/login/", "/run/"])
@pytest.mark.parametrize("charset", ["base64", "rot13", "idna"])
def test_form_in_an_undecodable_charset_is_a_400_page(editor, url, charset):
    client = Client(raise_request_exception=False)
    client.force_login(editor)
    response = client.generic("POST", url, MULTIPART, content_type=f"multipart/form-data; boundary=xx; charset={charset}")
    assert response.status_code == 400
    assert "could not be read" in response.content.decode()
    assert not Statement.objects.exists()


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("url", ["/accounts/login/", "/run/"])
def test_urlencoded_form_declared_in_another_charset_is_the_400_page(editor, settings, url, debug):
    """Django 5.2 refuses a URL-encoded body in any charset but UTF-8 (BadRequest on reading
    request.POST); that is the same clear 400 page, never a 500 from the error page reading the
    body again, whether DEBUG is on or off."""
    settings.DEBUG = debug
    client = Client(raise_request_exception=False)
    client.force_login(editor)
    response = client.generic("POST", url, "username=r%E9mi&code=1%2B1",
                              content_type="application/x-www-form-urlencoded; charset=latin-1")
    assert response.status_code == 400
    assert "could not be read" in response.content.decode()
    assert not Statement.objects.exists()


def _wsgi_get(app, path, query="", content_type=""):
    """Call a WSGI app as gunicorn does (Django's test client builds its requests another way)."""
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": path, "QUERY_STRING": query, "CONTENT_TYPE": content_type,
               "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "127.0.0.1", "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(b""),
               "wsgi.errors": io.StringIO()}
    started = {}

    def start_response(status, headers, exc_info=None):
        started.update(status=status, headers=dict(headers))

    result = app(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        getattr(result, "close", lambda: None)()
    return started["status"], started["headers"], body


@pytest.mark.parametrize("charset", ["rot13", "base64", "zlib", "undefined", "no-such-charset"])
def test_query_with_an_unreadable_charset_is_a_400_not_a_bare_500(charset):
    """Django decodes the query string with the Content-Type's charset while it builds the
    request, before any middleware: the WSGI wrapper answers first."""
    from myapp.wsgi import application

    status, headers, body = _wsgi_get(application, "/healthz", "x=1", f"text/plain; charset={charset}")
    assert status == "400 Bad Request" and headers["Content-Type"] == "text/plain; charset=utf-8"
    assert body.startswith(b"Bad Request: ") and b"charset" in body


def test_a_readable_charset_passes_through_the_wsgi_wrapper(livy_api):
    from django.core import signals
    from django.core.cache import cache
    from django.db import close_old_connections

    from myapp.wsgi import application, reject_unreadable_charset

    calls = []

    def app(environ, start_response):
        calls.append(environ["QUERY_STRING"])
        start_response("200 OK", [])
        return [b"ok"]

    inner = reject_unreadable_charset(app)
    assert _wsgi_get(inner, "/healthz", "x=1", "text/plain; charset=utf-8")[2] == b"ok" and calls == ["x=1"]
    assert _wsgi_get(inner, "/healthz", "x=1")[2] == b"ok" and calls == ["x=1", "x=1"]
    # The real application: as Django's test client does, keep the test's database connection.
    livy_api.get(f"{LIVY}/version", json={"version": "0.9.0-incubating"})
    cache.clear()
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        status, _, body = _wsgi_get(application, "/healthz", "x=1", "text/plain; charset=utf-8")
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
        cache.clear()
    assert status == "200 OK" and json.loads(body)["status"] == "ok"


# -------------------------------------------------------------- 6. Entra error text
def test_entra_error_page_shows_the_code_not_the_description(client, entra, caplog):
    caplog.set_level(logging.INFO)
    description = ("<script>alert(1)</script> AADSTS50105: Your administrator has configured the application "
                   "to block users. Call +1 555 0100 to restore access.")
    response = client.get(reverse("entra_callback"), {"error": "access_denied", "error_description": description})
    body = response.content.decode()
    assert response.status_code == 400 and "AADSTS50105" in body and "Sign in again" in body
    assert "Your administrator" not in body and "555 0100" not in body
    assert "<script>alert" not in body and "&lt;script&gt;" not in body
    assert "Entra ID sign-in failed from 127.0.0.1" in caplog.text and "555 0100" not in caplog.text
    # The same through a started flow (MSAL's error path).
    start = client.get(reverse("entra_login"))
    params = entra.authorize_error(start["Location"], "access_denied", description)
    body = client.get(reverse("entra_callback"), params).content.decode()
    assert "AADSTS50105" in body and "Your administrator" not in body and "&lt;script&gt;" not in body


def test_the_debug_error_page_shows_no_secret(settings, rf):
    """With DEBUG on, Django's error page lists the settings: the secrets of the configuration
    (SecretStr) and those derived from it (SECRET_KEY, AZURE_AUTH) are masked."""
    from django.views.debug import technical_500_response

    from myapp.config import azure_auth_settings, load_config

    secrets_ = {"DJANGO_SECRET": "django-secret-value-123", "CLIENT_SECRET": "client-secret-value-456",
                "FABRIC_CLIENT_SECRET": "fabric-secret-value-789"}
    settings.CONFIG, _ = load_config(secrets_)
    settings.SECRET_KEY = secrets_["DJANGO_SECRET"]
    settings.AZURE_AUTH = azure_auth_settings(settings.CONFIG)
    settings.DEBUG = True
    # No traceback: the page would show this test's own source and locals.
    page = technical_500_response(rf.get("/"), RuntimeError, RuntimeError("boom"), None).content.decode()
    assert "boom" in page and "DJANGO_SECRET=Secret(&#x27;**********&#x27;)" in page
    assert not any(value in page for value in secrets_.values())
