"""Spark jobs (Livy batches): the only module that writes :class:`livy.models.Batch` rows and
the job files users upload. Views call these functions; these call the Livy client they are
given. Reads are in :mod:`livy.batch_selectors`.

Rules (the same as :mod:`livy.lifecycle` for sessions):

* The row is written before ``POST /batches`` and updated from Livy's answer. A request Livy
  refused (or never got) leaves no row and nothing on Livy: the form shows why, with every
  field kept. A request Livy may have got without answering is looked up by its name.
* A Livy batch is the row's only when its id *and* name match (Apache Livy numbers batches
  from 0 again after a restart, so an id alone may name someone else's job).
* While a batch runs, each refresh reads its state and its log (Apache Livy keeps only the
  last ``livy.cache-log.size`` lines, 200 by default, of spark-submit's stdout and of its
  stderr); the lines are merged into the row, so the page streams them and the download holds
  every line read, after Livy has forgotten the batch.

Uploads are stored under ``LIVY_BATCH_UPLOAD_DIR`` by content (``<sha256>/<file name>``: the
same file uploaded twice is stored once, and keeps its name, which ``--files`` and
``--py-files`` users rely on), at most ``LIVY_BATCH_MAX_UPLOAD_BYTES`` each (held while the
body arrives, :mod:`livy.uploads`), and deleted by :func:`clean_uploads` (``manage.py
maintenance``) once no job has needed them for ``LIVY_BATCH_UPLOAD_RETENTION_DAYS`` days.

Errors: functions raise :class:`livy.remote.errors.LivyError` subclasses when Livy cannot
be used, and :class:`UploadRejected` for an upload that cannot be stored.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from livy.clients import current_config
from livy.models import Batch
from livy.remote.client import LivyClient
from livy.remote.errors import LivyError, LivyNotFound, LivyOutcomeUnknown, LivyProtocolError
from livy.remote.states import SessionState
from livy.remote.types import BatchSpec, LivyBatch
from livy.uploads import human_size
from myapp.config import AppConfig

log = logging.getLogger(__name__)

#: Most lines kept per stream (stdout, stderr) of a batch's log in its row.
LOG_MAX_LINES = 50_000
#: Written where lines Livy had already dropped (its buffer rolled over between two reads) are missing.
LOG_GAP = "… (Livy dropped lines here before they were read: it keeps the last livy.cache-log.size lines) …"
#: Shown when Livy no longer knows the batch.
BATCH_GONE = (
    "Livy no longer knows this batch (Livy restarted, or it forgot the batch after it ended): "
    "its final state is unknown. The log below is what was read while it ran."
)
#: Shown when the batch under our id is someone else's (Livy restarted and reused the id).
BATCH_REPLACED = (
    "Livy restarted while this job ran: the batch now under its id is another one (Livy numbers batches "
    "from 0 again after a restart). This job's final state is unknown; resubmit it if you need its result."
)
#: Shown when a POST may have reached Livy but no answer came, and Livy does not list it.
BATCH_UNCONFIRMED = (
    "Livy did not confirm the job and does not list it: it was probably not submitted. Submit it again."
)


class UploadRejected(ValueError):
    """An upload that cannot be stored (too big, no name); ``str()`` is the user's message."""


# --------------------------------------------------------------------------------- uploads
def upload_root(cfg: AppConfig | None = None) -> Path:
    """``LIVY_BATCH_UPLOAD_DIR`` as an absolute path (relative values are relative to the
    project folder, ``settings.BASE_DIR``: the folder scripts/livy/livy.sh whitelists)."""
    cfg = cfg or current_config()
    root = Path(cfg.LIVY_BATCH_UPLOAD_DIR).expanduser()
    if not root.is_absolute():
        root = Path(settings.BASE_DIR) / root
    return Path(os.path.abspath(root))


def _safe_name(name: str) -> str:
    """The file name of an upload, reduced to letters, digits, ``._-`` (its extension kept)."""
    base = os.path.basename(name.replace("\\", "/")).strip()
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).strip("._") or ""
    return cleaned[:120]


