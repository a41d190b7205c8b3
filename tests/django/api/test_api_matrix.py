"""Every API operation x every role's token (and no token): the same permission rules as the
pages (tests/django/test_permission_matrix.py); another user's object is 404. The list of
operations is read from the OpenAPI description, so a new endpoint without a row fails."""

from __future__ import annotations

import pytest

from api.routes import api
from livy.models import Batch, NotebookRun, SparkSession, Statement
from livy.notebooks import service as notebooks
from livy.notebooks.ipynb import NotebookCell
from tests.support.entra_jwt import FakeTenant
from tests.support.fakes_entra import configure_entra
from tests.support.livy_json import LIVY, batch_json, batch_log_json, session_json, statement_json

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "viewer", "editor", "other", "admin"]
SECRET_CODE = "owner_only_secret_code()"

# (method, path template) -> {role: status}; {session}/{statement} are erin's.
MATRIX = {
    ("get", "/api/v1/sessions"): dict(anonymous=401, viewer=200, editor=200, other=200, admin=200),
    ("post", "/api/v1/sessions"): dict(anonymous=401, viewer=403, editor=200, other=201, admin=201),
    ("get", "/api/v1/sessions/{session_id}"): dict(anonymous=401, viewer=404, editor=200, other=404, admin=200),
    ("delete", "/api/v1/sessions/{session_id}"): dict(anonymous=401, viewer=404, editor=200, other=404, admin=200),
    ("get", "/api/v1/statements"): dict(anonymous=401, viewer=200, editor=200, other=200, admin=200),
    ("post", "/api/v1/statements"): dict(anonymous=401, viewer=403, editor=202, other=202, admin=202),
    ("get", "/api/v1/statements/{statement_id}"): dict(anonymous=401, viewer=404, editor=200, other=404, admin=200),
    ("post", "/api/v1/statements/{statement_id}/cancel"): dict(anonymous=401, viewer=404, editor=202, other=404,
                                                                admin=202),
    # Spark jobs: every operation needs livy.submit_batch (Viewers: 403, as every Jobs page).
    ("get", "/api/v1/batches"): dict(anonymous=401, viewer=403, editor=200, other=200, admin=200),
    ("post", "/api/v1/batches"): dict(anonymous=401, viewer=403, editor=202, other=202, admin=202),
    ("get", "/api/v1/batches/{batch_id}"): dict(anonymous=401, viewer=403, editor=200, other=404, admin=200),
    ("delete", "/api/v1/batches/{batch_id}"): dict(anonymous=401, viewer=403, editor=200, other=404, admin=200),
    ("get", "/api/v1/batches/{batch_id}/log"): dict(anonymous=401, viewer=403, editor=200, other=404, admin=200),
    # Notebooks: the pages' rules (only the owner changes; admins read; not shared: 404).
    ("get", "/api/v1/notebooks"): dict(anonymous=401, viewer=200, editor=200, other=200, admin=200),
    ("post", "/api/v1/notebooks"): dict(anonymous=401, viewer=403, editor=201, other=201, admin=201),
    ("get", "/api/v1/notebooks/{notebook_id}"): dict(anonymous=401, viewer=404, editor=200, other=404, admin=200),
    ("put", "/api/v1/notebooks/{notebook_id}"): dict(anonymous=401, viewer=404, editor=200, other=404, admin=403),
    ("delete", "/api/v1/notebooks/{notebook_id}"): dict(anonymous=401, viewer=404, editor=204, other=404, admin=403),
    ("get", "/api/v1/notebooks/{notebook_id}.ipynb"): dict(anonymous=401, viewer=404, editor=200, other=404,
                                                           admin=200),
    # Notebook runs: only the owner runs (admins read); a run is read by those who see its notebook.
    ("post", "/api/v1/notebooks/{notebook_id}/runs"): dict(anonymous=401, viewer=404, editor=202, other=404,
                                                           admin=403),
    ("get", "/api/v1/runs/{run_id}"): dict(anonymous=401, viewer=404, editor=200, other=404, admin=200),
    ("post", "/api/v1/runs/{run_id}/cancel"): dict(anonymous=401, viewer=404, editor=202, other=404, admin=403),
}
#: The JSON body each POST or PUT sends.
BODIES = {
    "/api/v1/statements": {"code": "print(1)"},
    "/api/v1/batches": {"file": "hdfs:///jobs/etl.py"},
    "/api/v1/notebooks": {"nbformat": 4, "nbformat_minor": 5, "metadata": {},
                          "cells": [{"cell_type": "code", "id": "c1", "source": "1", "metadata": {}, "outputs": [],
                                     "execution_count": None}]},
    "/api/v1/notebooks/{notebook_id}": {"version": 1, "cells": [{"source": "changed()"}]},
}
# Public: the description and its docs page.
PUBLIC = {("get", "/api/v1/openapi.json"), ("get", "/api/v1/docs")}


