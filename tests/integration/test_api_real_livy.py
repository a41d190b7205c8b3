"""The API against the real local Apache Livy: a personal token runs ``1+1`` with ``wait`` and
reads ``2`` back, and the command-line client exits non-zero for a failing statement."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from api import tokens
from livy import lifecycle
from livy.clients import livy_client
from livy.models import SparkSession
from tests.support.polling import wait_for

pytestmark = [pytest.mark.livy, pytest.mark.django_db(transaction=True)]

SESSION_START_TIMEOUT = 240


@pytest.fixture
def alice(django_user_model, real_livy):
    from django.contrib.auth.models import Group

    call_command("setup_roles", verbosity=0)
    user = django_user_model.objects.create_user("alice")
    user.groups.add(Group.objects.get(name="Editors"))
    yield user
    for session in SparkSession.objects.filter(owner=user, active=True):
        lifecycle.stop_session(session, client=livy_client())


def test_personal_token_runs_1_plus_1_and_reads_2(client, alice):
    token = tokens.issue(alice, "real livy")[1]
    headers = {"Authorization": f"Bearer {token}"}
    started = client.post("/api/v1/statements?wait=60", {"code": "1+1"}, content_type="application/json",
                          headers=headers)
    assert started.status_code == 202, started.content
    location = started["Location"]

    def finished():
        body = client.get(f"{location}?wait=20", headers=headers).json()
        return body if body["terminal"] else None

    body = wait_for(finished, timeout=SESSION_START_TIMEOUT, interval=0.1, what="1+1 through the API")
    assert body["state"] == "available", body
    assert body["output"]["text"] == "2"
    # The session is idle now: a second statement comes back finished within its wait.
    again = client.post("/api/v1/statements?wait=30", {"code": "1/0"}, content_type="application/json",
                        headers=headers).json()
    assert again["state"] == "error" and again["error"]["ename"] == "ZeroDivisionError"


# ------------------------------------------------------------------------- batches, notebooks
#: A local-mode batch takes 15-30 s on 2 idle cores, minutes when the cores are shared.
BATCH_TIMEOUT = 600


def test_the_sample_job_through_api_batches_ends_success(client, alice, tmp_path):
    import subprocess
    from pathlib import Path

    from django.core.files.uploadedfile import SimpleUploadedFile

    jobs = Path(__file__).resolve().parents[2] / "examples" / "jobs"
    zip_path = tmp_path / "packages.zip"
    subprocess.run([str(jobs / "build_dependencies.sh"), str(zip_path)], check=True, capture_output=True)
    output = tmp_path / "etl-output"
    headers = {"Authorization": f"Bearer {tokens.issue(alice, 'real livy batches')[1]}"}
    started = client.post("/api/v1/batches", {
        "file": SimpleUploadedFile("etl_job.py", (jobs / "etl_job.py").read_bytes()),
        "pyFiles": [SimpleUploadedFile("packages.zip", zip_path.read_bytes())],
        "files": [SimpleUploadedFile("etl_config.json", (jobs / "configs/etl_config.json").read_bytes())],
        "args": f"--output\n{output}", "name": "api sample etl",
    }, headers=headers)
    assert started.status_code == 202, started.content
    location = started["Location"]

    def ended():
        body = client.get(location, headers=headers).json()
        return body if body["terminal"] else None

    body = wait_for(ended, timeout=BATCH_TIMEOUT, interval=1.0, what="the sample job through the API")
    log = client.get(f"{location}/log?size=-1", headers=headers).json()["log"]
    assert body["state"] == "success", "\n".join(log[-60:])
    assert f"ETL_JOB_RESULT rows=100 total=14850 output={output}" in log
    assert list(output.glob("part-*.json")), "the job wrote no result"


def test_a_notebook_imported_run_with_parameters_and_read_back(client, alice):
    import nbformat

    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("n = 10")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# Counts"), params,
                nbformat.v4.new_code_cell("spark.range(n).selectExpr('sum(id) AS s').collect()[0].s")]
    headers = {"Authorization": f"Bearer {tokens.issue(alice, 'real livy notebooks')[1]}"}
    imported = client.post("/api/v1/notebooks", nbformat.writes(nb), content_type="application/x-ipynb+json",
                           headers=headers)
    assert imported.status_code == 201, imported.content
    started = client.post(f"{imported['Location']}/runs?wait=30", {"parameters": {"n": 100}},
                          content_type="application/json", headers=headers)
    assert started.status_code == 202, started.content
    location = started["Location"]

    def finished():
        body = client.get(f"{location}?wait=20", headers=headers).json()
        return body if body["terminal"] else None

    run = wait_for(finished, timeout=SESSION_START_TIMEOUT, interval=0.1, what="the notebook run")
    assert run["state"] == "succeeded", run
    assert [(c["injected"], c["state"]) for c in run["cells"]] == [(False, "available"), (True, "available"),
                                                                   (False, "available")]
    assert run["cells"][2]["output"]["text"] == "4950"  # sum(0..99): the parameter replaced n = 10
    cells = client.get(imported["Location"], headers=headers).json()["cells"]
    assert cells[2]["last_run"]["output"]["text"] == "4950"


def test_the_cli_submits_the_sample_job_and_runs_a_notebook_against_a_live_server(live_server, alice, tmp_path,
                                                                                  monkeypatch, capsys):
    """``python -m api.cli`` over real HTTP (Django's live server) and the real Livy: ``batch
    submit`` uploads the sample job and exits 0 once it ends ``success``; ``notebook deploy``
    then ``notebook run --param --wait`` exits 0 with the cells' results printed."""
    import subprocess
    from pathlib import Path

    import nbformat

    from api import cli

    jobs = Path(__file__).resolve().parents[2] / "examples" / "jobs"
    zip_path = tmp_path / "packages.zip"
    subprocess.run([str(jobs / "build_dependencies.sh"), str(zip_path)], check=True, capture_output=True)
    monkeypatch.setenv("LIVY_WEB_TOKEN", tokens.issue(alice, "real livy cli")[1])
    output = tmp_path / "cli-output"
    code = cli.main(["--url", live_server.url, "batch", "submit", str(jobs / "etl_job.py"),
                     "--py-files", str(zip_path), "--files", str(jobs / "configs/etl_config.json"),
                     "--arg=--output", "--arg", str(output), "--timeout", str(BATCH_TIMEOUT), "--log-lines", "400"])
    printed = capsys.readouterr()
    assert code == 0, printed.out[-3000:] + printed.err[-2000:]
    assert f"ETL_JOB_RESULT rows=100 total=14850 output={output}" in printed.out
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("word = 'draft'")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [params, nbformat.v4.new_code_cell("print(word.upper())")]
    path = tmp_path / "shout.ipynb"
    path.write_text(nbformat.writes(nb))
    assert cli.main(["--url", live_server.url, "notebook", "deploy", str(path)]) == 0
    notebook_id = capsys.readouterr().out.strip()
    code = cli.main(["--url", live_server.url, "notebook", "run", notebook_id, "--param", "word=final", "--wait",
                     "--timeout", str(SESSION_START_TIMEOUT)])
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert "cell 2\tavailable\tFINAL" in printed.out