def store_upload(upload: Any, cfg: AppConfig | None = None) -> str:
    """Store an uploaded file (Django's ``UploadedFile``: ``name``, ``size``, ``chunks()``)
    under :func:`upload_root` as ``<sha256>/<name>`` and return its absolute path, the path
    sent to Livy. Raises :class:`UploadRejected` when it is larger than
    ``LIVY_BATCH_MAX_UPLOAD_BYTES`` or has no usable name; ``OSError`` when the folder cannot
    be written."""
    cfg = cfg or current_config()
    name = _safe_name(upload.name or "")
    if not name:
        raise UploadRejected(f"The uploaded file {upload.name!r} has no usable name.")
    limit = cfg.LIVY_BATCH_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        raise UploadRejected(f"{name} is {human_size(upload.size)}: the largest upload accepted is {human_size(limit)}.")
    root = upload_root(cfg)
    root.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    seen = 0
    fd, tmp = tempfile.mkstemp(dir=root, prefix=".upload-")
    try:
        with os.fdopen(fd, "wb") as out:
            for chunk in upload.chunks():
                seen += len(chunk)
                if seen > limit:
                    raise UploadRejected(f"{name} is larger than {human_size(limit)}, the largest upload accepted.")
                digest.update(chunk)
                out.write(chunk)
        folder = root / digest.hexdigest()
        folder.mkdir(exist_ok=True)
        target = folder / name
        if target.exists():
            os.unlink(tmp)
            os.utime(target)  # uploaded again: kept as long as a new upload (clean_uploads)
        else:
            os.chmod(tmp, 0o644)  # the Livy server may run as another user
            os.replace(tmp, target)
        return str(target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


#: Shown for a path to an upload that was deleted (``manage.py maintenance``, clean_uploads).
UPLOAD_GONE = (
    "{name} was uploaded for an earlier job and has been deleted from the server (uploads are kept "
    "{days} days after their last job ended, LIVY_BATCH_UPLOAD_RETENTION_DAYS): upload it again."
)
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def _stored_upload(path: str, cfg: AppConfig) -> bool:
    """True when ``path`` names a stored upload (``<upload root>/<sha256>/<name>``)."""
    root = str(upload_root(cfg))
    if not path.startswith(root.rstrip("/") + "/"):
        return False
    parts = path[len(root):].strip("/").split("/")
    return len(parts) == 2 and bool(_DIGEST.match(parts[0]))


def upload_gone(path: str, cfg: AppConfig | None = None) -> str:
    """The user's message when ``path`` is a stored upload that no longer exists (deleted by
    :func:`clean_uploads`), else ``""``."""
    cfg = cfg or current_config()
    if not _stored_upload(path, cfg) or os.path.exists(path):
        return ""
    return UPLOAD_GONE.format(name=os.path.basename(path), days=cfg.LIVY_BATCH_UPLOAD_RETENTION_DAYS)


def _input_paths(inputs: JobInputs) -> list[str]:
    return [inputs.file, *inputs.py_files, *inputs.files, *inputs.jars, *inputs.archives]


def _paths_in(data: Any) -> list[str]:
    """The file paths of a ``Batch.inputs`` value, whatever it holds (an old or empty row)."""
    if not isinstance(data, dict):
        return []
    found = [data.get("file")]
    for kind in ("py_files", "files", "jars", "archives"):
        value = data.get(kind)
        found += value if isinstance(value, list) else []
    return [path for path in found if isinstance(path, str) and path]


def uploads_gone(inputs: JobInputs, cfg: AppConfig | None = None) -> list[str]:
    """One message (:func:`upload_gone`) per stored upload of ``inputs`` deleted since."""
    return [message for message in (upload_gone(path, cfg) for path in _input_paths(inputs)) if message]


@dataclass
class UploadCleanup:
    """What :func:`clean_uploads` did: the files deleted (absolute paths) and how many stored
    files were kept."""

    deleted: list[str] = field(default_factory=list)
    kept: int = 0


def clean_uploads(cfg: AppConfig | None = None, *, dry_run: bool = False) -> UploadCleanup:
    """Delete the stored uploads no job needs any longer: a file under :func:`upload_root`
    is deleted when no batch that is unfinished, or ended less than
    ``LIVY_BATCH_UPLOAD_RETENTION_DAYS`` days ago, lists it, and it was stored (or uploaded
    again) longer ago than that (so an upload kept by a form shown again with its errors
    stays). Storage is by content, so a file shared by several batches stays while any of
    them needs it. Leftover temporary files (``.upload-*``) of the same age and emptied
    folders go too. ``dry_run``: report, delete nothing. A file that cannot be deleted is
    logged and kept. A Resubmit of a batch whose files are gone says so (:func:`upload_gone`)."""
    cfg = cfg or current_config()
    report = UploadCleanup()
    root = upload_root(cfg)
    if not root.is_dir():
        return report
    cutoff = timezone.now() - timedelta(days=cfg.LIVY_BATCH_UPLOAD_RETENTION_DAYS)
    needed: set[str] = set()
    recent = Batch.objects.filter(models.Q(ended_at__isnull=True) | models.Q(ended_at__gte=cutoff))
    for data in recent.values_list("inputs", flat=True).iterator():
        needed.update(_paths_in(data))
    oldest = cutoff.timestamp()
    for entry in os.scandir(root):
        if entry.is_file(follow_symlinks=False) and entry.name.startswith(".upload-"):
            if entry.stat(follow_symlinks=False).st_mtime < oldest:
                _delete(entry.path, report, dry_run)
            continue
        if not (entry.is_dir(follow_symlinks=False) and _DIGEST.match(entry.name)):
            continue
        for item in os.scandir(entry.path):
            if (item.is_file(follow_symlinks=False) and item.path not in needed
                    and item.stat(follow_symlinks=False).st_mtime < oldest):
                _delete(item.path, report, dry_run)
            else:
                report.kept += 1
        if not dry_run:
            try:
                os.rmdir(entry.path)  # only when emptied
            except OSError:
                pass
    return report


def _delete(path: str, report: UploadCleanup, dry_run: bool) -> None:
    if not dry_run:
        try:
            os.unlink(path)
        except OSError as exc:
            log.warning("stored upload %s could not be deleted: %s", path, exc)
            report.kept += 1
            return
    report.deleted.append(path)


# --------------------------------------------------------------------------------- submit
@dataclass
class JobInputs:
    """What a user submits, files as the paths or URIs sent to Livy (uploads already stored):
    the form's cleaned data, kept in ``Batch.inputs`` for Resubmit. Sizes None: Livy's default."""

    file: str
    label: str = ""
    class_name: str = ""
    args: list[str] = field(default_factory=list)
    py_files: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    jars: list[str] = field(default_factory=list)
    archives: list[str] = field(default_factory=list)
    conf: dict[str, str] = field(default_factory=dict)
    driver_memory: str = ""
    driver_cores: int | None = None
    executor_memory: str = ""
    executor_cores: int | None = None
    num_executors: int | None = None

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> JobInputs:
        """Read ``Batch.inputs`` back (unknown keys ignored)."""
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)