@pytest.fixture
def world(people, livy_api):
    erin = people["editor"]
    session = SparkSession.objects.create(owner=erin, backend="apache", endpoint=LIVY, livy_id="4",
                                          name="erins-session", state="idle")
    stmt = Statement.objects.create(session=session, author=erin, code=SECRET_CODE, livy_id=0, state="running")
    livy_api.get(f"{LIVY}/sessions/4", json=session_json(4, "idle", name="erins-session"))
    livy_api.get(f"{LIVY}/sessions/4/statements/0", json=statement_json(0, "running", SECRET_CODE))
    livy_api.post(f"{LIVY}/sessions/4/statements/0/cancel", json={"msg": "canceled"})
    livy_api.post(f"{LIVY}/sessions/4/statements", status=201, json=statement_json(1, "waiting", "print(1)"))
    livy_api.get(f"{LIVY}/sessions/4/statements/1", json=statement_json(1, "running", "print(1)"))
    livy_api.delete(f"{LIVY}/sessions/4", json={"msg": "deleted"})
    livy_api.post(f"{LIVY}/sessions", status=201, json=session_json(9, "starting"))
    batch = Batch.objects.create(owner=erin, backend="apache", endpoint=LIVY, livy_id="5", name="erins-job",
                                 label="erins-job", state="running", request={"file": "hdfs:///secret.py"})
    livy_api.get(f"{LIVY}/batches/5", json=batch_json(5, "running", name="erins-job"))
    livy_api.get(f"{LIVY}/batches/5/log", json=batch_log_json(5, [SECRET_CODE], []))
    livy_api.delete(f"{LIVY}/batches/5", json={"msg": "deleted"})
    livy_api.post(f"{LIVY}/batches", status=201, json=batch_json(6, "starting", name="x"))
    notebook = notebooks.create(erin, title="erins-notebook", cells=[NotebookCell("pyspark", SECRET_CODE)])
    run = NotebookRun.objects.create(notebook=notebook, user=erin, state=NotebookRun.SUCCEEDED)
    return {"session_id": session.pk, "statement_id": stmt.pk, "batch_id": batch.pk, "notebook_id": notebook.pk,
            "run_id": run.pk}


def test_matrix_covers_every_operation():
    schema = api.get_openapi_schema()
    operations = {(method, path.rstrip("/")) for path, item in schema["paths"].items() for method in item}
    assert operations == set(MATRIX)


#: App role values for the Entra variant, mapped as people's app roles are (ROLES).
APP_ROLES = {"viewer": ["Livy.Viewer"], "editor": ["Livy.Editor"], "other": ["Livy.Editor"], "admin": ["Livy.Admin"]}
ENTRA_ROLES = {"Livy.Admin": ["Administrators", "Editors"], "Livy.Editor": "Editors", "Livy.Viewer": "Viewers"}


@pytest.fixture(params=["personal", "entra"])
def credential(request, token_of, people, settings, livy_api):
    """``credential(role)``: that role's personal token, or a delegated Entra access token for
    the same person (upn = their user name) carrying the role's app role."""
    if request.param == "personal":
        yield token_of
        return
    configure_entra(settings, ROLES=ENTRA_ROLES, ENTRA_GROUP_ATTRIBUTE="roles")
    tenant = FakeTenant(livy_api)  # the tenant's keys beside the Livy fake, on one `responses` mock

    def make(role):
        return tenant.token(tenant.claims(upn=people[role].username, roles=APP_ROLES[role]))

    yield make


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", sorted(MATRIX))
def test_api_matrix(bearer, credential, world, role, operation):
    method, template = operation
    url = template.format(**world)
    client = bearer(None if role == "anonymous" else credential(role))
    if method in ("post", "put"):
        response = getattr(client, method)(url, BODIES.get(template))
    else:
        response = getattr(client, method)(url)
    want = MATRIX[operation][role]
    assert response.status_code == want, (role, operation, response.status_code, response.content[:300])
    if response.status_code >= 400:
        assert response["Content-Type"] == "application/problem+json"
    if role in ("viewer", "other"):
        body = response.content.decode()
        assert SECRET_CODE not in body and "erins-session" not in body and "erins-job" not in body
        assert "erins-notebook" not in body


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("operation", sorted(PUBLIC))
def test_docs_and_description_are_public(bearer, token_of, people, role, operation):
    client = bearer(None if role == "anonymous" else token_of(role))
    assert client.get(operation[1]).status_code == 200


def test_admin_sees_everyones_sessions_and_others_only_their_own(bearer, token_of, world):
    assert [s["id"] for s in bearer(token_of("admin")).get("/api/v1/sessions").json()["items"]] == [world["session_id"]]
    assert bearer(token_of("admin")).get("/api/v1/sessions?mine=true").json()["items"] == []
    assert bearer(token_of("other")).get("/api/v1/sessions").json()["items"] == []
    assert bearer(token_of("other")).get("/api/v1/statements").json()["items"] == []
