"""Spark jobs on Fabric's Livy API, against the swagger-checked fake (requests we send and
responses it fakes are validated both ways): submit with abfss:// paths, the acquisition
phases, ``error`` with its ``errorMessage``, cancel, the log[] with where to find the whole
log, throttling, and the form saying that Fabric takes paths only."""

from __future__ import annotations

import json

import pytest
import responses
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse

from livy.models import Batch
from tests.support.fakes_entra import EDITORS_GID, EntraUser, FakeEntra, configure_entra, entra_sign_in
from tests.support.fakes_fabric import ENDPOINT, contract, error_body
from tests.support.fakes_fabric_batches import FakeFabricBatches

pytestmark = pytest.mark.django_db
FABRIC = "api.fabric.microsoft.com"
ONELAKE = "abfss://f8113ba8-dd81-443e-811a-b385340f3f05@onelake.dfs.fabric.microsoft.com/8cee7699-2e81-4121-9a53-cc9025046193/Files"


@pytest.fixture
def fabric(settings, client):
    configure_entra(settings, LIVY_BACKEND="fabric", LIVY_BASE_ENDPOINT=ENDPOINT)
    call_command("setup_roles", verbosity=0)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        entra = FakeEntra(mock)
        fake = FakeFabricBatches(mock, {}, token_ok=lambda t: entra.valid_for(t, FABRIC),
                                 failures={"pytest-job-broken": "Spark job failed: ModuleNotFoundError: No module named "
                                                                "'dependencies'"})
        entra_sign_in(client, entra, EntraUser(groups=[EDITORS_GID]))
        yield fake


def _body(fake, operation_id):
    for call in reversed(fake.mock.calls):
        if FABRIC in call.request.url and contract().operation(call.request.method, call.request.url)[0].operation_id \
                == operation_id:
            return json.loads(call.request.body) if call.request.body else None
    raise AssertionError(f"no {operation_id} call")


def _submit(client, **extra):
    data = {"file_path": f"{ONELAKE}/jobs/etl_job.py", "py_files_paths": f"{ONELAKE}/jobs/packages.zip",
            "files_paths": f"{ONELAKE}/jobs/etl_config.json", "args": "--output\nFiles/etl-output",
            "conf_key": ["spark.sql.shuffle.partitions"], "conf_value": ["4"], **extra}
    return client.post(reverse("livy:job_submit"), data)


def _poll(client, row):
    return client.get(reverse("livy:job_poll", args=[row.pk])).json()


def test_submit_with_abfss_paths_sends_a_swagger_batch_request(client, fabric):
    response = _submit(client, label="etl")
    row = Batch.objects.get()
    assert response.status_code == 302
    body = _body(fabric, "LivyApiBatch_ExecuteBatchAsync")
    assert body == {"name": row.name, "file": f"{ONELAKE}/jobs/etl_job.py", "args": ["--output", "Files/etl-output"],
                    "pyFiles": [f"{ONELAKE}/jobs/packages.zip"], "files": [f"{ONELAKE}/jobs/etl_config.json"],
                    "conf": {"spark.sql.shuffle.partitions": "4"}}
    assert row.request == body and len(row.livy_id) == 36 and row.state == "starting" and row.phase == "queued"


def test_acquisition_phases_then_success(client, fabric):
    _submit(client)
    row = Batch.objects.get()
    page = client.get(reverse("livy:job_detail", args=[row.pk])).content.decode()  # poll 1: libraryPackaging
    assert "Fabric: installing the environment&#x27;s libraries" in page
    assert _poll(client, row)["phase"] == "submitting"
    states = [_poll(client, row)["state"] for _ in range(3)]
    assert states == ["starting", "running", "success"]
    row.refresh_from_db()
    assert row.app_id == "application_1732000000000_0042" and row.spark_ui_url.startswith("https://app.powerbi.com/")
    page = client.get(reverse("livy:job_detail", args=[row.pk])).content.decode()
    assert "success pytest-job-" in page  # the job's log[]
    assert "Monitoring hub" in page  # where the whole log is
    assert not any("/log" in call.request.url for call in fabric.mock.calls if FABRIC in call.request.url)


def test_error_phase_shows_its_error_message(client, fabric):
    _submit(client, label="broken")
    row = Batch.objects.get()
    for _ in range(4):
        data = _poll(client, row)
    assert data["state"] == "dead" and not data["live"]
    assert "No module named 'dependencies'" in data["error"]
    page = client.get(reverse("livy:job_detail", args=[row.pk])).content.decode()
    assert "Spark job failed: ModuleNotFoundError" in page


def test_cancel_sends_delete_and_ends_killed(client, fabric):
    _submit(client)
    row = Batch.objects.get()
    response = client.post(reverse("livy:job_kill", args=[row.pk]))
    row.refresh_from_db()
    assert response.status_code == 302 and row.state == "killed"
    assert fabric.calls("LivyApiBatch_CancelBatchAsync") == [("LivyApiBatch_CancelBatchAsync", "DELETE", 200)]


def test_refused_and_throttled_submissions(client, fabric):
    fabric.inject("LivyApiBatch_ExecuteBatchAsync", 400,
                  error_body("InvalidSparkSettings", "The Spark setting spark.executor.cores is not allowed."))
    page = _submit(client).content.decode()
    assert "InvalidSparkSettings: The Spark setting spark.executor.cores is not allowed." in page
    assert "request id" in page
    fabric.inject("LivyApiBatch_ExecuteBatchAsync", 430,
                  error_body("TooManyRequestsForCapacity", "Spark capacity is exhausted."), {"Retry-After": "60"})
    page = _submit(client).content.decode()
    assert "HTTP 430: TooManyRequestsForCapacity" in page and "Try again in 60 s." in page
    assert not Batch.objects.exists()
    assert f"{ONELAKE}/jobs/etl_job.py" in page  # every field kept


def test_fabric_takes_paths_only_and_says_so(client, fabric):
    form = client.get(reverse("livy:job_submit")).content.decode()
    assert 'id="fabric-paths-only"' in form and 'name="file_upload"' not in form
    page = client.post(reverse("livy:job_submit"), {
        "file_upload": SimpleUploadedFile("etl_job.py", b"print(1)"), "files_paths": "/tmp/etl_config.json",
    }).content.decode()
    assert "etl_job.py: uploads are not possible on Fabric here" in page
    assert "on Fabric, give an abfss:// path in OneLake" in page
    assert not fabric.calls("LivyApiBatch_ExecuteBatchAsync")


def test_a_batch_fabric_no_longer_has(client, fabric):
    _submit(client)
    row = Batch.objects.get()
    fabric.batches.clear()
    Batch.objects.filter(pk=row.pk).update(submitted_at=row.created_at.replace(year=2020))
    data = _poll(client, row)
    assert data["state"] == "dead" and "Livy no longer knows this batch" in data["error"]
