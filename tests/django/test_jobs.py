"""The Jobs pages with Apache Livy faked over HTTP: submitting with uploads and paths (the exact
body sent), where uploads go, the detail page and its log stream, Kill, Resubmit, identity
after a Livy restart, bad input (nothing sent, every field kept, no 500), Livy refusing or
throttling, and the maintenance command."""

from __future__ import annotations

import hashlib
import json
import re
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.urls import reverse
from responses import matchers

from livy import batches
from livy.models import Batch
from tests.support.livy_json import LIVY, batch_json, batch_log_json, refused

pytestmark = pytest.mark.django_db

JOB = b"from dependencies.transforms import double\nprint('ETL_JOB_RESULT', double(21))\n"
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
def users(django_user_model):
    call_command("setup_roles", verbosity=0)

    def user(name, group):
        u = django_user_model.objects.create_user(name, password="pw")
        u.groups.add(Group.objects.get(name=group))
        return django_user_model.objects.get(pk=u.pk)

    return {"editor": user("erin", "Editors"), "other": user("oscar", "Editors"),
            "admin": user("ada", "Administrators"), "viewer": user("vera", "Viewers")}


@pytest.fixture
def erin(client, users):
    client.force_login(users["editor"])
    return client


def _files():
    return {
        "file_upload": SimpleUploadedFile("etl_job.py", JOB),
        "py_files_upload": [SimpleUploadedFile("packages.zip", b"PK\x03\x04zip")],
        "files_upload": [SimpleUploadedFile("etl_config.json", CONFIG)],
    }


def _form(**extra):
    data = {"label": "Daily ETL", "args": "--output\n/tmp/etl out\n", "conf_key": ["spark.sql.shuffle.partitions", ""],
            "conf_value": ["4", ""], "driver_memory": "512m"}
    data.update(extra)
    return data


def _stored(folder: Path, content: bytes, name: str) -> str:
    return str(folder / hashlib.sha256(content).hexdigest() / name)


# ----------------------------------------------------------------------------- submitting
def test_submit_with_uploads_sends_the_stored_paths(erin, livy_api, upload_dir, users):
    job, zip_, config = (_stored(upload_dir, JOB, "etl_job.py"), _stored(upload_dir, b"PK\x03\x04zip", "packages.zip"),
                         _stored(upload_dir, CONFIG, "etl_config.json"))
    sent = {}

    def created(request):
        sent.update(json.loads(request.body))
        return 201, {}, json.dumps(batch_json(12, "starting", name=sent["name"]))

    livy_api.add_callback("POST", f"{LIVY}/batches", callback=created)
    response = erin.post(reverse("livy:job_submit"), {**_form(), **_files()})
    row = Batch.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("livy:job_detail", args=[row.pk])
    assert re.fullmatch(r"pytest-job-daily-etl-\d{8}-\d{6}-\d{6}", sent["name"])
    assert sent == {"name": sent["name"], "file": job, "args": ["--output", "/tmp/etl out"], "pyFiles": [zip_],
                    "files": [config], "conf": {"spark.sql.shuffle.partitions": "4"}, "driverMemory": "512m"}
    assert Path(job).read_bytes() == JOB and Path(config).read_bytes() == CONFIG  # content-addressed, names kept
    assert (row.livy_id, row.state, row.owner, row.request) == ("12", "starting", users["editor"], sent)
    assert row.label == "Daily ETL" and row.submitted_at is not None


def test_the_same_upload_is_stored_once(upload_dir):
    first = batches.store_upload(SimpleUploadedFile("a.py", b"print(1)"))
    again = batches.store_upload(SimpleUploadedFile("a.py", b"print(1)"))
    assert first == again and len(list(upload_dir.iterdir())) == 1


def test_submit_with_cluster_and_allowed_local_paths(erin, livy_api, upload_dir, tmp_path):
    body = {"name": None}

    def created(request):
        body.update(json.loads(request.body))
        return 201, {}, json.dumps(batch_json(3, "starting", name=body["name"]))

    livy_api.add_callback("POST", f"{LIVY}/batches", callback=created)
    shared = tmp_path / "shared"
    response = erin.post(reverse("livy:job_submit"), {
        "file_path": "hdfs:///jobs/etl_job.py", "py_files_paths": f"s3a://bucket/deps.zip\n{shared}/libs/util.py",
        "files_paths": f"file:{shared}/etl_config.json", "archives_paths": "abfss://c@acct.dfs.core.windows.net/env.tar.gz",
    })
    assert response.status_code == 302
    assert body["file"] == "hdfs:///jobs/etl_job.py"
    assert body["pyFiles"] == ["s3a://bucket/deps.zip", f"{shared}/libs/util.py"]
    assert body["files"] == [f"{shared}/etl_config.json"]
    assert body["archives"] == ["abfss://c@acct.dfs.core.windows.net/env.tar.gz"]


