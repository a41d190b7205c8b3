"""The Livy client's batch calls and types, against `responses` fakes of Apache Livy and of
Fabric's bodies: what is sent, what is read, and the errors users see."""

from __future__ import annotations

import pytest
import responses
from responses import matchers

from livy.batches import LOG_GAP, merge_lines, split_livy_log
from livy.remote.backends import ApacheLivyBackend, FabricLivyBackend
from livy.remote.client import LivyClient
from livy.remote.errors import LivyHTTPError, LivyNotFound, LivyProtocolError, LivyThrottled
from livy.remote.states import SessionState
from livy.remote.types import BatchSpec, LivyBatch
from tests.support.livy_json import batch_json, batch_log_json

BASE = "http://livy.test:8998"


class _Token:
    interactive = True

    def access_token(self) -> str:
        return "t0k3n"


@pytest.fixture
def client():
    return LivyClient(ApacheLivyBackend(BASE), timeout=5)


@pytest.fixture
def api():
    with responses.RequestsMock() as mock:
        yield mock


SPEC = BatchSpec(
    name="pytest-job-etl-1", file="/up/ab/etl_job.py", args=["--output", "/tmp/out dir"],
    py_files=["/up/cd/packages.zip"], files=["/up/ef/etl_config.json"], conf={"spark.sql.shuffle.partitions": "4"},
    driver_memory="512m", executor_cores=1, num_executors=2,
)


def test_create_batch_sends_livy_body_without_empty_fields(client, api):
    api.post(f"{BASE}/batches", status=201, json=batch_json(7, "starting", name=SPEC.name), match=[
        matchers.json_params_matcher({
            "name": "pytest-job-etl-1", "file": "/up/ab/etl_job.py", "args": ["--output", "/tmp/out dir"],
            "pyFiles": ["/up/cd/packages.zip"], "files": ["/up/ef/etl_config.json"],
            "conf": {"spark.sql.shuffle.partitions": "4"}, "driverMemory": "512m", "executorCores": 1,
            "numExecutors": 2,
        }, strict_match=True),
        matchers.header_matcher({"X-Requested-By": "livy-web"}),
    ])
    batch = client.create_batch(SPEC)
    assert (batch.id, batch.state, batch.name) == ("7", SessionState.STARTING, SPEC.name)


def test_jar_batch_carries_its_main_class(client):
    body = client.backend.batch_body(BatchSpec(name="j", file="hdfs:///jobs/app.jar", class_name="com.example.Main"))
    assert body == {"name": "j", "file": "hdfs:///jobs/app.jar", "className": "com.example.Main"}


def test_get_batch_reads_state_app_id_and_links(client, api):
    api.get(f"{BASE}/batches/3", json=batch_json(3, "running", app_id="local-1732", appInfo={
        "sparkUiUrl": "http://127.0.0.1:4040", "driverLogUrl": None}))
    batch = client.get_batch("3")
    assert batch.state is SessionState.RUNNING and batch.app_id == "local-1732"
    assert batch.spark_ui_url == "http://127.0.0.1:4040" and batch.driver_log_url is None


def test_get_batch_log_pages_with_from_and_size(client, api):
    api.get(f"{BASE}/batches/3/log", match=[matchers.query_param_matcher({"from": "0", "size": "-1"})],
            json=batch_log_json(3, ["ETL_JOB_RESULT rows=3"], ["INFO SparkContext: Running Spark"]))
    page = client.get_batch_log("3", 0, -1)
    assert page.total == 4
    assert split_livy_log(page.lines) == (["ETL_JOB_RESULT rows=3"], ["INFO SparkContext: Running Spark"])


def test_get_batch_log_without_from_asks_for_the_last_lines(client, api):
    api.get(f"{BASE}/batches/3/log", match=[matchers.query_param_matcher({"size": "50"})],
            json={"id": 3, "from": 10, "total": 60, "log": ["x"]})
    assert client.get_batch_log("3", None, 50).offset == 10