def batch_name(label: str, cfg: AppConfig | None = None) -> str:
    """The Livy ``name`` of a new batch: ``LIVY_SESSION_NAME_PREFIX`` + ``job-`` + the user's
    name for it (letters, digits and ``-``) + a UTC timestamp to the microsecond, so no two
    submissions share a name (Livy refuses duplicate names; identity relies on them)."""
    cfg = cfg or current_config()
    slug = re.sub(r"[^A-Za-z0-9]+", "-", label).strip("-").lower()[:60]
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S-%f")
    return f"{cfg.LIVY_SESSION_NAME_PREFIX}job-{slug + '-' if slug else ''}{stamp}"


def spec_for(inputs: JobInputs, name: str) -> BatchSpec:
    """The :class:`BatchSpec` of ``inputs`` under the Livy ``name``."""
    return BatchSpec(
        name=name, file=inputs.file, class_name=inputs.class_name or None, args=list(inputs.args),
        py_files=list(inputs.py_files), files=list(inputs.files), jars=list(inputs.jars),
        archives=list(inputs.archives), conf=dict(inputs.conf), driver_memory=inputs.driver_memory or None,
        driver_cores=inputs.driver_cores, executor_memory=inputs.executor_memory or None,
        executor_cores=inputs.executor_cores, num_executors=inputs.num_executors,
    )


