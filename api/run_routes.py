"""Notebook runs: ``POST /api/v1/notebooks/{id}/runs`` (Run all, optional ``parameters``) and
``GET /api/v1/runs/{id}`` (overall state, each cell's state and output), ``POST
/api/v1/runs/{id}/cancel``. A run is a :class:`livy.models.NotebookRun`
(:func:`livy.notebooks.service.start_run`): its statements go to Livy one at a time, so the
run moves on while its user's requests drive it (the page's polls, or this API's GET by the
run's user, with ``wait`` like statements); anyone else's GET only reads.

Who: starting a run is the page's Run all (:func:`livy.notebooks.selectors.can_run`: the
owner, with ``livy.change_notebook`` and ``livy.run_code``); a run is read by its user and by
those who may see its notebook (:func:`livy.notebooks.selectors.runs_visible_to`), others get
404; only its user cancels it. Its ``parameters`` are shown to its user and administrators
only (:func:`livy.notebooks.selectors.may_see_run_parameters`).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Router, Status
from ninja.errors import ValidationError

from api import services
from api.common import COMMON, Wait, caller, capped_wait, json_body
from api.schemas import RunIn, RunOut, ValidationProblem, run_out
from livy.models import NotebookRun
from livy.notebooks import selectors, service

notebook_runs = Router(tags=["runs"])
runs = Router(tags=["runs"])


def _out(run: NotebookRun, user: Any) -> RunOut:
    """The run as ``user`` sees it: the parameters (and the injected statement's output and
    error, which may show them) only for those :func:`livy.notebooks.selectors.may_see_run_parameters`
    allows."""
    out = run_out(service.run_summary(run), {s.pk: s for s in run.statements.all()})
    if not selectors.may_see_run_parameters(user, run):
        out.parameters = None
        for cell in out.cells:
            if cell.injected:
                cell.output, cell.error = None, None
    return out


@notebook_runs.post("/{int:notebook_id}/runs", response={202: RunOut, 422: ValidationProblem, **COMMON},
                    summary="Run all cells of a notebook")
def start_run(request: HttpRequest, response: HttpResponse, notebook_id: int, wait: Wait = None) -> Any:
    """Run all the notebook's code cells in the caller's session (started if needed), as the
    page's Run all: one at a time, in order, the first failure stops the run (the rest
    ``cancelled``). ``parameters`` are injected right after the parameters cell (422 when the
    notebook has none, or for a bad name or value). 202 with the run and its ``Location``;
    with ``wait`` the answer comes when the run ends or the seconds have passed."""
    user = caller(request)
    notebook = selectors.get_visible(user, notebook_id)
    if not selectors.can_run(user, notebook):
        raise PermissionDenied("Only the notebook's owner, with a role that may run code, may run it.")
    body = json_body(request, RunIn) if request.body else RunIn(parameters=None)
    try:
        run = service.start_run(notebook, user, services.client(), parameters=body.parameters,
                                wait=capped_wait(wait))
    except service.NotebookError as exc:
        raise ValidationError([{"loc": ["body", "parameters"], "msg": str(exc), "type": "value_error"}]) from None
    response["Location"] = f"/api/v1/runs/{run.pk}"
    return Status(202, _out(run, user))


@runs.get("/{int:run_id}", response={200: RunOut, **COMMON}, summary="Read a notebook run")
def get_run(request: HttpRequest, run_id: int, wait: Wait = None) -> Any:
    """The run: its state and each cell's state and output. Read by the run's user, it moves
    the run on (sends the next cells as the running ones finish); ``wait`` holds the answer
    until the run ends or the seconds have passed. ``parameters`` (and the injected
    statement's output) are null except for the run's user and administrators."""
    user = caller(request)
    run = get_object_or_404(selectors.runs_visible_to(user), pk=run_id)
    return _out(services.await_run(run, actor=user, client=services.client(), wait=capped_wait(wait)), user)


@runs.post("/{int:run_id}/cancel", response={202: RunOut, **COMMON}, summary="Cancel a notebook run")
def cancel_run(request: HttpRequest, run_id: int) -> Any:
    """Cancel all: the run's queued cells are cancelled and its running one cancelled on Livy
    (its user only). A finished run is answered as it is."""
    user = caller(request)
    run = get_object_or_404(selectors.runs_visible_to(user), pk=run_id)
    if run.user_id != user.pk:
        raise PermissionDenied("Only the user who started the run may cancel it.")
    return Status(202, _out(service.cancel_run(run, services.client(), actor=user), user))