def test_delete_batch_and_missing_batch(client, api):
    api.delete(f"{BASE}/batches/3", json={"msg": "deleted"})
    api.get(f"{BASE}/batches/3", status=404, json={"msg": "Session '3' not found."})
    client.delete_batch("3")
    with pytest.raises(LivyNotFound, match="Session '3' not found"):
        client.get_batch("3")


def test_list_batches(client, api):
    api.get(f"{BASE}/batches", match=[matchers.query_param_matcher({"from": "0", "size": "100"})],
            json={"from": 0, "total": 2, "sessions": [batch_json(0, "success", name="a"), batch_json(1, "dead", name="b")]})
    assert [(b.id, b.name, b.state) for b in client.list_batches()] == [
        ("0", "a", SessionState.SUCCESS), ("1", "b", SessionState.DEAD)]


def test_refused_batch_carries_livys_message(client, api):
    api.post(f"{BASE}/batches", status=400,
             json={"msg": "requirement failed: Local path /etc/passwd cannot be added to user sessions."})
    with pytest.raises(LivyHTTPError, match="Local path /etc/passwd cannot be added to user sessions"):
        client.create_batch(SPEC)


def test_throttled_batch_says_when_to_try_again(client, api):
    api.post(f"{BASE}/batches", status=429, json={"msg": "Too many requests"}, headers={"Retry-After": "20"})
    with pytest.raises(LivyThrottled, match="Try again in 20 s") as caught:
        client.create_batch(SPEC)
    assert caught.value.retry_after == 20


def test_malformed_batch_is_a_protocol_error(client, api):
    api.get(f"{BASE}/batches/3", json={"id": 3, "state": "running", "log": "not a list"})
    with pytest.raises(LivyProtocolError):
        client.get_batch("3")
    api.get(f"{BASE}/batches/4/log", json={"id": 4, "from": 0, "total": 1, "log": {"a": 1}})
    with pytest.raises(LivyProtocolError):
        client.get_batch_log("4")


# --------------------------------------------------------------------------------- Fabric
def test_fabric_batch_body_has_string_conf():
    backend = FabricLivyBackend("https://api.fabric.microsoft.com/v1/x", _Token())
    body = backend.batch_body(BatchSpec(name="n", file="abfss://w@onelake.dfs.fabric.microsoft.com/l/Files/a.py",
                                        conf={"spark.fabric.environmentDetails": {"id": "e"}}))  # type: ignore[dict-item]
    assert body["conf"] == {"spark.fabric.environmentDetails": '{"id": "e"}'}


@pytest.mark.parametrize("info,state", [
    ({"state": "queued"}, SessionState.STARTING),
    ({"state": "libraryPackaging"}, SessionState.STARTING),
    ({"state": "error", "errorMessage": "Library installation failed"}, SessionState.DEAD),
    ({"state": "cancelled"}, SessionState.KILLED),
])
def test_fabric_phases_before_livy_states(info, state):
    batch = LivyBatch.from_json({"id": "0b9a", "name": "n", "fabricBatchStateInfo": info})
    assert batch.state is state and batch.phase == info["state"]
    assert batch.phase_error == info.get("errorMessage")


def test_fabric_error_info_is_read():
    batch = LivyBatch.from_json({"id": "g", "state": "dead", "errorInfo": [
        {"message": "File not found", "errorCode": "SparkJobFileNotFound", "source": "User"}]})
    assert batch.errors == ["SparkJobFileNotFound: File not found"]


# ------------------------------------------------------------------------------ log merge
def test_merge_appends_only_new_lines():
    assert merge_lines("", ["a", "b"]) == "a\nb"
    assert merge_lines("a\nb", ["a", "b", "c"]) == "a\nb\nc"
    assert merge_lines("a\nb\nc", ["a", "b", "c"]) == "a\nb\nc"


def test_merge_follows_livys_rolling_buffer():
    # Livy keeps the last N lines: between two reads "a" fell out and "d", "e" came in.
    assert merge_lines("a\nb\nc", ["b", "c", "d", "e"]) == "a\nb\nc\nd\ne"


def test_merge_marks_lines_livy_dropped_before_they_were_read():
    assert merge_lines("a\nb", ["x", "y"]) == f"a\nb\n{LOG_GAP}\nx\ny"
