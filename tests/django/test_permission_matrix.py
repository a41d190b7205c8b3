"""Every URL of the app, for anonymous, viewer, editor (owner), another editor and an
administrator: status codes, and no other user's data on the page.

Users get their rights from the default groups (``setup_roles``), as in production.
The URL list is checked against the URL resolver, so a new URL fails this test until it
has a row here.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from api import tokens
from livy.models import Batch, SparkSession, Statement
from livy.output import TABLE_MIME
from tests.django.test_notebook_permissions import NOTEBOOK_URL_NAMES
from tests.support.livy_json import LIVY, batch_json, batch_log_json, session_json, statement_json

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "viewer", "editor", "other", "admin"]
SECRET_CODE = "owner_only_secret_code()"
TABLE_CODE = "owner_only_table()"
TEXT_CODE = "owner_only_text()"


@pytest.fixture
def world(django_user_model, livy_api):
    call_command("setup_roles", verbosity=0)

    def user(name, group, staff=False):
        u = django_user_model.objects.create_user(name, password="pw", is_staff=staff)
        u.groups.add(Group.objects.get(name=group))
        return u

    users = {
        "viewer": user("vera", "Viewers"),
        "editor": user("erin", "Editors"),
        "other": user("oscar", "Editors"),
        "admin": user("ada", "Administrators", staff=True),
    }
    session = SparkSession.objects.create(owner=users["editor"], backend="apache", endpoint=LIVY, livy_id="4",
                                          name="erins-session", state="idle")
    stmt = Statement.objects.create(session=session, author=users["editor"], code=SECRET_CODE, livy_id=0,
                                    state="running")
    # Finished statements with a table and with text, for the download URLs.
    Statement.objects.create(session=session, author=users["editor"], code=TABLE_CODE, livy_id=1, state="available",
                             output={"status": "ok", "data": {TABLE_MIME: {"headers": [{"name": "n", "type": "INT_TYPE"}],
                                                                           "data": [[1]]}}})
    Statement.objects.create(session=session, author=users["editor"], code=TEXT_CODE, livy_id=2, state="available",
                             output={"status": "ok", "data": {"text/plain": "owner only output"}})
    # What Livy answers, whoever is allowed through.
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle", name="erins-session"))
    livy_api.get(f"{LIVY}/sessions/4/statements/0", json=statement_json(0, "running", SECRET_CODE))
    livy_api.get(f"{LIVY}/sessions/4/log", json={"id": 4, "from": 0, "total": 1, "log": ["log line"]})
    livy_api.get(f"{LIVY}/version", json={"version": "0.9.0-incubating"})
    livy_api.post(f"{LIVY}/sessions/4/completion", json={"candidates": ["range"]})
    livy_api.post(f"{LIVY}/sessions/4/statements/0/cancel", json={"msg": "canceled"})
    livy_api.post(f"{LIVY}/sessions/4/statements", status=201, json=statement_json(1))
    livy_api.delete(f"{LIVY}/sessions/4", json={"msg": "deleted"})
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(9, "starting"))
    livy_api.post(f"{LIVY}/sessions/9/statements", status=201, json=statement_json(0))
    # The editor's running Spark job (Livy batch 5).
    Batch.objects.create(owner=users["editor"], backend="apache", endpoint=LIVY, livy_id="5", name="erins-job",
                         state="running", request={"name": "erins-job", "file": "hdfs:///owner_only_job.py"},
                         inputs={"file": "hdfs:///owner_only_job.py"})
    livy_api.get(f"{LIVY}/batches/5", json=batch_json(5, "running", name="erins-job"))
    livy_api.get(f"{LIVY}/batches/5/log", json=batch_log_json(5, ["owner_only print"]))
    livy_api.delete(f"{LIVY}/batches/5", json={"msg": "deleted"})
    return users, session, stmt


LOGIN = "login"
# url name -> (method, needs session pk / statement pk, {role: expected status})
MATRIX = {
    "livy:notebook": ("get", None, dict(anonymous=LOGIN, viewer=200, editor=200, other=200, admin=200)),
    "livy:run": ("post", None, dict(anonymous=LOGIN, viewer=403, editor=302, other=302, admin=302)),
    "livy:session_list": ("get", None, dict(anonymous=LOGIN, viewer=200, editor=200, other=200, admin=200)),
    "livy:start_session": ("post", None, dict(anonymous=LOGIN, viewer=403, editor=302, other=302, admin=302)),
    "livy:session_detail": ("get", "session", dict(anonymous=LOGIN, viewer=404, editor=200, other=404, admin=200)),
    "livy:live": ("get", "session", dict(anonymous=LOGIN, viewer=404, editor=200, other=404, admin=200)),
    "livy:dispatch": ("post", "session", dict(anonymous=LOGIN, viewer=403, editor=200, other=404, admin=404)),
    "livy:session_log": ("get", "session", dict(anonymous=LOGIN, viewer=404, editor=200, other=404, admin=200)),
    "livy:stop_session": ("post", "session", dict(anonymous=LOGIN, viewer=404, editor=302, other=404, admin=302)),
    "livy:keep_alive": ("post", "session", dict(anonymous=LOGIN, viewer=404, editor=204, other=404, admin=404)),
    "livy:cancel_statement": ("post", "statement", dict(anonymous=LOGIN, viewer=404, editor=302, other=404, admin=302)),
    "livy:notebook_live": ("get", None, dict(anonymous=LOGIN, viewer=200, editor=200, other=200, admin=200)),
    "livy:notebook_dispatch": ("post", None, dict(anonymous=LOGIN, viewer=403, editor=200, other=200, admin=200)),
    "livy:livy_status": ("get", None, dict(anonymous=LOGIN, viewer=200, editor=200, other=200, admin=200)),
    "livy:complete": ("post", None, dict(anonymous=LOGIN, viewer=403, editor=200, other=200, admin=200)),
    "livy:restart_session": ("post", "session", dict(anonymous=LOGIN, viewer=403, editor=302, other=404, admin=404)),
    "livy:export_session": ("get", "session", dict(anonymous=LOGIN, viewer=404, editor=200, other=404, admin=200)),
    "livy:rerun_statement": ("post", "statement", dict(anonymous=LOGIN, viewer=403, editor=302, other=404, admin=302)),
    "livy:statement_csv": ("get", "table", dict(anonymous=LOGIN, viewer=404, editor=200, other=404, admin=200)),
    "livy:statement_output": ("get", "text", dict(anonymous=LOGIN, viewer=404, editor=200, other=404, admin=200)),
    "livy:job_list": ("get", None, dict(anonymous=LOGIN, viewer=403, editor=200, other=200, admin=200)),
    "livy:job_submit": ("get", None, dict(anonymous=LOGIN, viewer=403, editor=200, other=200, admin=200)),
    "livy:job_detail": ("get", "batch", dict(anonymous=LOGIN, viewer=403, editor=200, other=404, admin=200)),
    "livy:job_poll": ("get", "batch", dict(anonymous=LOGIN, viewer=403, editor=200, other=404, admin=200)),
    "livy:job_log": ("get", "batch", dict(anonymous=LOGIN, viewer=403, editor=200, other=404, admin=200)),
    "livy:job_kill": ("post", "batch", dict(anonymous=LOGIN, viewer=403, editor=302, other=404, admin=302)),
    "livy:job_resubmit": ("get", "batch", dict(anonymous=LOGIN, viewer=403, editor=200, other=404, admin=200)),
    "login": ("get", None, dict(anonymous=200, viewer=200, editor=200, other=200, admin=200)),
    "logout": ("post", None, dict(anonymous=302, viewer=302, editor=302, other=302, admin=302)),
    "signed_out": ("get", None, dict(anonymous=200, viewer=200, editor=200, other=200, admin=200)),
    "api_tokens": ("get", None, dict(anonymous=LOGIN, viewer=200, editor=200, other=200, admin=200)),
    "api_token_revoke": ("post", "token", dict(anonymous=LOGIN, viewer=404, editor=302, other=404, admin=404)),
    "healthz": ("get", None, dict(anonymous=200, viewer=200, editor=200, other=200, admin=200)),
    # Entra ID is not configured in this matrix: its endpoints do not exist (test_entra covers them).
    "entra_login": ("get", None, dict(anonymous=404, viewer=404, editor=404, other=404, admin=404)),
    "entra_callback": ("get", None, dict(anonymous=404, viewer=404, editor=404, other=404, admin=404)),
    "entra_logout": ("post", None, dict(anonymous=302, viewer=302, editor=302, other=302, admin=302)),
}


def _named_urls(resolver=None, prefix=""):
    names = set()
    for entry in (resolver or get_resolver()).url_patterns:
        if isinstance(entry, URLResolver):
            if entry.app_name == "admin" or entry.namespace == "api-v1":
                continue  # the API has its own matrix: tests/django/api/test_api_matrix.py
            ns = f"{entry.namespace}:" if entry.namespace else ""
            names |= _named_urls(entry, prefix + ns)
        elif isinstance(entry, URLPattern) and entry.name:
            names.add(prefix + entry.name)
    return names


def test_matrix_covers_every_url():
    # Notebook URLs have their own matrix (owner, Viewers with and without a share).
    assert _named_urls() == set(MATRIX) | NOTEBOOK_URL_NAMES


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name", sorted(MATRIX))
def test_permission_matrix(client, world, role, name):
    users, session, stmt = world
    method, target, expected = MATRIX[name]
    args = {"session": [session.pk], "statement": [stmt.pk], None: [],
            "table": [Statement.objects.get(code=TABLE_CODE).pk], "text": [Statement.objects.get(code=TEXT_CODE).pk],
            "batch": [Batch.objects.get(name="erins-job").pk] if target == "batch" else [],
            "token": [tokens.issue(users["editor"], "erins")[0].pk] if target == "token" else [],
            }[target]
    if role != "anonymous":
        client.force_login(users[role])
    data = {"code": "print(1)"} if name == "livy:run" else {"code": "spark.ran", "cursor": "9", "kind": "spark"} \
        if name == "livy:complete" else {}
    response = getattr(client, method)(reverse(name, args=args), data)
    want = expected[role]
    if want == LOGIN:
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), response
    else:
        assert response.status_code == want, (role, name, response.status_code)
    if role in ("viewer", "other") and response.status_code == 200 and not response.streaming:
        body = response.content.decode()
        assert SECRET_CODE not in body and "erins-session" not in body and "owner_only" not in body
        assert "erins-job" not in body


def test_admin_sees_the_owners_data(client, world):
    users, session, _ = world
    client.force_login(users["admin"])
    body = client.get(reverse("livy:session_detail", args=[session.pk])).content.decode()
    assert SECRET_CODE in body
    assert "erins-session" in client.get(reverse("livy:session_list")).content.decode()


@pytest.mark.parametrize("role,status", [("anonymous", 302), ("viewer", 302), ("editor", 302), ("other", 302), ("admin", 200)])
def test_django_admin_is_for_administrators(client, world, role, status):
    users, _, _ = world
    if role != "anonymous":
        client.force_login(users[role])
    response = client.get("/admin/")
    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith("/admin/login/")


def test_admin_audit_trail_is_read_only(client, world):
    users, _, stmt = world
    client.force_login(users["admin"])
    assert client.get(f"/admin/livy/statement/{stmt.pk}/change/").status_code == 200
    assert client.get("/admin/livy/statement/?q=owner_only").status_code == 200
    assert SECRET_CODE in client.get("/admin/livy/statement/?q=owner_only").content.decode()
    assert client.post(f"/admin/livy/statement/{stmt.pk}/delete/").status_code == 403
    assert client.get("/admin/livy/statement/add/").status_code == 403
