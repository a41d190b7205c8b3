"""Spark jobs (Livy batches) through the API, Apache Livy faked over HTTP: multipart uploads
and JSON paths give the body the Jobs page would send; bad input is a 422 with the page's own
messages under Livy's field names, nothing sent; reads, the log window, kill, lists and roles.
The real-Livy run is in tests/integration/test_api_real_livy.py."""

from __future__ import annotations

import hashlib
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from livy.models import Batch
from tests.support.livy_json import LIVY, batch_json, batch_log_json

pytestmark = pytest.mark.django_db

JOB = b"print('ETL_JOB_RESULT')\n"
CONFIG = b'{"multiplier": 2}'


@pytest.fixture
def upload_dir(settings, tmp_path):
    folder = tmp_path / "uploads"
    settings.CONFIG = settings.CONFIG.model_copy(update={
        "LIVY_BATCH_UPLOAD_DIR": str(folder), "LIVY_BATCH_MAX_UPLOAD_BYTES": 4096,
        "LIVY_BATCH_LOCAL_DIRS": [str(tmp_path / "shared")],
    })
    return folder


@pytest.fixture
def sent(livy_api):
    """The body of each POST /batches Livy received; Livy answers batch 12, starting."""
    bodies: list[dict] = []

    def created(request):
        bodies.append(json.loads(request.body))
        return 201, {}, json.dumps(batch_json(12, "starting", name=bodies[-1]["name"]))

    livy_api.add_callback("POST", f"{LIVY}/batches", callback=created)
    return bodies


def _stored(folder, content: bytes, name: str) -> str:
    return str(folder / hashlib.sha256(content).hexdigest() / name)


def _running(owner, livy_id="5", name="pytest-job-1", state="running", label="nightly"):
    return Batch.objects.create(owner=owner, backend="apache", endpoint=LIVY, livy_id=livy_id, name=name,
                                state=state, request={"name": name, "file": "hdfs:///a.py"},
                                inputs={"file": "hdfs:///a.py"}, label=label)


def test_multipart_uploads_are_stored_and_sent_as_the_jobs_page_sends_them(client, token_of, upload_dir, sent):
    response = client.post("/api/v1/batches", {
        "file": SimpleUploadedFile("etl_job.py", JOB),
        "pyFiles": [SimpleUploadedFile("packages.zip", b"PK\x03\x04zip"), "s3a://bucket/more.zip"],
        "files": [SimpleUploadedFile("etl_config.json", CONFIG)],
        "args": "--output\n/tmp/etl out\n", "conf": json.dumps({"spark.sql.shuffle.partitions": 4}),
        "name": "Daily ETL", "driverMemory": "512m",
    }, headers={"Authorization": f"Bearer {token_of('editor')}"})
    assert response.status_code == 202, response.content
    body = response.json()
    assert response["Location"] == f"/api/v1/batches/{body['id']}"
    assert body["state"] == "starting" and body["livy_id"] == "12" and body["name"] == "Daily ETL"
    assert sent == [{"name": sent[0]["name"], "file": _stored(upload_dir, JOB, "etl_job.py"),
                     "args": ["--output", "/tmp/etl out"],
                     "pyFiles": ["s3a://bucket/more.zip", _stored(upload_dir, b"PK\x03\x04zip", "packages.zip")],
                     "files": [_stored(upload_dir, CONFIG, "etl_config.json")],
                     "conf": {"spark.sql.shuffle.partitions": "4"}, "driverMemory": "512m"}]
    assert body["request"] == sent[0]


def test_json_with_paths_args_as_a_list_and_conf(bearer, token_of, upload_dir, sent):
    response = bearer(token_of("editor")).post("/api/v1/batches", {
        "file": "hdfs:///apps/etl.jar", "className": "com.example.Etl", "jars": ["hdfs:///libs/a.jar"],
        "args": ["--day", "2026-12-02", "two words"], "conf": {"spark.dynamicAllocation.enabled": True},
        "numExecutors": 3,
    })
    assert response.status_code == 202, response.content
    assert sent[0]["file"] == "hdfs:///apps/etl.jar" and sent[0]["className"] == "com.example.Etl"
    assert sent[0]["args"] == ["--day", "2026-12-02", "two words"] and sent[0]["jars"] == ["hdfs:///libs/a.jar"]
    assert sent[0]["conf"] == {"spark.dynamicAllocation.enabled": "true"} and sent[0]["numExecutors"] == 3


