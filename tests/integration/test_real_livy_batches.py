"""Spark jobs on the real local Apache Livy (scripts/livy/livy.sh up), through the Jobs views as
a user submits them: the sample job (examples/jobs) uploaded with its zip and config runs to
``success`` with its result line in the log; a job that raises ends ``dead`` with the traceback
in the log; Kill of a running job ends it ``killed``.

The uploads go to LIVY_BATCH_UPLOAD_DIR (default ``<checkout>/.livy/batch-uploads``), which the
server must list in ``livy.file.local-dir-whitelist`` (livy.sh does). A batch takes 10-20 s
on two cores, so the tests keep to three.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from livy.models import Batch
from livy.remote.backends import ApacheLivyBackend
from livy.remote.client import LivyClient
from livy.remote.errors import LivyNotFound
from tests.support.polling import wait_for

pytestmark = [pytest.mark.livy, pytest.mark.django_db]

ROOT = Path(__file__).resolve().parents[2]
JOBS = ROOT / "examples" / "jobs"
#: A local-mode batch (spark-submit, a driver, a few tasks) takes 15-30 s on 2 idle cores, and
#: minutes when the cores are shared with other work (seen: 5 min at a load average of 15).
BATCH_TIMEOUT = 600


@pytest.fixture
def editor_client(client, django_user_model):
    call_command("setup_roles", verbosity=0)
    user = django_user_model.objects.create_user("erin", password="pw")
    user.groups.add(Group.objects.get(name="Editors"))
    client.force_login(user)
    return client


def sample_job_files(tmp_path: Path) -> dict[str, object]:
    """The three files a user uploads for the sample job: etl_job.py, the zip that
    build_dependencies.sh makes, and configs/etl_config.json."""
    zip_path = tmp_path / "packages.zip"
    subprocess.run([str(JOBS / "build_dependencies.sh"), str(zip_path)], check=True, capture_output=True)
    return {
        "file_upload": SimpleUploadedFile("etl_job.py", (JOBS / "etl_job.py").read_bytes()),
        "py_files_upload": [SimpleUploadedFile("packages.zip", zip_path.read_bytes())],
        "files_upload": [SimpleUploadedFile("etl_config.json", (JOBS / "configs/etl_config.json").read_bytes())],
    }


def _submit(client, data) -> Batch:
    response = client.post(reverse("livy:job_submit"), data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    return Batch.objects.latest("pk")


def _poll_until(client, row: Batch, done, what: str) -> dict:
    """Poll the job's page endpoint as jobs.js does, collecting the log, until ``done(data)``."""
    seen = {"stdout": [], "stderr": [], "out": 0, "err": 0}

    def probe():
        data = client.get(reverse("livy:job_poll", args=[row.pk]), {"out": seen["out"], "err": seen["err"]}).json()
        seen["stdout"] += data["stdout"]
        seen["stderr"] += data["stderr"]
        seen.update(out=data["out"], err=data["err"], state=data["state"], live=data["live"], notice=data["notice"])
        return seen if done(seen) else None

    return wait_for(probe, timeout=BATCH_TIMEOUT, interval=0.5, what=what)


def test_sample_job_uploaded_runs_to_success_with_its_line(real_livy, editor_client, tmp_path):
    output = tmp_path / "etl-output"
    started = time.monotonic()
    row = _submit(editor_client, {"label": "sample etl", "args": f"--output\n{output}", **sample_job_files(tmp_path)})
    seen = _poll_until(editor_client, row, lambda s: not s["live"], "the sample job to end")
    row.refresh_from_db()
    log = "\n".join(seen["stdout"] + seen["stderr"])
    assert seen["state"] == "success", log[-4000:]
    assert f"ETL_JOB_RESULT rows=100 total=14850 output={output}" in seen["stdout"] + seen["stderr"]
    assert list(output.glob("part-*.json")), "the job wrote no result"
    # What was sent: the uploads, content-addressed under the upload folder, names kept.
    assert row.request["file"].endswith("/etl_job.py") and row.request["pyFiles"][0].endswith("/packages.zip")
    assert row.request["args"] == ["--output", str(output)]
    print(f"\nsample job via the app: submit->running {(row.running_at - row.created_at).total_seconds():.1f} s, "
          f"submit->success {(row.ended_at - row.created_at).total_seconds():.1f} s "
          f"(wall {time.monotonic() - started:.1f} s)")


def test_a_job_that_raises_ends_dead_with_its_traceback(real_livy, editor_client, tmp_path):
    job = b"from pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\n" \
          b"raise ValueError('bad input row 42')\n"
    row = _submit(editor_client, {"label": "failing", "file_upload": SimpleUploadedFile("failing_job.py", job)})
    seen = _poll_until(editor_client, row, lambda s: not s["live"], "the failing job to end")
    assert seen["state"] == "dead"
    # Livy 0.9 sends spark-submit's stderr (Python's traceback) into the batch's stdout.
    log = "\n".join(seen["stdout"] + seen["stderr"])
    assert "Traceback (most recent call last)" in log and "ValueError: bad input row 42" in log
    page = editor_client.get(reverse("livy:job_detail", args=[row.pk])).content.decode()
    assert "ValueError: bad input row 42" in page and 'data-state="dead"' in page


def test_kill_of_a_running_job_ends_killed(real_livy, editor_client, tmp_path):
    job = b"import time\nfrom pyspark.sql import SparkSession\nspark = SparkSession.builder.getOrCreate()\n" \
          b"print('JOB_IS_RUNNING', flush=True)\ntime.sleep(600)\n"
    row = _submit(editor_client, {"label": "sleeper", "file_upload": SimpleUploadedFile("sleeper.py", job)})
    _poll_until(editor_client, row, lambda s: s["state"] == "running" and "JOB_IS_RUNNING" in s["stdout"]
                or not s["live"], "the job to run")
    row.refresh_from_db()
    assert row.state == "running"
    response = editor_client.post(reverse("livy:job_kill", args=[row.pk]))
    assert response.status_code == 302
    row.refresh_from_db()
    assert row.state == "killed" and row.ended_at is not None
    assert "JOB_IS_RUNNING" in row.log_stdout  # read before Livy forgot the batch
    client = LivyClient(ApacheLivyBackend(real_livy), timeout=30)

    def forgotten() -> bool:
        try:
            client.get_batch(row.livy_id)
        except LivyNotFound:
            return True
        return False

    # Livy removes a deleted batch once its spark-submit has been stopped.
    wait_for(forgotten, timeout=60, interval=0.5, what="Livy to forget the killed batch")
    page = editor_client.get(reverse("livy:job_detail", args=[row.pk])).content.decode()
    assert 'data-state="killed"' in page and 'id="kill-job"' not in page
