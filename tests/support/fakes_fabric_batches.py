"""Fabric's Livy batch operations added to the swagger-checked fake of
:mod:`tests.support.fakes_fabric` (``LivyApiBatch_*``: execute, list, get, cancel; Fabric has
no log endpoint). Every request and response still goes through the swagger contract.

Behaviour (the swagger's ``BatchResponse`` and ``BatchStateInfo``, Fabric's Livy API docs):
``POST /batches`` answers 202 with a GUID id and only ``fabricBatchStateInfo`` (``queued``);
each GET moves the batch one step: ``libraryPackaging``, ``submitting``, then Livy states
``starting`` → ``running`` → the outcome (``success``, or for a batch whose name is in
``failures`` the phase ``error`` with its ``errorMessage``). ``DELETE`` cancels: the next GET
says ``cancelled``/``killed``. ``log`` carries the lines Fabric reports with a batch.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field

from tests.support.fakes_fabric import LAKEHOUSE, WORKSPACE, FakeFabric, error_body

#: One step per GET: Fabric's acquisition phases, then Livy's states.
BATCH_STEPS: list[dict] = [
    {"fabricBatchStateInfo": {"state": "queued"}},
    {"fabricBatchStateInfo": {"state": "libraryPackaging"}},
    {"fabricBatchStateInfo": {"state": "submitting"}},
    {"state": "starting"},
    {"state": "running"},
    {"state": "success"},
]
SUBMITTER = {"submitterId": "6f23a8a6-d954-4550-b91a-4df73ccd0311", "submitterName": "Erin Editor"}


@dataclass
class FakeBatch:
    id: str
    name: str
    request: dict
    polls: int = 0
    cancelled: bool = False
    log: list[str] = field(default_factory=list)


class FakeFabricBatches(FakeFabric):
    """:class:`FakeFabric` with batches. ``failures`` maps a batch name prefix to the
    ``errorMessage`` its ``error`` phase carries."""

    def __init__(self, *args, failures: dict[str, str] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.batches: dict[str, FakeBatch] = {}
        self.failures = failures or {}

    def _answer(self, operation_id, request):
        if operation_id in ("LivyApiBatch_GetBatchAsync", "LivyApiBatch_CancelBatchAsync"):
            from tests.support.fakes_fabric import contract

            token = request.headers.get("Authorization", "").removeprefix("Bearer ")
            if self.token_ok(token) and not self.injected[operation_id]:
                _, params = contract().operation(request.method, request.url)
                if params["batchId"] not in self.batches:
                    return 404, error_body("LivyBatchNotFound", f"Batch {params['batchId']} was not found."), {}
        return super()._answer(operation_id, request)

    # ----------------------------------------------------------------------------- batches
    def _failure(self, batch: FakeBatch) -> str | None:
        return next((m for prefix, m in self.failures.items() if batch.name.startswith(prefix)), None)

    def _batch_json(self, batch: FakeBatch) -> dict:
        body: dict = {"id": batch.id, "name": batch.name, "artifactId": LAKEHOUSE, "jobType": "SparkBatch", "tags": {},
                      **SUBMITTER}
        if batch.cancelled:
            body.update({"fabricBatchStateInfo": {"state": "cancelled"}, "state": "killed", "result": "Cancelled"})
            return body
        step = BATCH_STEPS[min(batch.polls, len(BATCH_STEPS) - 1)]
        failure = self._failure(batch)
        if failure and "state" in step:
            body["fabricBatchStateInfo"] = {"state": "error", "errorMessage": failure}
            body["result"] = "Failed"
            body["errorInfo"] = [{"message": failure, "errorCode": "SparkJobFailed", "source": "User"}]
            return body
        body.update(step)
        if "state" in step:
            body["appId"] = "application_1732000000000_0042"
            body["appInfo"] = {"sparkUiUrl": "https://app.powerbi.com/workloads/de-ds/sparkmonitor/fake-batch"}
            body["livyInfo"] = {"startingAt": "2026-11-22T04:00:00Z", "currentState": step["state"],
                                "jobCreationRequest": batch.request}
            batch.log = ["stdout: ", f"{step['state']} {batch.name}", "\nstderr: "]
            body["log"] = list(batch.log)
            if step["state"] == "success":
                body["result"] = "Succeeded"
        return body

    def _ExecuteBatchAsync(self, request, session, params):
        payload = json.loads(request.body)
        new = FakeBatch(id=str(uuid.uuid4()), name=payload.get("name", ""), request=payload)
        self.batches[new.id] = new
        return 202, self._batch_json(new), {}

    def _GetBatchAsync(self, request, session, params):
        batch = self.batches[params["batchId"]]
        batch.polls += 1
        return 200, self._batch_json(batch), {}

    def _ListBatchJobsAsync(self, request, session, params):
        items = [{"id": b.id, "name": b.name, "workspaceId": WORKSPACE, "artifactId": LAKEHOUSE,
                  "livyState": self._batch_json(b).get("state", "not_started")} for b in self.batches.values()]
        return 200, {"items": items, "totalCountOfMatchedItems": len(items), "pageSize": len(items)}, {}

    def _CancelBatchAsync(self, request, session, params):
        self.batches[params["batchId"]].cancelled = True
        return 200, None, {}