def test_jar_with_main_class(erin, livy_api, upload_dir):
    livy_api.post(f"{LIVY}/batches", status=201, json=batch_json(1, "starting", name="x"), match=[
        matchers.json_params_matcher({"file": "hdfs:///apps/etl.jar", "className": "com.example.Etl"},
                                     strict_match=False)])
    response = erin.post(reverse("livy:job_submit"), {"file_path": "hdfs:///apps/etl.jar",
                                                      "class_name": "com.example.Etl"})
    assert response.status_code == 302


# ---------------------------------------------------------------------------- bad input
BAD = [
    ({}, "file_path", "Choose the main file"),
    ({"file_path": "hdfs:///jobs/readme.txt"}, "file_path", "Livy cannot use this type as a main file (accepted: .py, .jar)"),
    ({"file_path": "/etc/passwd.py"}, "file_path", "is outside the folders Livy may read local files from"),
    ({"file_path": "jobs/etl.py"}, "file_path", "is a relative path"),
    ({"file_path": "ftp://host/etl.py"}, "file_path", "uses the scheme ftp:"),
    ({"file_path": "hdfs:///a.jar"}, "class_name", "A .jar main file needs its main class"),
    ({"file_path": "hdfs:///a.py", "py_files_paths": "hdfs:///deps.tar"}, "py_files_paths",
     "Livy cannot use this type as pyFiles"),
    ({"file_path": "hdfs:///a.py", "args": "ok\nbad\x07arg"}, "args", "Argument on line 2 holds control characters"),
    ({"file_path": "hdfs:///a.py", "driver_memory": "lots"}, "driver_memory", "is not a Spark memory size"),
    ({"file_path": "hdfs:///a.py", "conf_key": ["spark a"], "conf_value": ["1"]}, None, "is not a configuration key"),
    ({"file_path": "hdfs:///a.py", "conf_key": ["k", "k"], "conf_value": ["1", "2"]}, None, "k is given twice"),
    ({"file_path": "hdfs:///a.py", "executor_cores": "0"}, "executor_cores", "greater than or equal to 1"),
]


@pytest.mark.parametrize("data,field,message", BAD)
def test_bad_input_is_explained_and_nothing_is_sent(erin, livy_api, upload_dir, data, field, message):
    # livy_api has no route: any Livy call would fail the test.
    response = erin.post(reverse("livy:job_submit"), {"label": "keep me", "num_executors": "3", **data})
    page = response.content.decode()
    assert response.status_code == 400
    assert message in page, page
    assert 'value="keep me"' in page and 'value="3"' in page  # every field kept
    assert not Batch.objects.exists()


def test_oversize_upload_is_refused_and_the_rest_kept(erin, livy_api, upload_dir):
    response = erin.post(reverse("livy:job_submit"), {
        **_form(), "file_upload": SimpleUploadedFile("etl_job.py", JOB),
        "py_files_upload": [SimpleUploadedFile("big.zip", b"x" * 5000)],
    })
    page = response.content.decode()
    assert response.status_code == 400
    assert "big.zip is larger than 4 KB: job files of up to 4 KB each, at most 10 at once, are accepted." in page
    # The valid upload is kept, listed as a path; the oversize one is not stored.
    assert _stored(upload_dir, JOB, "etl_job.py") in page and "Uploaded files are kept" in page
    assert not any(p.name == "big.zip" for p in upload_dir.rglob("*"))
    assert "spark.sql.shuffle.partitions" in page and "/tmp/etl out" in page
    assert not Batch.objects.exists()


def test_wrong_upload_type(erin, livy_api, upload_dir):
    response = erin.post(reverse("livy:job_submit"), {"file_upload": SimpleUploadedFile("notes.txt", b"hi")})
    assert response.status_code == 400
    assert "notes.txt: Livy cannot use this type as a main file" in response.content.decode()