BAD_JSON = [
    ({"file": "hdfs:///jobs/readme.txt"}, "file", "Livy cannot use this type as a main file"),
    ({"file": "/etc/passwd.py"}, "file", "is outside the folders Livy may read local files from"),
    ({"file": "hdfs:///a.jar"}, "className", "A .jar main file needs its main class"),
    ({"file": "hdfs:///a.py", "pyFiles": ["hdfs:///deps.tar"]}, "pyFiles", "Livy cannot use this type as pyFiles"),
    ({"file": "hdfs:///a.py", "driverMemory": "lots"}, "driverMemory", "is not a Spark memory size"),
    ({"file": "hdfs:///a.py", "conf": {"spark a": "1"}}, None, "is not a configuration key"),
    ({"file": "hdfs:///a.py", "args": ["bad\x07arg"]}, "args", "holds control characters"),
    ({"file": "hdfs:///a.py", "args": ["two\nlines"]}, "args", "String should match pattern"),
    ({"file": "hdfs:///a.py", "pyfiles": ["x.py"]}, "pyfiles", "Extra inputs are not permitted"),
    ({"file": "hdfs:///a.py", "executorCores": "many"}, "executorCores", "valid integer"),
    ({"pyFiles": []}, "file", "Field required"),
]


@pytest.mark.parametrize(("body", "field", "message"), BAD_JSON)
def test_bad_json_is_422_with_the_pages_message_and_nothing_is_sent(bearer, token_of, upload_dir, sent, body,
                                                                      field, message):
    response = bearer(token_of("editor")).post("/api/v1/batches", body)
    assert response.status_code == 422, response.content
    problem = response.json()
    assert response["Content-Type"] == "application/problem+json"
    assert any(message in e["msg"] and (field is None or e["loc"][:2] == ["body", field])
               for e in problem["errors"]), problem
    assert message in problem["detail"]
    assert sent == [] and not Batch.objects.exists()


BAD_MULTIPART = [
    ({"file": "hdfs:///a.py", "pyfiles": "x.py"}, "pyfiles", "Unknown field"),
    ({"file": "hdfs:///a.py", "conf": "{not json"}, "conf", "conf must be a JSON object"),
    ({"file": "hdfs:///a.py", "conf": "[1, 2]"}, "conf", "conf must be a JSON object"),
    ({"file": ["hdfs:///a.py", "hdfs:///b.py"]}, "file", "Give this field once"),
    ({"name": "no file"}, "file", "Choose the main file"),
]


@pytest.mark.parametrize(("data", "field", "message"), BAD_MULTIPART)
def test_bad_multipart_is_422(client, token_of, upload_dir, sent, data, field, message):
    response = client.post("/api/v1/batches", data, headers={"Authorization": f"Bearer {token_of('editor')}"})
    assert response.status_code == 422, response.content
    assert any(message in e["msg"] and e["loc"][:2] == ["body", field] for e in response.json()["errors"])
    assert sent == []


def test_an_oversize_upload_is_refused_with_the_limit(client, token_of, upload_dir, sent):
    response = client.post("/api/v1/batches", {"file": SimpleUploadedFile("big.py", b"#" * 5000)},
                           headers={"Authorization": f"Bearer {token_of('editor')}"})
    assert response.status_code == 422 and "big.py is larger than 4 KB" in response.json()["detail"]


def test_other_content_types_and_broken_json(bearer, token_of, upload_dir):
    client = bearer(token_of("editor"))
    assert client.post("/api/v1/batches", "file=a.py", content_type="text/plain").status_code == 415
    broken = client.post("/api/v1/batches", b"{\"file\": ", content_type="application/json")
    assert broken.status_code == 400 and broken["Content-Type"] == "application/problem+json"


