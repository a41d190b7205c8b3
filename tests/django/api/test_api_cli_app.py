"""python -m api.cli against the app itself: the client's HTTP calls are answered by Django's
test client (a `responses` callback), Livy faked over HTTP beside it, so the client and the
API are tested together: batch submit with uploads and URIs, notebook deploy / export / run."""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

import nbformat
import pytest
import responses

from api import cli
from livy.models import Batch, Notebook
from tests.support.livy_json import LIVY, batch_json, batch_log_json, session_row
from tests.support.livy_statements import Livy

pytestmark = pytest.mark.django_db

APP = "http://app.test"


@pytest.fixture
def app(client, livy_api, monkeypatch, settings, tmp_path):
    """The app at APP for the command-line client, as the editor (erin)."""
    settings.CONFIG = settings.CONFIG.model_copy(update={
        "LIVY_BATCH_UPLOAD_DIR": str(tmp_path / "uploads"), "LIVY_REFRESH_MIN_INTERVAL": 0.0})
    monkeypatch.setattr(cli, "BATCH_POLL", (0.0, 0.0))  # the client's own pacing between reads

    def forward(request):
        url = urlsplit(request.url)
        path = url.path + (f"?{url.query}" if url.query else "")
        body = request.body or b""
        body = body.encode() if isinstance(body, str) else body
        answer = client.generic(request.method, path, body, content_type=request.headers.get("Content-Type", ""),
                                headers={"Authorization": request.headers.get("Authorization", "")})
        return answer.status_code, {k: v for k, v in answer.items() if k.lower() != "content-length"}, answer.content

    livy_api.add_callback(responses.GET, re.compile(f"{APP}/.*"), callback=forward)
    livy_api.add_callback(responses.POST, re.compile(f"{APP}/.*"), callback=forward)
    livy_api.add_callback(responses.PUT, re.compile(f"{APP}/.*"), callback=forward)
    return livy_api


@pytest.fixture
def as_editor(token_of, monkeypatch):
    monkeypatch.setenv("LIVY_WEB_TOKEN", token_of("editor"))


def run_cli(*argv: str) -> int:
    return cli.main(["--url", APP, *argv])


def test_batch_submit_uploads_local_files_waits_and_exits_0(app, as_editor, tmp_path, capsys):
    job = tmp_path / "etl_job.py"
    job.write_bytes(b"print('ETL_JOB_RESULT')\n")
    (tmp_path / "etl_config.json").write_text("{}")
    sent = {}

    def created(request):
        sent.update(json.loads(request.body))
        return 201, {}, json.dumps(batch_json(3, "starting", name=sent["name"]))

    app.add_callback(responses.POST, f"{LIVY}/batches", callback=created)
    app.get(f"{LIVY}/batches/3/log", json=batch_log_json(3, ["ETL_JOB_RESULT rows=100"], []))
    reads = []

    def read(request):
        reads.append(1)
        return 200, {}, json.dumps(batch_json(3, "running" if len(reads) < 2 else "success", name=sent["name"]))

    app.add_callback(responses.GET, f"{LIVY}/batches/3", callback=read)
    code = run_cli("batch", "submit", str(job), "--py-files", "s3a://bucket/deps.zip", "--files",
                   str(tmp_path / "etl_config.json"), "--arg=--output", "--arg", "/tmp/out dir",
                   "--conf", "spark.sql.shuffle.partitions=4", "--name", "nightly")
    out = capsys.readouterr()
    assert code == 0, out.err
    assert sent["file"].endswith("/etl_job.py") and sent["pyFiles"] == ["s3a://bucket/deps.zip"]
    assert sent["files"][0].endswith("/etl_config.json") and sent["args"] == ["--output", "/tmp/out dir"]
    assert sent["conf"] == {"spark.sql.shuffle.partitions": "4"}
    assert "ETL_JOB_RESULT rows=100" in out.out and "success" in out.err
    assert Batch.objects.get().label == "nightly"