def test_livy_refusing_is_shown_with_every_field_kept(erin, livy_api, upload_dir):
    livy_api.post(f"{LIVY}/batches", status=400,
                  json={"msg": "requirement failed: Local path /x cannot be added to user sessions."})
    response = erin.post(reverse("livy:job_submit"), {**_form(), **_files()})
    page = response.content.decode()
    assert response.status_code == 200
    assert "The job was not submitted: Livy answered HTTP 400: requirement failed: Local path /x cannot" in page
    assert _stored(upload_dir, JOB, "etl_job.py") in page  # the uploads, as paths: resubmit needs no new upload
    assert "/tmp/etl out" in page and 'value="Daily ETL"' in page and 'value="512m"' in page
    assert not Batch.objects.exists()  # nothing half-submitted


def test_throttled_submit_says_when_to_try_again(erin, livy_api, upload_dir):
    livy_api.post(f"{LIVY}/batches", status=429, json={"msg": "Too many requests"}, headers={"Retry-After": "30"})
    page = erin.post(reverse("livy:job_submit"), _form(file_path="hdfs:///a.py")).content.decode()
    assert "Livy is busy (HTTP 429: Too many requests). Try again in 30 s." in page
    assert not Batch.objects.exists()


def test_unreachable_livy_on_submit(erin, livy_api, upload_dir):
    livy_api.post(f"{LIVY}/batches", body=refused())
    response = erin.post(reverse("livy:job_submit"), _form(file_path="hdfs:///a.py"))
    assert response.status_code == 200 and "cannot be reached" in response.content.decode()


def test_an_unanswered_submit_is_found_by_its_name(erin, livy_api, upload_dir):
    import requests

    livy_api.post(f"{LIVY}/batches", body=requests.ReadTimeout("read timed out"))
    response = erin.post(reverse("livy:job_submit"), _form(file_path="hdfs:///a.py"))
    row = Batch.objects.get()
    assert response.status_code == 200 and row.state == Batch.NOT_SUBMITTED  # no list route: not found
    assert "probably not submitted" in response.content.decode()


# ------------------------------------------------------------------------------ detail
def _running(owner, livy_id="5", name="pytest-job-1", state="running"):
    return Batch.objects.create(owner=owner, backend="apache", endpoint=LIVY, livy_id=livy_id, name=name,
                                state=state, request={"name": name, "file": "hdfs:///a.py"},
                                inputs={"file": "hdfs:///a.py", "args": ["x"], "label": "nightly"}, label="nightly")


def test_detail_and_poll_stream_the_log(erin, livy_api, users):
    row = _running(users["editor"])
    livy_api.get(f"{LIVY}/batches/5", json=batch_json(5, "running", name=row.name))
    log = livy_api.get(f"{LIVY}/batches/5/log", json=batch_log_json(5, ["first print"], ["INFO starting"]))
    page = erin.get(reverse("livy:job_detail", args=[row.pk])).content.decode()
    assert "first print" in page and "INFO starting" in page and "&quot;file&quot;: &quot;hdfs:///a.py&quot;" in page
    assert 'data-live="true"' in page and 'id="kill-job"' in page
    livy_api.replace("GET", f"{LIVY}/batches/5/log",
                     json=batch_log_json(5, ["first print", "ETL_JOB_RESULT rows=3"], ["INFO starting", "INFO done"]))
    data = erin.get(reverse("livy:job_poll", args=[row.pk]), {"out": 1, "err": 1}).json()
    assert data["stdout"] == ["ETL_JOB_RESULT rows=3"] and data["stderr"] == ["INFO done"]
    assert (data["out"], data["err"], data["live"], data["state"]) == (2, 2, True, "running")
    assert log.call_count == 1


