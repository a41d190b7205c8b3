"""Upload limits held while the body arrives (livy/uploads.py), and job uploads deleted once no
job needs them (livy.batches.clean_uploads, ``manage.py maintenance``).

The streaming tests hand the request a fake ``wsgi.input`` (what gunicorn gives Django) that
counts the bytes read: a refused body is never read, a stopped one is read no further than
the limit, and no temporary file is left."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone

from livy import batches, uploads
from livy.models import Batch, Notebook
from myapp.config import load_config
from tests.support.livy_json import LIVY

pytestmark = pytest.mark.django_db

BOUNDARY = "----livytestboundary"
MULTIPART = f"multipart/form-data; boundary={BOUNDARY}"


class CountingInput:
    """A ``wsgi.input``: ``head``, then ``filler`` bytes for ever (a client that keeps sending),
    counting what is read."""

    def __init__(self, head: bytes, filler: bytes = b"x"):
        self.head = head
        self.filler = filler
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        assert size is not None and size >= 0, "an unbounded read of an endless body"
        out = self.head[self.read_bytes:self.read_bytes + size]
        missing = size - len(out)
        if missing > 0:
            out += self.filler * missing
        self.read_bytes += len(out)
        return out

    def readline(self, size: int = -1) -> bytes:
        return self.read(size if size >= 0 else 1024)


class Exploding:
    """A ``wsgi.input`` that must not be read at all."""

    def read(self, *args: object) -> bytes:
        raise AssertionError("the body was read")

    readline = read


def _part(name: str, value: str) -> bytes:
    return f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()


def _file_part(name: str, filename: str, content: bytes) -> bytes:
    return (f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n").encode() + content + b"\r\n"


def _end() -> bytes:
    return f"--{BOUNDARY}--\r\n".encode()


def _post_raw(client, url: str, stream, length: int | None, **extra):
    environ = {"wsgi.input": stream, "CONTENT_TYPE": MULTIPART, **extra}
    if length is not None:
        environ["CONTENT_LENGTH"] = str(length)
    return client.generic("POST", url, b"", content_type=MULTIPART, **environ)


@pytest.fixture
def upload_dir(settings, tmp_path):
    folder = tmp_path / "uploads"
    settings.CONFIG = settings.CONFIG.model_copy(update={
        "LIVY_BATCH_UPLOAD_DIR": str(folder), "LIVY_BATCH_MAX_UPLOAD_BYTES": 4096,
        "LIVY_BATCH_UPLOAD_RETENTION_DAYS": 7,
    })
    return folder


@pytest.fixture
def temp_dir(settings, tmp_path):
    """Django's temporary upload files go here (every upload over 10 bytes is one)."""
    folder = tmp_path / "django-tmp"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    settings.FILE_UPLOAD_MAX_MEMORY_SIZE = 10
    return folder


@pytest.fixture
def editor(django_user_model):
    call_command("setup_roles", verbosity=0)
    user = django_user_model.objects.create_user("erin", password="pw")
    user.groups.add(Group.objects.get(name="Editors"))
    return django_user_model.objects.get(pk=user.pk)


@pytest.fixture
def erin(client, editor):
    client.force_login(editor)
    return client


def _stored_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()] if folder.exists() else []


# --------------------------------------------------------------------- Content-Length
def test_an_over_limit_content_length_is_refused_unread_with_the_pages_message(erin, upload_dir):
    limit = uploads.job_limit()
    response = _post_raw(erin, reverse("livy:job_submit"), Exploding(), limit.body + 1)
    assert response.status_code == 303 and response["Location"] == reverse("livy:job_submit")
    page = erin.get(response["Location"]).content.decode()
    assert f"more than the {uploads.human_size(limit.body)} accepted here" in page
    assert "job files of up to 4 KB each, at most 10 at once, are accepted. Nothing was received or stored." in page
    assert not _stored_files(upload_dir) and not Batch.objects.exists()


def test_a_json_caller_gets_413_unread(erin, upload_dir):
    response = _post_raw(erin, reverse("livy:job_submit"), Exploding(), 10 ** 12, HTTP_ACCEPT="application/json")
    assert response.status_code == 413 and response["Content-Type"] == "application/problem+json"
    assert "Nothing was received or stored." in response.json()["detail"]


