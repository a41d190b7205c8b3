"""The Jobs pages: submit a Spark job (Livy batch), list them, follow one (state, the exact
request, the log streamed while it runs), kill or resubmit it. Thin, like :mod:`livy.views`:
permissions here, reads in :mod:`livy.batch_selectors`, writes in :mod:`livy.batches`; a
Livy failure becomes a message on the page, never a 500.

Every view needs ``livy.submit_batch``; a batch of someone else answers 404 unless the user
has ``livy.view_all_batches`` (and Kill needs ``livy.kill_any_batch`` for others' batches).
``static/livy/jobs.js`` polls :func:`job_poll` while a batch runs and appends the new log lines.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from livy import batch_selectors, batches, uploads
from livy.clients import current_config, livy_client
from livy.job_forms import JobForm
from livy.models import Batch
from livy.remote.backends import BACKEND_CLASSES, LivyBackend
from livy.remote.errors import LivyError, LivySignInRequired

log = logging.getLogger(__name__)

#: Batches per page of the list.
PAGE_SIZE = 25
#: Most log lines one poll answers with per stream (the page asks again for the rest).
POLL_LINES = 2000
#: Where Fabric users find a job's whole driver log (Fabric has no log endpoint).
FABRIC_LOGS_HINT = (
    "Fabric's Livy API has no log endpoint: this is the job's log[] as Fabric reports it. The whole driver and "
    "executor logs are in the Fabric portal: Monitor (Monitoring hub) → this job (its name or Livy id) → Logs."
)


def _backend() -> type[LivyBackend]:
    return BACKEND_CLASSES.get(current_config().LIVY_BACKEND, LivyBackend)


def _sign_in_url(request: HttpRequest) -> str:
    target = reverse("entra_login") if current_config().entra_enabled else reverse("login")
    page = request.path if request.method == "GET" else reverse("livy:job_list")
    return f"{target}?{urlencode({'next': page})}"


def _signs_in_again(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """An expired Fabric sign-in (:class:`LivySignInRequired`) becomes a sign-in round trip."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except LivySignInRequired:
            if request.headers.get("Accept", "").startswith("application/json"):
                return JsonResponse({"signIn": _sign_in_url(request)}, status=401)
            return redirect(_sign_in_url(request))

    return wrapper


def _refresh(request: HttpRequest, rows: list[Batch], notices: list[str]) -> None:
    """Refresh the unfinished batches among ``rows`` from Livy (each failure once, as a notice)."""
    pending = [row for row in rows if not row.is_terminal]
    if not pending:
        return
    client = livy_client(request.session)
    for row in pending:
        try:
            batches.refresh_batch(row, client=client)
        except LivySignInRequired:
            raise
        except LivyError as exc:
            message = f"The state of the jobs could not be read from Livy: {exc}"
            if message not in notices:
                notices.append(message)


def _visible(request: HttpRequest, pk: int) -> Batch:
    return get_object_or_404(batch_selectors.batches_visible_to(request.user), pk=pk)


# ----------------------------------------------------------------------------------- pages
@login_required
@permission_required("livy.submit_batch", raise_exception=True)
@require_GET
@_signs_in_again
def job_list(request: HttpRequest) -> HttpResponse:
    """The batches the user may see, newest first (:data:`PAGE_SIZE` a page); the unfinished
    ones shown are refreshed from Livy first."""
    qs = batch_selectors.batches_visible_to(request.user).order_by("-created_at", "-pk")
    mine = request.GET.get("mine") == "1"
    if mine:
        qs = qs.filter(owner=request.user)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    notices: list[str] = []
    rows = list(page.object_list)
    _refresh(request, rows, notices)
    return render(request, "livy/jobs/list.html", {
        "page": page, "rows": rows, "mine": mine, "notices": notices,
        "live": any(not row.is_terminal for row in rows),
    })


def _render_form(request: HttpRequest, form: JobForm, notices: list[str], *, source: Batch | None = None,
                 status: int = 200) -> HttpResponse:
    return render(request, "livy/jobs/submit.html", {
        "form": form, "notices": notices, "source": source, "uploads_allowed": form.uploads_allowed,
        "backend": form.backend, "allowed_dirs": form._allowed_dirs(),
        "max_upload": uploads.human_size(current_config().LIVY_BATCH_MAX_UPLOAD_BYTES),
        "upload_limit": uploads.job_limit(),
    }, status=status)


@uploads.upload_limited(uploads.job_limit, back_to="livy:job_submit")
@login_required
@permission_required("livy.submit_batch", raise_exception=True)
@require_http_methods(["GET", "POST"])
@_signs_in_again
def job_submit(request: HttpRequest) -> HttpResponse:
    """The submit form (GET) and its submission (POST). An invalid form, or a request Livy
    refuses (400 with its message, 429/430 with when to try again), is shown again with every
    field kept (uploads as their stored paths) and nothing submitted; a submitted job opens
    its page. Uploads are limited as they arrive (:func:`livy.uploads.job_limit`): a file
    over the limit is an error on its field, a body stopped at the limit (413) shows the
    fields received."""
    source = None
    source_pk = request.POST.get("resubmitted_from", "") if request.method == "POST" else ""
    if source_pk.isdigit():
        source = batch_selectors.batches_visible_to(request.user).filter(pk=int(source_pk)).first()
    if request.method == "GET":
        return _render_form(request, JobForm(), [])
    data, files = request.POST, request.FILES
    halted = uploads.stopped(request)
    if halted:
        return _render_form(request, JobForm(data), [halted], source=source, status=413)
    form = JobForm(data, files, refused=uploads.refusals(request))
    if not form.is_valid():
        return _render_form(request, form, [], source=source, status=400)
    try:
        row = batches.submit_batch(request.user, form.inputs(), client=livy_client(request.session),
                                   resubmitted_from=source)
    except LivySignInRequired:
        raise
    except LivyError as exc:
        form.keep_stored_uploads()
        return _render_form(request, form, [f"The job was not submitted: {exc}"], source=source, status=200)
    return redirect("livy:job_detail", row.pk)


