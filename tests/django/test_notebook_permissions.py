"""Every notebook URL for anonymous, the owner (an Editor), another Editor, a Viewer the
notebook is not shared with, a Viewer in a group it is shared with, and an Administrator:
status codes, and nothing of the notebook on a page it must not reach.

Users get their rights from the default groups (``setup_roles``), as in production.
``test_permission_matrix.test_matrix_covers_every_url`` counts these rows, so a new notebook
URL fails until it has one here.
"""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

from livy.models import Notebook
from livy.notebooks import selectors, service
from tests.support.notebooks import make_cast, mixed_notebook

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "owner", "other", "viewer", "shared", "admin"]
SECRET_TITLE = "erins-private-forecast"
SECRET_SOURCE = "regions = 3"
LOGIN = "login"


def _row(anonymous=LOGIN, owner=200, other=404, viewer=404, shared=200, admin=200):
    return dict(anonymous=anonymous, owner=owner, other=other, viewer=viewer, shared=shared, admin=admin)


READ = _row()
CHANGE = _row(owner=302, shared=403, admin=403)
# (url name, method, needs the notebook pk, expected status per role)
NOTEBOOK_MATRIX = [
    ("livy:notebook_list", "get", False, _row(other=200, viewer=200)),
    ("livy:notebook_new", "post", False, _row(owner=302, other=302, viewer=403, shared=403, admin=302)),
    ("livy:notebook_import", "post", False, _row(owner=400, other=400, viewer=403, shared=403, admin=400)),
    ("livy:notebook_detail", "get", True, READ),
    ("livy:notebook_json", "get", True, READ),
    ("livy:notebook_ipynb", "get", True, READ),
    ("livy:notebook_py", "get", True, READ),
    ("livy:notebook_rename", "post", True, CHANGE),
    ("livy:notebook_copy", "post", True, _row(owner=302, shared=403, admin=302)),
    ("livy:notebook_delete", "get", True, _row(owner=200, shared=403, admin=403)),
    ("livy:notebook_delete", "post", True, CHANGE),
    ("livy:notebook_share", "get", True, _row(owner=200, shared=403, admin=403)),
    ("livy:notebook_share", "post", True, CHANGE),
    ("livy:notebook_save", "post", True, _row(owner=200, shared=403, admin=403)),
    # The notebook page's runs: the owner only (a bad mode: 400, checked after the permission).
    ("livy:notebook_run", "post", True, _row(owner=400, shared=403, admin=403)),
    ("livy:notebook_poll", "post", True, _row(owner=200, shared=403, admin=403)),
    ("livy:notebook_cancel", "post", True, _row(owner=200, shared=403, admin=403)),
]
NOTEBOOK_URL_NAMES = {name for name, *_ in NOTEBOOK_MATRIX}


@pytest.fixture
def world(django_user_model):
    cast = make_cast()
    auditors = Group.objects.create(name="Auditors")
    shared = django_user_model.objects.create_user("sam", password="pw")
    shared.groups.add(cast.viewers.__class__.objects.get(name="Viewers"), auditors)
    notebook = mixed_notebook(cast.owner, SECRET_TITLE)
    service.share(notebook, auditors)
    users = {"owner": cast.owner, "other": cast.other, "viewer": cast.viewer, "shared": shared, "admin": cast.admin}
    return users, notebook


def _data(name: str, notebook: Notebook):
    if name == "livy:notebook_rename":
        return {"title": "Renamed"}, None
    if name == "livy:notebook_save":
        cells = [{"id": c.pk, "kind": c.kind, "source": c.source} for c in selectors.cells_of(notebook)]
        return json.dumps({"version": notebook.version, "cells": cells}), "application/json"
    if name == "livy:notebook_run":
        return json.dumps({"mode": "sideways"}), "application/json"
    if name in ("livy:notebook_poll", "livy:notebook_cancel"):
        return json.dumps({"known": {}}), "application/json"
    return {}, None


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("name,method,needs_pk,expected", NOTEBOOK_MATRIX,
                         ids=[f"{n}-{m}" for n, m, *_ in NOTEBOOK_MATRIX])