def submit_batch(user: Any, inputs: JobInputs, *, client: LivyClient, cfg: AppConfig | None = None,
                 resubmitted_from: Batch | None = None) -> Batch:
    """Submit ``inputs`` as a new Livy batch of ``user`` and return its row.

    The row (with the exact body, ``request``) is saved first, then ``POST /batches`` is sent.
    When Livy refuses it or cannot be reached the row is deleted and the :class:`LivyError`
    raised (nothing was submitted). When the request may have reached Livy without an answer
    (:class:`LivyOutcomeUnknown`), Livy's list is searched for the batch's name: found, it is
    adopted; not found, the row is kept as ``not_submitted`` with the reason and the error raised.
    """
    cfg = cfg or current_config()
    name = batch_name(inputs.label, cfg)
    spec = spec_for(inputs, name)
    row = Batch.objects.create(
        owner=user, backend=cfg.LIVY_BACKEND, endpoint=cfg.LIVY_BASE_ENDPOINT, name=name, label=inputs.label[:120],
        request=client.backend.batch_body(spec), inputs=asdict(inputs), resubmitted_from=resubmitted_from,
    )
    try:
        livy = client.create_batch(spec)
    except LivyOutcomeUnknown as exc:
        found = _find_by_name(client, name)
        if found is None:
            Batch.objects.filter(pk=row.pk).update(state=Batch.NOT_SUBMITTED, error_message=BATCH_UNCONFIRMED,
                                                  ended_at=timezone.now())
            raise LivyOutcomeUnknown(f"{exc} {BATCH_UNCONFIRMED}") from exc
        livy = found
    except LivyError:
        row.delete()
        raise
    row.submitted_at = timezone.now()
    try:
        _apply(row, livy)
    except LivyProtocolError:
        row.livy_id = livy.id[:64]
    row.save()
    log.info("user %s submitted Livy batch %s (%s)", user.pk, row.livy_id, row.name)
    return row


def _find_by_name(client: LivyClient, name: str) -> LivyBatch | None:
    """The Livy batch called ``name``, from Livy's list (the newest 1000), or None."""
    try:
        for offset in range(0, 1000, 100):
            page = client.list_batches(offset, 100)
            for batch in page:
                if batch.name == name:
                    return client.get_batch(batch.id)
            if len(page) < 100:
                break
    except LivyError:
        log.warning("could not look for batch %s in Livy's list", name)
    return None


# -------------------------------------------------------------------------------- refresh
def _is_ours(row: Batch, livy: LivyBatch) -> bool:
    """Livy's batch is the row's only if both the id and the name match (see the module)."""
    return livy.id == row.livy_id and livy.name == row.name


def _open_filter(row: Batch) -> dict[str, Any]:
    """Conditions under which a write from Livy still applies: the row has not ended (a Kill
    or another process's refresh may have ended it meanwhile)."""
    return {"pk": row.pk, "ended_at__isnull": True}


def _verified(row: Batch, client: LivyClient) -> LivyBatch | None:
    """Livy's batch if it is still the row's (``GET /batches/{id}``); None after closing the
    row as gone (404) or replaced (another batch under the id)."""
    try:
        livy = client.get_batch(row.livy_id)
    except LivyNotFound:
        if client.backend.early_errors_expected and _young(row):
            return None
        _close(row, SessionState.DEAD, BATCH_GONE)
        return None
    if not _is_ours(row, livy):
        log.warning("Livy batch %s is no longer ours (name %r, expected %r): closing row %s",
                    row.livy_id, livy.name, row.name, row.pk)
        _close(row, SessionState.DEAD, BATCH_REPLACED)
        return None
    return livy


def _young(row: Batch) -> bool:
    """True while a just-submitted batch may still be invisible to its server (Fabric)."""
    since = row.submitted_at or row.created_at
    return (timezone.now() - since).total_seconds() < current_config().LIVY_SESSION_CREATE_GRACE