def test_an_api_path_with_a_registered_limit_gets_a_problem_unread(erin, monkeypatch):
    """How the API declares a limit (by URL name); its 413 stays a problem with the message."""
    from django.urls import resolve

    route = resolve("/api/v1/sessions").route
    monkeypatch.setitem(uploads.LIMITS, route, uploads.Declared(uploads.job_limit, back_to=""))
    response = _post_raw(erin, "/api/v1/sessions", Exploding(), 10 ** 12)
    assert response.status_code == 413 and response["Content-Type"] == "application/problem+json"
    assert response.json()["detail"].endswith("Nothing was received or stored.")


def test_the_api_batch_upload_is_refused_unread_over_the_jobs_limit(erin, upload_dir):
    """POST /api/v1/batches declares the Jobs page's limit: a body over it is a 413 problem
    and is never read."""
    response = _post_raw(erin, "/api/v1/batches", Exploding(), uploads.job_limit().body + 1)
    assert response.status_code == 413 and response["Content-Type"] == "application/problem+json"
    assert "job files of up to 4 KB each" in response.json()["detail"]
    assert not _stored_files(upload_dir) and not Batch.objects.exists()


def test_the_api_batch_upload_drops_an_oversize_file_while_streaming(client, editor, upload_dir, temp_dir):
    """Under the request limit but one file over the file limit: a 422 naming the file, nothing
    stored, no temporary file left, no batch."""
    from api import tokens

    _row, token = tokens.issue(editor, "ci")
    body = _part("name", "nightly") + _file_part("file", "huge.py", b"x" * 300_000) + _end()
    response = _post_raw(client, "/api/v1/batches", CountingInput(body), len(body),
                         HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 422
    assert "huge.py is larger than 4 KB" in response.json()["detail"]
    assert not _stored_files(upload_dir) and not list(temp_dir.iterdir())
    assert not Batch.objects.exists()


def test_the_api_notebook_import_is_refused_unread_over_its_limit(erin, settings):
    settings.NOTEBOOK_MAX_IMPORT_BYTES = 2048
    response = _post_raw(erin, "/api/v1/notebooks", Exploding(), 2048 + 64 * 1024 + 1)
    assert response.status_code == 413 and response["Content-Type"] == "application/problem+json"
    assert not Notebook.objects.exists()


def test_an_over_limit_notebook_import_is_refused_unread(erin, settings):
    settings.NOTEBOOK_MAX_IMPORT_BYTES = 2048
    response = _post_raw(erin, reverse("livy:notebook_import"), Exploding(), 2048 + 64 * 1024 + 1)
    assert response.status_code == 303 and response["Location"] == reverse("livy:notebook_list")
    page = erin.get(response["Location"]).content.decode()
    assert "notebooks of up to 0.0 MB can be imported. Nothing was received or stored." in page
    assert not Notebook.objects.exists()


def test_the_limit_follows_the_setting(erin, upload_dir, settings):
    """Just under the limit is read (and answered by the form), just over is not."""
    body = _part("label", "x") + _end()
    response = _post_raw(erin, reverse("livy:job_submit"), CountingInput(body), len(body))
    assert response.status_code == 400 and "Choose the main file" in response.content.decode()
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_BATCH_MAX_UPLOAD_BYTES": 1})
    limit = uploads.job_limit()
    assert _post_raw(erin, reverse("livy:job_submit"), Exploding(), limit.body + 1).status_code == 303


# ---------------------------------------------------------------------------- streaming
def test_a_file_over_its_limit_is_dropped_while_streaming_and_the_form_kept(erin, upload_dir, temp_dir):
    """Content-Length under the request limit, one file over the file limit: the file is
    dropped at 4 KB (never stored, its temporary file gone), the other fields arrive."""
    body = (_part("label", "keep-this-label") + _file_part("file_upload", "huge.py", b"x" * 300_000)
            + _part("args", "--day\n2026-12-02") + _end())
    stream = CountingInput(body)
    response = _post_raw(erin, reverse("livy:job_submit"), stream, len(body))
    page = response.content.decode()
    assert response.status_code == 400
    assert "huge.py is larger than 4 KB: job files of up to 4 KB each, at most 10 at once, are accepted." in page
    assert "Choose the main file" not in page  # the one message for the field
    assert 'value="keep-this-label"' in page and "2026-12-02" in page
    assert not _stored_files(upload_dir) and not list(temp_dir.iterdir())
    assert not Batch.objects.exists()


def test_a_lying_content_length_is_read_no_further_than_declared(erin, upload_dir, temp_dir):
    """The client declares 200 KB and keeps sending: Django reads the declared bytes at most,
    and the file among them is dropped at its limit."""
    head = _part("label", "liar") + _file_part("file_upload", "endless.py", b"")[:-2]
    stream = CountingInput(head)
    response = _post_raw(erin, reverse("livy:job_submit"), stream, 200_000)
    assert stream.read_bytes <= 200_000
    assert response.status_code == 400
    assert "endless.py is larger than 4 KB" in response.content.decode()
    assert not _stored_files(upload_dir) and not list(temp_dir.iterdir())


def test_too_many_files_stop_the_body_there(erin, upload_dir, temp_dir):
    """Eleven small files (ten are accepted): the body is not read past the eleventh file's
    start, nothing is stored and no temporary file is left, even of the ten before."""
    files = b"".join(_file_part("files_upload", f"part{i}.txt", b"y" * 100) for i in range(11))
    tail = _part("args", "z" * 600_000) + _end()
    body = _part("label", "many") + files + tail
    stream = CountingInput(body)
    response = _post_raw(erin, reverse("livy:job_submit"), stream, len(body))
    page = response.content.decode()
    assert response.status_code == 413
    assert "More than 10 files were sent" in page and "The upload was stopped" in page
    assert 'value="many"' in page  # the fields received before the cut are shown again
    assert stream.read_bytes < len(body) - 500_000  # the rest was never read
    assert not _stored_files(upload_dir) and not list(temp_dir.iterdir())


def test_a_chunked_body_without_length_is_not_read(erin, upload_dir):
    """gunicorn passes a chunked body with no Content-Length: Django reads it as empty, so an
    endless one costs nothing (the form says what is missing)."""
    stream = CountingInput(b"", filler=b"x")
    response = _post_raw(erin, reverse("livy:job_submit"), stream, None, **{"wsgi.input_terminated": True})
    assert stream.read_bytes == 0
    assert response.status_code == 400 and "Choose the main file" in response.content.decode()


def test_the_notebook_import_drops_an_oversize_file_while_streaming(erin, settings, temp_dir):
    settings.NOTEBOOK_MAX_IMPORT_BYTES = 2048
    body = _file_part("file", "big.ipynb", b"{" + b" " * 50_000 + b"}") + _end()
    response = _post_raw(erin, reverse("livy:notebook_import"), CountingInput(body), len(body))
    assert response.status_code == 400
    assert "big.ipynb is larger than 2 KB: notebooks of up to 0.0 MB can be imported." in response.content.decode()
    assert not Notebook.objects.exists() and not list(temp_dir.iterdir())


def test_urls_without_a_declared_limit_take_no_files(settings, rf):
    request = rf.post("/somewhere/", {"a": "b"})
    handler = uploads.LimitedUploadHandler(request)
    assert (handler.limit.max_files, handler.limit.per_file) == (0, 0)
    assert handler.limit.body == settings.DATA_UPLOAD_MAX_MEMORY_SIZE + uploads.UNDECLARED_MARGIN
    assert settings.FILE_UPLOAD_HANDLERS[0] == "livy.uploads.LimitedUploadHandler"


def test_an_anonymous_multipart_post_to_the_sign_in_page_stores_no_file(client, temp_dir):
    """The sign-in page takes no files: the body stops at the first one (the CSRF check reads
    the form), nothing of the 2 MB file is read or stored."""
    body = _part("username", "someone") + _file_part("junk", "junk.bin", b"j" * 2_000_000) + _end()
    stream = CountingInput(body)
    response = _post_raw(client, reverse("login"), stream, len(body))
    assert response.status_code == 200  # the sign-in form again (the test client skips the CSRF check)
    assert uploads.stopped(response.wsgi_request).startswith("A file was sent: this address takes no files")
    assert stream.read_bytes < 200_000
    assert not list(temp_dir.iterdir())


def test_an_undeclared_url_refuses_a_body_over_the_form_limit_unread(client, erin, settings):
    """Over DATA_UPLOAD_MAX_MEMORY_SIZE plus the margin: never read; a page gets a 413 page
    with the message, an API or JSON caller a 413 problem."""
    over = settings.DATA_UPLOAD_MAX_MEMORY_SIZE + uploads.UNDECLARED_MARGIN + 1
    response = _post_raw(client, reverse("login"), Exploding(), over, HTTP_REFERER="http://testserver/accounts/login/")
    page = response.content.decode()
    assert response.status_code == 413 and response["Content-Type"].startswith("text/html")
    assert "this address takes no files and at most 2.5 MB of form data. Nothing was received or stored." in page
    assert 'href="http://testserver/accounts/login/"' in page
    response = _post_raw(erin, reverse("livy:notebook_save", args=[1]), Exploding(), over,
                         HTTP_ACCEPT="application/json")
    assert response.status_code == 413 and response["Content-Type"] == "application/problem+json"
    assert response.json()["message"] == response.json()["detail"]
    response = _post_raw(erin, "/api/v1/sessions", Exploding(), over)
    assert response.status_code == 413 and response["Content-Type"] == "application/problem+json"
    assert "takes no files" in response.json()["detail"]
    # At the limit the body is read (and the form answered as usual).
    body = _part("username", "someone") + _end()
    stream = CountingInput(body)
    assert _post_raw(client, reverse("login"), stream, len(body)).status_code in (200, 400, 403)
    assert stream.read_bytes == len(body)


def test_a_3_mb_upload_still_works_where_uploads_are_declared(erin, editor, client, settings, temp_dir):
    """The notebook import page and the API's notebook and batch uploads take more than the
    undeclared limit (DATA_UPLOAD_MAX_MEMORY_SIZE)."""
    import nbformat

    from api import tokens

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("y" * 150_000) for _ in range(22)]
    content = nbformat.writes(nb).encode()
    assert len(content) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE + uploads.UNDECLARED_MARGIN
    body = _file_part("file", "large.ipynb", content) + _end()
    response = _post_raw(erin, reverse("livy:notebook_import"), CountingInput(body), len(body))
    assert response.status_code == 302 and Notebook.objects.count() == 1
    _row, token = tokens.issue(editor, "ci")
    response = _post_raw(client, "/api/v1/notebooks", CountingInput(body), len(body),
                         HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 201 and Notebook.objects.count() == 2


def test_a_3_mb_job_file_is_submitted_from_the_jobs_page(erin, upload_dir, temp_dir, settings, livy_api):
    import json

    from tests.support.livy_json import batch_json

    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_BATCH_MAX_UPLOAD_BYTES": 4 * 1024 * 1024})
    content = b"# big\n" * 500_000
    assert len(content) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE + uploads.UNDECLARED_MARGIN
    sent = {}

    def created(request):
        sent.update(json.loads(request.body))
        return 201, {}, json.dumps(batch_json(7, "starting", name=sent["name"]))

    livy_api.add_callback("POST", f"{LIVY}/batches", callback=created)
    body = _part("label", "big") + _file_part("file_upload", "big_job.py", content) + _end()
    response = _post_raw(erin, reverse("livy:job_submit"), CountingInput(body), len(body))
    assert response.status_code == 302, response.content[:500]
    assert Path(sent["file"]).read_bytes() == content and Batch.objects.get().label == "big"


def test_a_3_mb_job_file_is_stored_through_the_api(client, editor, upload_dir, temp_dir, settings):
    from api import tokens

    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_BATCH_MAX_UPLOAD_BYTES": 4 * 1024 * 1024})
    _row, token = tokens.issue(editor, "ci")
    content = b"# big\n" * 500_000
    assert len(content) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE + uploads.UNDECLARED_MARGIN
    body = _part("name", "nightly") + _file_part("file", "big_job.txt", content) + _end()
    response = _post_raw(client, "/api/v1/batches", CountingInput(body), len(body),
                         HTTP_AUTHORIZATION=f"Bearer {token}")
    # Past the upload limits: the form's own check (a .txt is no main file) answers.
    assert response.status_code == 422, response.content[:300]
    assert "Livy cannot use this type as a main file" in response.json()["detail"]


# ------------------------------------------------------------------------------ cleanup
def _store(upload_dir: Path, content: bytes, name: str, *, age_days: float) -> str:
    folder = upload_dir / hashlib.sha256(content).hexdigest()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    then = time.time() - age_days * 86400
    os.utime(path, (then, then))
    return str(path)


def _batch(owner, name: str, *, file: str, files: list[str] | None = None, ended_days: float | None = None):
    ended = timezone.now() - timedelta(days=ended_days) if ended_days is not None else None
    return Batch.objects.create(owner=owner, backend="apache", endpoint=LIVY, livy_id=name[-1], name=name,
                                state="success" if ended else "running", ended_at=ended,
                                inputs={"file": file, "files": files or []})


def test_cleanup_deletes_old_uploads_and_keeps_the_needed_ones(editor, upload_dir):
    old_only = _store(upload_dir, b"print('old')", "old.py", age_days=30)
    shared = _store(upload_dir, b"{}", "shared.json", age_days=30)
    recent = _store(upload_dir, b"print('recent')", "recent.py", age_days=30)
    orphan_old = _store(upload_dir, b"orphan", "orphan.py", age_days=30)
    orphan_new = _store(upload_dir, b"kept by a form shown again", "form.py", age_days=0)
    leftover = upload_dir / ".upload-abc"
    leftover.write_bytes(b"half")
    os.utime(leftover, (time.time() - 30 * 86400,) * 2)
    _batch(editor, "pytest-job-1", file=old_only, files=[shared], ended_days=20)
    _batch(editor, "pytest-job-2", file="hdfs:///x.py", files=[shared])  # unfinished: needs shared.json
    _batch(editor, "pytest-job-3", file=recent, ended_days=2)  # ended within the 7 days
    Batch.objects.create(owner=editor, backend="apache", endpoint=LIVY, name="pytest-job-empty", inputs={})
    report = batches.clean_uploads()
    assert sorted(report.deleted) == sorted([old_only, orphan_old, str(leftover)])
    assert report.kept == 3
    for path in (shared, recent, orphan_new):
        assert Path(path).exists()
    assert not Path(old_only).parent.exists()  # emptied folders go too
    # Once the unfinished job has ended long ago too, the shared file goes.
    Batch.objects.filter(name="pytest-job-2").update(state="success", ended_at=timezone.now() - timedelta(days=9))
    assert batches.clean_uploads().deleted == [shared]


def test_uploading_an_old_file_again_keeps_it(editor, upload_dir):
    path = _store(upload_dir, b"print(1)", "again.py", age_days=30)

    class Upload:
        name, size = "again.py", 8

        def chunks(self):
            yield b"print(1)"

    assert batches.store_upload(Upload()) == path
    assert batches.clean_uploads().deleted == []


def test_maintenance_deletes_old_uploads(editor, upload_dir, livy_api):
    gone = _store(upload_dir, b"print('gone')", "gone.py", age_days=30)
    _batch(editor, "pytest-job-1", file=gone, ended_days=10)
    livy_api.get(f"{LIVY}/sessions", json={"from": 0, "total": 0, "sessions": []})
    out = StringIO()
    call_command("maintenance", "--dry-run", stdout=out, stderr=StringIO())
    assert f"upload {gone} would be deleted" in out.getvalue() and Path(gone).exists()
    out = StringIO()
    call_command("maintenance", stdout=out, stderr=StringIO())
    assert "1 old job upload(s) deleted, 0 kept (LIVY_BATCH_UPLOAD_RETENTION_DAYS=7)." in out.getvalue()
    assert not Path(gone).exists()


def test_resubmit_of_a_cleaned_batch_says_its_upload_is_gone(erin, editor, upload_dir, livy_api):
    gone = _store(upload_dir, b"print('etl')", "etl_job.py", age_days=30)
    row = _batch(editor, "pytest-job-1", file=gone, ended_days=10)
    batches.clean_uploads()
    message = ("etl_job.py was uploaded for an earlier job and has been deleted from the server (uploads are kept "
               "7 days after their last job ended, LIVY_BATCH_UPLOAD_RETENTION_DAYS): upload it again.")
    page = erin.get(reverse("livy:job_resubmit", args=[row.pk])).content.decode()
    assert message in page
    response = erin.post(reverse("livy:job_submit"), {"file_path": gone, "resubmitted_from": row.pk})
    assert response.status_code == 400 and message in response.content.decode()
    assert Batch.objects.count() == 1  # nothing sent to Livy


@pytest.mark.parametrize("value", ["0", "-3", "many"])
def test_the_retention_must_be_a_number_of_days(settings, value):
    from livy.checks import configuration_check

    settings.CONFIG, settings.CONFIG_PROBLEMS = load_config({"LIVY_BATCH_UPLOAD_RETENTION_DAYS": value,
                                                             "DJANGO_SECRET": "s" * 50})
    found = configuration_check(None)
    assert [(m.id, m.obj) for m in found] == [("livy.E001", "LIVY_BATCH_UPLOAD_RETENTION_DAYS")]
    assert settings.CONFIG.LIVY_BATCH_UPLOAD_RETENTION_DAYS == 7
    assert load_config({"LIVY_BATCH_UPLOAD_RETENTION_DAYS": "30"})[0].LIVY_BATCH_UPLOAD_RETENTION_DAYS == 30


# --------------------------------------------------------------------------------- ASGI
def _asgi(app, headers, chunks):
    """Run ``app`` for one POST whose body arrives as ``chunks``; returns (events sent,
    chunks received by the app)."""
    import asyncio

    sent: list[dict] = []
    pending = list(chunks)
    given = []

    async def receive():
        if not pending:
            return {"type": "http.disconnect"}
        chunk = pending.pop(0)
        given.append(chunk)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(event):
        sent.append(event)

    scope = {"type": "http", "method": "POST", "path": "/jobs/new/", "headers": headers}
    asyncio.run(app(scope, receive, send))
    return sent, given


def test_asgi_hands_django_an_empty_body_when_the_declared_one_is_over_the_limit():
    """The body is not read: the app sees an empty body (the middleware then refuses it by
    its Content-Length); a later receive waits until cancelled."""
    import asyncio

    seen = []

    async def app(scope, receive, send):
        seen.append(await receive())
        try:
            await asyncio.wait_for(receive(), 0.05)
        except TimeoutError:
            seen.append("waited")
        await send({"type": "http.response.start", "status": 413, "headers": []})

    sent, given = _asgi(uploads.asgi_body_limit(app, lambda scope: 1000), [(b"content-length", b"5000")],
                        [b"x" * 5000])
    assert seen == [{"type": "http.request", "body": b"", "more_body": False}, "waited"]
    assert given == [] and sent[0]["status"] == 413


def test_asgi_cuts_a_chunked_body_at_the_limit():
    seen = []

    async def app(scope, receive, send):  # reads like Django's ASGIHandler.read_body
        while True:
            event = await receive()
            if event["type"] == "http.disconnect":
                seen.append("disconnect")
                return
            seen.append(len(event["body"]))
            if not event.get("more_body"):
                return

    _, given = _asgi(uploads.asgi_body_limit(app, lambda scope: 1000), [], [b"x" * 400] * 10)
    assert seen == [400, 400, "disconnect"] and len(given) == 3  # nothing read after the cut


def test_asgi_applies_the_limit_of_the_path(settings):
    """Each path's declared limit, not the widest: the sign-in page takes a form, the
    notebook import NOTEBOOK_MAX_IMPORT_BYTES, the Jobs page its files."""
    def limit(path, root=""):
        return uploads.scope_body_limit({"type": "http", "path": root + path, "root_path": root})

    assert limit("/accounts/login/") == settings.DATA_UPLOAD_MAX_MEMORY_SIZE + uploads.UNDECLARED_MARGIN
    assert limit("/no/such/page/") == limit("/accounts/login/")
    assert limit("/jobs/new/") == uploads.job_limit().body
    assert limit("/notebooks/import/") == uploads.notebook_import_limit().body
    assert limit("/api/v1/notebooks") == limit("/api/v1/notebooks/3") == uploads.api_notebook_limit().body
    assert limit("/api/v1/batches") == uploads.job_limit().body
    assert limit("/jobs/new/", root="/livy") == uploads.job_limit().body


def test_the_asgi_application_refuses_an_over_limit_body_unread_as_wsgi_does(settings):
    """myapp.asgi: a 3 MB body to an API path or the sign-in page that declare no limit is never
    read (413 problem, 413 page); a 3 MB notebook
    import declares less than its limit, so it reaches Django (401: no token)."""
    from myapp.asgi import application

    size = 3 * 1024 * 1024
    headers = [(b"content-length", str(size).encode()), (b"content-type", b"application/x-ipynb+json"),
               (b"host", b"testserver")]

    def call(path):
        import asyncio

        sent = []
        chunks = [b"{" + b" " * (size - 2) + b"}"]
        taken = []

        async def receive():
            if not chunks:
                await asyncio.Event().wait()
            taken.append(1)
            return {"type": "http.request", "body": chunks.pop(), "more_body": False}

        async def send(event):
            sent.append(event)

        scope = {"type": "http", "method": "POST", "path": path, "headers": headers, "query_string": b"",
                 "server": ("testserver", 80), "client": ("127.0.0.1", 5000), "scheme": "http",
                 "http_version": "1.1", "asgi": {"version": "3.0"}}
        asyncio.run(application(scope, receive, send))
        return sent[0]["status"], b"".join(e.get("body", b"") for e in sent[1:]), len(taken)

    status, body, taken = call("/api/v1/sessions")
    assert (status, taken) == (413, 0) and b"takes no files" in body
    status, body, taken = call("/accounts/login/")
    assert (status, taken) == (413, 0) and b"Nothing was received or stored." in body
    status, body, taken = call("/api/v1/notebooks")
    assert (status, taken) == (401, 1)