def test_notebook_matrix(client, world, role, name, method, needs_pk, expected):
    users, notebook = world
    if role != "anonymous":
        client.force_login(users[role])
    data, content_type = _data(name, notebook)
    url = reverse(name, args=[notebook.pk] if needs_pk else [])
    extra = {"content_type": content_type} if content_type else {}
    response = getattr(client, method)(url, data, **extra)
    want = expected[role]
    if want == LOGIN:
        assert response.status_code == 302 and response["Location"].startswith(reverse("login")), response
    else:
        assert response.status_code == want, (role, name, method, response.status_code)
    if role in ("other", "viewer"):
        body = response.content.decode()
        assert SECRET_TITLE not in body and SECRET_SOURCE not in body
    still = Notebook.objects.filter(pk=notebook.pk).first()
    if role not in ("owner",):
        # Nobody but the owner changed, deleted or re-shared it.
        assert still is not None and still.title == SECRET_TITLE
        assert list(still.shared_with.values_list("name", flat=True)) == ["Auditors"]
        assert still.version == 1


def test_admin_and_shared_viewer_read_the_notebook(client, world):
    users, notebook = world
    for role in ("admin", "shared"):
        client.force_login(users[role])
        assert SECRET_TITLE in client.get(reverse("livy:notebook_list")).content.decode()
        assert SECRET_SOURCE in client.get(reverse("livy:notebook_detail", args=[notebook.pk])).content.decode()
    client.force_login(users["other"])
    assert SECRET_TITLE not in client.get(reverse("livy:notebook_list")).content.decode()


def test_the_django_admin_lists_and_searches_notebooks_with_read_only_cells(client, world):
    users, notebook = world
    client.force_login(users["admin"])
    listing = client.get("/admin/livy/notebook/?q=regions").content.decode()
    assert SECRET_TITLE in listing
    change = client.get(f"/admin/livy/notebook/{notebook.pk}/change/").content.decode()
    assert "regions = 3" in change and 'name="cells-0-source"' not in change  # shown, not editable
    assert client.get("/admin/livy/notebook/add/").status_code == 403


def _cell_statement(notebook, output, index=3):
    from livy.models import Cell, SparkSession, Statement
    from tests.support.livy_json import session_row

    cell = selectors.cells_of(notebook)[index]
    session = SparkSession.objects.filter(owner=notebook.owner).first() or session_row(notebook.owner)
    stmt = Statement.objects.create(session=session, author=notebook.owner, code=cell.source,
                                    cell=cell, state="available", output=output)
    Cell.objects.filter(pk=cell.pk).update(last_statement=stmt)
    return stmt


@pytest.mark.parametrize("role,status", [("owner", 200), ("shared", 200), ("admin", 200), ("other", 404),
                                         ("viewer", 404)])
def test_cell_downloads_work_for_those_the_notebook_is_shared_with(client, world, role, status):
    from livy.output import TABLE_MIME

    users, notebook = world
    table = _cell_statement(notebook, {"status": "ok", "data": {TABLE_MIME: {
        "headers": [{"name": "n", "type": "INT_TYPE"}], "data": [[41], [42]]}}})
    long_text = _cell_statement(notebook, {"status": "ok", "data": {"text/plain": "x" * 10}}, index=2)
    client.force_login(users[role])
    csv = client.get(reverse("livy:statement_csv", args=[table.pk]))
    text = client.get(reverse("livy:statement_output", args=[long_text.pk]))
    assert (csv.status_code, text.status_code) == (status, status)
    if status == 200:
        assert b"".join(csv.streaming_content).decode().splitlines() == ["n", "41", "42"]
    # And the page the shared viewer reads links to them.
    if role == "shared":
        body = client.get(reverse("livy:notebook_detail", args=[notebook.pk])).content.decode()
        assert reverse("livy:statement_csv", args=[table.pk]) in body