def test_a_job_that_dies_exits_1_and_bad_input_exits_2(app, as_editor, tmp_path, capsys):
    names = []

    def created(request):
        names.append(json.loads(request.body)["name"])
        return 201, {}, json.dumps(batch_json(4, "starting", name=names[-1]))

    app.add_callback(responses.POST, f"{LIVY}/batches", callback=created)
    app.add_callback(responses.GET, f"{LIVY}/batches/4",
                     callback=lambda request: (200, {}, json.dumps(batch_json(4, "dead", name=names[-1]))))
    app.get(f"{LIVY}/batches/4/log", json=batch_log_json(4, ["Traceback", "ValueError: bad row"], []))
    assert run_cli("batch", "submit", "hdfs:///jobs/job.py", "--log-lines", "5") == 1
    assert "ValueError: bad row" in capsys.readouterr().out
    assert run_cli("batch", "submit", "hdfs:///jobs/readme.txt") == 2
    assert "Livy cannot use this type as a main file" in capsys.readouterr().err


def sample_ipynb(tmp_path, source="print(day)"):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("day = 'x'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell(source)]
    path = tmp_path / "report.ipynb"
    path.write_text(nbformat.writes(nb))
    return path


def test_notebook_deploy_export_and_run_with_parameters(app, as_editor, people, tmp_path, capsys):
    session_row(people["editor"])
    livy = Livy(app)
    assert run_cli("notebook", "deploy", str(sample_ipynb(tmp_path)), "--title", "Report") == 0
    notebook = Notebook.objects.get()
    assert capsys.readouterr().out.strip() == str(notebook.pk) and notebook.title == "Report"
    # Deploying again onto it replaces its cells (a versioned save).
    assert run_cli("notebook", "deploy", str(sample_ipynb(tmp_path, "print(day, 2)")), "--id", str(notebook.pk)) == 0
    notebook.refresh_from_db()
    assert notebook.version == 2 and notebook.cells.order_by("position").last().source == "print(day, 2)"
    out = tmp_path / "exported.ipynb"
    assert run_cli("notebook", "export", str(notebook.pk), "-o", str(out)) == 0
    assert nbformat.reads(out.read_text(), as_version=4).cells[1].source == "print(day, 2)"
    capsys.readouterr()
    assert run_cli("notebook", "run", str(notebook.pk), "--param", "day=\"2026-12-01\"", "--param", "n=3",
                   "--wait", "--timeout", "30") == 0
    printed = capsys.readouterr()
    assert "parameters\tavailable" in printed.out and "Run all finished." in printed.err
    assert "day = '2026-12-01'" in livy.sent[1] and "n = 3" in livy.sent[1]


def test_a_failing_notebook_run_exits_1(app, as_editor, people, tmp_path, capsys):
    session_row(people["editor"])
    Livy(app)
    run_cli("notebook", "deploy", str(sample_ipynb(tmp_path, "boom")))
    notebook = Notebook.objects.get()
    assert run_cli("notebook", "run", str(notebook.pk), "--wait", "--timeout", "30") == 1
    assert "NameError" in capsys.readouterr().err


def test_notebook_deploy_of_a_3_mb_notebook_new_and_onto_one(app, as_editor, people, tmp_path, capsys, settings):
    """``notebook deploy`` sends the .ipynb as the body (a new notebook) or inside a PUT (onto
    one): both are held to NOTEBOOK_MAX_IMPORT_BYTES, not to DATA_UPLOAD_MAX_MEMORY_SIZE."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(f"# cell {i}\n" + "y" * 150_000) for i in range(22)]
    path = tmp_path / "large.ipynb"
    path.write_text(nbformat.writes(nb))
    assert path.stat().st_size > 3 * 1024 * 1024 > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert run_cli("notebook", "deploy", str(path), "--title", "Large") == 0, capsys.readouterr().err
    notebook = Notebook.objects.get()
    assert capsys.readouterr().out.strip() == str(notebook.pk) and notebook.cells.count() == 22
    nb.cells[-1].source = "print('last')"
    path.write_text(nbformat.writes(nb))
    assert run_cli("notebook", "deploy", str(path), "--id", str(notebook.pk)) == 0, capsys.readouterr().err
    notebook.refresh_from_db()
    assert notebook.version == 2 and notebook.cells.order_by("position").last().source == "print('last')"