def test_finished_batch_keeps_its_log_after_livy_forgets_it(erin, livy_api, users):
    row = _running(users["editor"])
    livy_api.get(f"{LIVY}/batches/5", json=batch_json(5, "success", name=row.name))
    livy_api.get(f"{LIVY}/batches/5/log", json=batch_log_json(5, ["ETL_JOB_RESULT rows=3"], ["INFO bye"]))
    erin.get(reverse("livy:job_detail", args=[row.pk]))
    row.refresh_from_db()
    assert row.state == "success" and row.ended_at and row.log_final
    livy_api.replace("GET", f"{LIVY}/batches/5", status=404, json={"msg": "Session '5' not found."})
    page = erin.get(reverse("livy:job_detail", args=[row.pk])).content.decode()
    assert "ETL_JOB_RESULT rows=3" in page and 'data-live="false"' in page and 'id="kill-job"' not in page
    download = erin.get(reverse("livy:job_log", args=[row.pk]))
    assert download["Content-Disposition"] == f'attachment; filename="{row.name}.log"'
    assert download.content.decode().endswith("stdout:\nETL_JOB_RESULT rows=3\n\nstderr:\nINFO bye\n")


def test_dead_batch_shows_the_traceback(erin, livy_api, users):
    row = _running(users["editor"])
    livy_api.get(f"{LIVY}/batches/5", json=batch_json(5, "dead", name=row.name))
    livy_api.get(f"{LIVY}/batches/5/log", json=batch_log_json(5, [], [
        "Traceback (most recent call last):", '  File "/up/fail.py", line 3', "ValueError: bad input row"]))
    page = erin.get(reverse("livy:job_detail", args=[row.pk])).content.decode()
    assert 'data-state="dead"' in page and "ValueError: bad input row" in page


def test_a_restarted_livy_reusing_the_id_is_not_mistaken_for_our_batch(erin, livy_api, users):
    row = _running(users["editor"])
    livy_api.get(f"{LIVY}/batches/5", json=batch_json(5, "running", name="someone-elses-job"))
    page = erin.get(reverse("livy:job_detail", args=[row.pk])).content.decode()
    row.refresh_from_db()
    assert row.state == "dead" and row.error_message == batches.BATCH_REPLACED
    assert "Livy restarted while this job ran" in page
    # Kill now sends nothing: the batch under id 5 is not ours (no DELETE route is registered).
    assert erin.post(reverse("livy:job_kill", args=[row.pk])).status_code == 302


def test_a_batch_livy_forgot_while_it_ran_is_reported(erin, livy_api, users):
    row = _running(users["editor"])
    livy_api.get(f"{LIVY}/batches/5", status=404, json={"msg": "Session '5' not found."})
    erin.get(reverse("livy:job_detail", args=[row.pk]))
    row.refresh_from_db()
    assert row.state == "dead" and row.error_message == batches.BATCH_GONE


def test_unreachable_livy_on_the_page_is_a_notice(erin, livy_api, users):
    row = _running(users["editor"])
    livy_api.get(f"{LIVY}/batches/5", body=refused())
    response = erin.get(reverse("livy:job_detail", args=[row.pk]))
    assert response.status_code == 200 and "could not be read from Livy" in response.content.decode()
    assert erin.get(reverse("livy:job_poll", args=[row.pk])).json()["notice"].startswith("The state of the jobs")
    row.refresh_from_db()
    assert row.state == "running"


# --------------------------------------------------------------------------- kill, others
def test_kill_reads_the_log_then_deletes(erin, livy_api, users):
    row = _running(users["editor"])
    livy_api.get(f"{LIVY}/batches/5", json=batch_json(5, "running", name=row.name))
    livy_api.get(f"{LIVY}/batches/5/log", json=batch_log_json(5, ["working"], []))
    delete = livy_api.delete(f"{LIVY}/batches/5", json={"msg": "deleted"})
    response = erin.post(reverse("livy:job_kill", args=[row.pk]))
    row.refresh_from_db()
    assert response.status_code == 302 and delete.call_count == 1
    assert row.state == "killed" and row.ended_at and row.log_stdout == "working"


def test_others_get_404_and_admins_see_and_kill(client, livy_api, users):
    row = _running(users["editor"])
    client.force_login(users["other"])
    assert client.get(reverse("livy:job_detail", args=[row.pk])).status_code == 404
    assert client.post(reverse("livy:job_kill", args=[row.pk])).status_code == 404
    assert "nightly" not in client.get(reverse("livy:job_list")).content.decode()
    client.force_login(users["admin"])
    livy_api.get(f"{LIVY}/batches/5", json=batch_json(5, "running", name=row.name))
    livy_api.get(f"{LIVY}/batches/5/log", json=batch_log_json(5))
    livy_api.delete(f"{LIVY}/batches/5", json={"msg": "deleted"})
    assert "nightly" in client.get(reverse("livy:job_list")).content.decode()
    client.post(reverse("livy:job_kill", args=[row.pk]))
    row.refresh_from_db()
    assert row.state == "killed"