def refresh_batch(row: Batch, *, client: LivyClient, force: bool = False) -> Batch:
    """Bring an unfinished batch's row up to date from Livy: state, phase, appId, Spark UI
    link, and (Apache) the log lines read so far; once it ended, its final log. At most once
    per ``LIVY_REFRESH_MIN_INTERVAL`` seconds unless ``force``. A batch Livy no longer has,
    or whose id now names another batch, is closed with the reason. Raises :class:`LivyError`
    when Livy cannot be read (the row is left as it was)."""
    if row.is_terminal:
        return row
    if not row.livy_id:
        _settle_unconfirmed(row, client)
        return row
    cfg = current_config()
    if not force and row.refreshed_at is not None:
        if (timezone.now() - row.refreshed_at).total_seconds() < cfg.LIVY_REFRESH_MIN_INTERVAL:
            return row
    livy = _verified(row, client)
    if livy is None:
        row.refresh_from_db()
        return row
    _apply(row, livy)
    _read_log(row, livy, client)
    row.refreshed_at = timezone.now()
    fields = ["state", "phase", "app_id", "spark_ui_url", "driver_log_url", "error_message", "running_at",
              "ended_at", "log_stdout", "log_stderr", "log_final", "refreshed_at"]
    if not Batch.objects.filter(**_open_filter(row)).update(**{f: getattr(row, f) for f in fields}):
        row.refresh_from_db()
    return row


#: A submission may take this many request timeouts (a token fetch, connect, read, one retry
#: after a 401) before a row without a Livy id is looked up on Livy.
SETTLE_AFTER_TIMEOUTS = 4


def _settle_unconfirmed(row: Batch, client: LivyClient) -> None:
    """A row left without a Livy id longer than any submission takes (the process died
    between writing it and Livy's answer): adopt Livy's batch of that name, or end the row
    as ``not_submitted``. Nothing is ever sent again automatically."""
    limit = SETTLE_AFTER_TIMEOUTS * current_config().LIVY_REQUESTS_TIMEOUT + 30
    if (timezone.now() - row.created_at).total_seconds() < limit:
        return
    found = _find_by_name(client, row.name)
    if found is None:
        Batch.objects.filter(pk=row.pk, livy_id="", ended_at__isnull=True).update(
            state=Batch.NOT_SUBMITTED, error_message=BATCH_UNCONFIRMED, ended_at=timezone.now())
    else:
        _apply(row, found)
        Batch.objects.filter(pk=row.pk, livy_id="").update(
            livy_id=row.livy_id, state=row.state, phase=row.phase, app_id=row.app_id, submitted_at=row.created_at,
            running_at=row.running_at, ended_at=row.ended_at)
    row.refresh_from_db()


def _apply(row: Batch, livy: LivyBatch) -> None:
    if len(livy.id) > Batch._meta.get_field("livy_id").max_length:
        raise LivyProtocolError("Livy answered with a batch id longer than any Livy id.")
    row.livy_id = livy.id
    row.state = livy.state.value[:32]
    row.phase = (livy.phase or "")[:64]
    row.app_id = (livy.app_id or row.app_id)[:200]
    row.spark_ui_url = _web_link(livy.spark_ui_url) or row.spark_ui_url
    row.driver_log_url = _web_link(livy.driver_log_url) or row.driver_log_url
    reasons = [r for r in [livy.phase_error, *livy.errors] if r]
    if reasons and not row.error_message:
        row.error_message = "\n".join(reasons)
    if livy.state in (SessionState.RUNNING, SessionState.BUSY, SessionState.IDLE) and row.running_at is None:
        row.running_at = timezone.now()
    if livy.state.is_terminal:
        row.ended_at = row.ended_at or timezone.now()


def _web_link(url: str | None) -> str:
    """``url`` if it is an http(s) link that fits the row, else ""."""
    if not url or len(url) > 1000 or not url.lower().startswith(("http://", "https://")):
        return ""
    return url