def test_livy_refusing_is_502_with_its_message_and_no_row(bearer, token_of, upload_dir, livy_api):
    livy_api.post(f"{LIVY}/batches", status=400, json={"msg": "requirement failed: Local path /x cannot be added"})
    response = bearer(token_of("editor")).post("/api/v1/batches", {"file": "hdfs:///a.py"})
    assert response.status_code == 502 and "requirement failed: Local path /x" in response.json()["detail"]
    assert not Batch.objects.exists()


def test_read_refreshes_a_running_batch_and_the_log_is_livys_shape(bearer, token_of, people, livy_api):
    row = _running(people["editor"])
    livy_api.get(f"{LIVY}/batches/5", json=batch_json(5, "running", name=row.name, app_id="app-1"))
    livy_api.get(f"{LIVY}/batches/5/log", json=batch_log_json(5, [f"out {n}" for n in range(150)], ["err 0"]))
    client = bearer(token_of("editor"))
    got = client.get(f"/api/v1/batches/{row.pk}").json()
    assert got["state"] == "running" and got["app_id"] == "app-1" and not got["terminal"]
    log = client.get(f"/api/v1/batches/{row.pk}/log").json()  # the last 100 lines, as Livy answers
    assert log["total"] == 153 and log["from"] == 53 and log["size"] == 100
    assert log["log"][-3:] == ["out 149", "\nstderr: ", "err 0"]
    head = client.get(f"/api/v1/batches/{row.pk}/log?from=0&size=2").json()
    assert head["log"] == ["stdout: ", "out 0"] and head["from"] == 0
    assert client.get(f"/api/v1/batches/{row.pk}/log?from=-1").status_code == 422
    assert len(client.get(f"/api/v1/batches/{row.pk}/log?size=-1").json()["log"]) == 153


def test_a_finished_batch_is_read_without_livy(bearer, token_of, people):
    row = _running(people["editor"], state="success")
    assert bearer(token_of("editor")).get(f"/api/v1/batches/{row.pk}").json()["terminal"] is True


def test_kill_by_the_owner_or_an_admin_others_get_404(bearer, token_of, people, livy_api):
    row = _running(people["editor"])
    livy_api.get(f"{LIVY}/batches/5", json=batch_json(5, "running", name=row.name))
    livy_api.get(f"{LIVY}/batches/5/log", json=batch_log_json(5, ["working"], []))
    delete = livy_api.delete(f"{LIVY}/batches/5", json={"msg": "deleted"})
    assert bearer(token_of("other")).delete(f"/api/v1/batches/{row.pk}").status_code == 404
    assert bearer(token_of("viewer")).delete(f"/api/v1/batches/{row.pk}").status_code == 403
    killed = bearer(token_of("admin")).delete(f"/api/v1/batches/{row.pk}")
    assert killed.status_code == 200 and killed.json()["state"] == "killed" and delete.call_count == 1


def test_lists_are_newest_first_paginate_and_hide_others_jobs(bearer, token_of, people):
    mine = [_running(people["editor"], livy_id=str(n), state="success", label=f"job {n}").pk for n in range(5)]
    _running(people["other"], livy_id="9", state="success", label="oscar's")
    client = bearer(token_of("editor"))
    page1 = client.get("/api/v1/batches?limit=2").json()
    page2 = client.get(f"/api/v1/batches?limit=2&cursor={page1['next_cursor']}").json()
    page3 = client.get(f"/api/v1/batches?limit=2&cursor={page2['next_cursor']}").json()
    assert [b["id"] for b in page1["items"] + page2["items"] + page3["items"]] == mine[::-1]
    assert page3["next_cursor"] is None
    everyone = bearer(token_of("admin")).get("/api/v1/batches").json()["items"]
    assert [b["name"] for b in everyone][0] == "oscar's" and len(everyone) == 6
    assert bearer(token_of("admin")).get("/api/v1/batches?mine=true").json()["items"] == []