def test_resubmit_fills_the_form_with_the_inputs(erin, livy_api, users, upload_dir):
    row = _running(users["editor"], state="success")
    page = erin.get(reverse("livy:job_resubmit", args=[row.pk])).content.decode()
    assert 'value="hdfs:///a.py"' in page and re.search(r'name="args"[^>]*>\s*x</textarea>', page)
    assert f'name="resubmitted_from" value="{row.pk}"' in page
    livy_api.post(f"{LIVY}/batches", status=201, json=batch_json(6, "starting", name="n"))
    erin.post(reverse("livy:job_submit"), {"file_path": "hdfs:///a.py", "args": "y", "resubmitted_from": row.pk})
    new = Batch.objects.exclude(pk=row.pk).get()
    assert new.resubmitted_from == row and new.request["args"] == ["y"]


def test_jobs_link_in_the_top_bar_for_those_who_may_submit(client, users):
    client.force_login(users["editor"])
    assert 'href="/jobs/"' in client.get(reverse("livy:session_list")).content.decode()
    client.force_login(users["viewer"])
    assert 'href="/jobs/"' not in client.get(reverse("livy:session_list")).content.decode()


def test_maintenance_refreshes_unfinished_batches(livy_api, users):
    row = _running(users["editor"])
    livy_api.get(f"{LIVY}/batches/5", json=batch_json(5, "success", name=row.name))
    livy_api.get(f"{LIVY}/batches/5/log", json=batch_log_json(5, ["done"]))
    out = StringIO()
    call_command("maintenance", stdout=out, stderr=StringIO())
    row.refresh_from_db()
    assert row.state == "success" and row.log_stdout == "done"
    assert "1 unfinished job(s) refreshed, 0 failed." in out.getvalue()


def test_a_submission_left_without_an_answer_is_settled_by_its_name(erin, livy_api, users):
    from datetime import timedelta

    from django.utils import timezone

    lost = Batch.objects.create(owner=users["editor"], backend="apache", endpoint=LIVY, name="pytest-job-lost")
    found = Batch.objects.create(owner=users["editor"], backend="apache", endpoint=LIVY, name="pytest-job-found")
    Batch.objects.update(created_at=timezone.now() - timedelta(hours=1))
    livy_api.get(f"{LIVY}/batches", json={"from": 0, "total": 1, "sessions": [batch_json(8, "running", name=found.name)]})
    livy_api.get(f"{LIVY}/batches/8", json=batch_json(8, "running", name=found.name))
    out = StringIO()
    call_command("maintenance", stdout=out, stderr=StringIO())
    lost.refresh_from_db()
    found.refresh_from_db()
    assert (lost.state, lost.error_message) == (Batch.NOT_SUBMITTED, batches.BATCH_UNCONFIRMED)
    assert (found.livy_id, found.state) == ("8", "running")


def test_the_list_shows_the_main_files_name_and_state(erin, livy_api, users, upload_dir):
    Batch.objects.create(owner=users["editor"], backend="apache", endpoint=LIVY, livy_id="2", name="pytest-job-x",
                         label="nightly", state="success", request={"file": f"{upload_dir}/{'a' * 64}/etl_job.py"})
    page = erin.get(reverse("livy:job_list")).content.decode()
    assert ">etl_job.py</td>" in page and 'data-state="success"' in page and 'data-live="false"' in page


@pytest.mark.parametrize("path", ["local:/etc/passwd", "local:///root/x.py", "{root}/%2e%2e/%2e%2e/x.py", "{root}"])
def test_local_paths_that_would_slip_past_livys_whitelist_are_refused(tmp_path, path):
    """``local:`` is held to the allowed folders (Livy whitelists only ``file:``), percent-encoded
    ``..`` is refused (java.net.URI decodes it again), and the folder itself is not a file."""
    from livy.job_forms import check_path
    root = tmp_path / "allowed"
    root.mkdir()
    with pytest.raises(ValueError):
        check_path(path.format(root=root), "apache", [str(root)])
    inside = root / "job.py"
    inside.write_text("print(1)")
    assert check_path(f"local:{inside}", "apache", [str(root)]) == f"local:{inside}"