def _read_log(row: Batch, livy: LivyBatch, client: LivyClient) -> None:
    """Merge what Livy holds of the log into the row: Apache's ``GET /batches/{id}/log``
    (every line it holds, ``size=-1``), Fabric's ``log[]`` of the batch itself."""
    if client.backend.supports_log:
        try:
            page = client.get_batch_log(row.livy_id, 0, -1)
        except LivyNotFound:
            return
        stdout, stderr = split_livy_log(page.lines)
    else:
        stdout, stderr = list(livy.log), []
    row.log_stdout = merge_lines(row.log_stdout, stdout)
    row.log_stderr = merge_lines(row.log_stderr, stderr)
    if livy.state.is_terminal:
        row.log_final = True


def split_livy_log(lines: Iterable[str]) -> tuple[list[str], list[str]]:
    """Apache Livy's batch log (``["stdout: ", *stdout, "\\nstderr: ", *stderr]``, from
    ``SparkProcApp.log`` of Livy 0.9) as its stdout and stderr lines. Lines before a
    ``stdout:`` header, or a log without headers, count as stdout."""
    stdout: list[str] = []
    stderr: list[str] = []
    target = stdout
    for line in lines:
        marker = line.strip()
        if marker == "stdout:" and target is stdout and not stdout:
            continue
        if marker == "stderr:" and target is stdout:
            target = stderr
            continue
        target.append(line.rstrip("\n"))
    return stdout, stderr


def merge_lines(stored: str, buffer: list[str]) -> str:
    """``stored`` (lines read before, newline-joined) followed by the lines of ``buffer``
    (what Livy holds now: the last lines, a window that moves as the job writes) that are new.

    The buffer is aligned on the end of ``stored``: the earliest position where the rest of
    ``stored`` is the start of ``buffer``. When no position matches, Livy dropped lines
    between the two reads; :data:`LOG_GAP` marks the place. At most :data:`LOG_MAX_LINES`
    lines are kept (the first ones)."""
    if not buffer:
        return stored
    old = stored.split("\n") if stored else []
    if not old:
        merged = list(buffer)
    else:
        start = max(0, len(old) - len(buffer))
        new: list[str] | None = None
        for i in range(start, len(old)):
            tail = old[i:]
            if buffer[: len(tail)] == tail:
                new = buffer[len(tail):]
                break
        merged = old + (new if new is not None else [LOG_GAP, *buffer])
    return "\n".join(merged[:LOG_MAX_LINES])


def _close(row: Batch, state: SessionState, reason: str) -> None:
    """End an unfinished row with ``state`` and ``reason`` (unless it ended meanwhile)."""
    now = timezone.now()
    Batch.objects.filter(**_open_filter(row)).update(state=state.value, error_message=reason, ended_at=now,
                                                     refreshed_at=now)
    row.refresh_from_db()


# ----------------------------------------------------------------------------------- kill
def kill_batch(row: Batch, *, client: LivyClient) -> Batch:
    """Kill a running batch (``DELETE /batches/{id}``) and end its row as ``killed``.

    The batch is deleted only if Livy's batch under the id is still the row's (id and name);
    its log is read first, since Apache Livy forgets a deleted batch at once. A row that
    already ended is returned as it is. Raises :class:`LivyError` when Livy cannot be reached
    (the row stays as it was, so the user can try again)."""
    if row.is_terminal:
        return row
    if not row.livy_id:
        _close(row, SessionState.KILLED, "Killed before Livy confirmed the job.")
        return row
    livy = _verified(row, client)
    if livy is None:
        row.refresh_from_db()
        return row
    try:
        _read_log(row, livy, client)
    except LivyError:
        log.info("log of batch %s could not be read before the kill", row.pk)
    client.delete_batch(row.livy_id)
    now = timezone.now()
    with transaction.atomic():
        Batch.objects.filter(**_open_filter(row)).update(
            state=SessionState.KILLED.value, ended_at=now, refreshed_at=now, log_stdout=row.log_stdout,
            log_stderr=row.log_stderr, log_final=True,
        )
    row.refresh_from_db()
    log.info("Livy batch %s (%s) killed", row.livy_id, row.name)
    return row