@login_required
@permission_required("livy.submit_batch", raise_exception=True)
@require_GET
def job_resubmit(request: HttpRequest, pk: int) -> HttpResponse:
    """The submit form filled in with a batch's inputs (its uploads as their stored paths), to
    edit and submit again as a new batch; uploads deleted since (``manage.py maintenance``,
    ``LIVY_BATCH_UPLOAD_RETENTION_DAYS``) are named, to be uploaded again."""
    source = _visible(request, pk)
    inputs = batches.JobInputs.from_json(source.inputs)
    form = JobForm(initial=JobForm.initial_from(inputs))
    return _render_form(request, form, batches.uploads_gone(inputs), source=source)


def _detail_context(request: HttpRequest, row: Batch, notices: list[str]) -> dict[str, Any]:
    backend = BACKEND_CLASSES.get(row.backend, _backend())
    return {
        "batch": row,
        "notices": notices,
        "can_kill": batch_selectors.can_kill(request.user, row) and not row.is_terminal,
        "supports_log": backend.supports_log,
        "fabric_logs_hint": "" if backend.supports_log else FABRIC_LOGS_HINT,
        "stdout_lines": batch_selectors.log_lines(row.log_stdout, 0),
        "stderr_lines": batch_selectors.log_lines(row.log_stderr, 0),
        "poll_interval": current_config().LIVY_POLL_INTERVAL,
    }


@login_required
@permission_required("livy.submit_batch", raise_exception=True)
@require_GET
@_signs_in_again
def job_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """One batch: state (and Fabric's phase), who submitted it, times, appId, Spark UI link,
    the exact request sent, its log (streamed by jobs.js while it runs), Kill and Resubmit."""
    row = _visible(request, pk)
    notices: list[str] = []
    _refresh(request, [row], notices)
    return render(request, "livy/jobs/detail.html", _detail_context(request, row, notices))


def _offset(request: HttpRequest, name: str) -> int:
    value = request.GET.get(name, "0")
    return int(value) if value.isdigit() else 0


@login_required
@permission_required("livy.submit_batch", raise_exception=True)
@require_GET
@_signs_in_again
def job_poll(request: HttpRequest, pk: int) -> HttpResponse:
    """What jobs.js asks for while a batch runs (reads only): its state and the log lines
    after line ``out`` of stdout and ``err`` of stderr, as JSON::

        {"state", "tone", "phase", "live", "notice", "stdout": [...], "stderr": [...],
         "out": <next stdout line>, "err": <next stderr line>}
    """
    row = _visible(request, pk)
    notices: list[str] = []
    _refresh(request, [row], notices)
    out, err = _offset(request, "out"), _offset(request, "err")
    stdout = batch_selectors.log_lines(row.log_stdout, out)[:POLL_LINES]
    stderr = batch_selectors.log_lines(row.log_stderr, err)[:POLL_LINES]
    return JsonResponse({
        "state": row.state, "tone": row.tone, "phase": row.phase, "live": not row.is_terminal,
        "notice": notices[0] if notices else "", "error": row.error_message,
        "stdout": stdout, "stderr": stderr, "out": out + len(stdout), "err": err + len(stderr),
    })


@login_required
@permission_required("livy.submit_batch", raise_exception=True)
@require_GET
def job_log_download(request: HttpRequest, pk: int) -> HttpResponse:
    """The whole log of a batch as read from Livy (stdout, then stderr), as a text file."""
    row = _visible(request, pk)
    parts = [f"# {row.name} (Livy batch {row.livy_id or '-'}, {row.state})"]
    if row.log_stdout:
        parts += ["stdout:", row.log_stdout]
    if row.log_stderr:
        parts += ["", "stderr:", row.log_stderr]
    response = HttpResponse("\n".join(parts) + "\n", content_type="text/plain; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{row.name}.log"'
    return response


@login_required
@permission_required("livy.submit_batch", raise_exception=True)
@require_POST
@_signs_in_again
def job_kill(request: HttpRequest, pk: int) -> HttpResponse:
    """Kill a running batch: its owner, or a user with ``livy.kill_any_batch``."""
    row = _visible(request, pk)
    if not batch_selectors.can_kill(request.user, row):
        return HttpResponse("You may not kill this job.", status=403)
    try:
        batches.kill_batch(row, client=livy_client(request.session))
    except LivySignInRequired:
        raise
    except LivyError as exc:
        messages.error(request, f"The job could not be killed: {exc}")
    return redirect("livy:job_detail", row.pk)
