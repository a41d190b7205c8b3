"""What users may see of Spark jobs (Livy batches), and the questions pages and the
``maintenance`` command ask of the database. Selectors only read: rows change in
:mod:`livy.batches`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from livy.models import Batch
from livy.remote.states import TERMINAL_SESSION_STATES

#: State values after which a batch never changes (Livy's terminal states and ours).
TERMINAL_BATCH_VALUES = frozenset({s.value for s in TERMINAL_SESSION_STATES} | {Batch.NOT_SUBMITTED})


def batches_visible_to(user: Any) -> QuerySet[Batch]:
    """Batches ``user`` may read: their own, or every one with ``livy.view_all_batches``."""
    qs = Batch.objects.select_related("owner")
    if user.has_perm("livy.view_all_batches"):
        return qs
    return qs.filter(owner=user)


def can_kill(user: Any, batch: Batch) -> bool:
    """Owners may kill their batch; others need ``livy.kill_any_batch``."""
    return bool(batch.owner_id == user.pk or user.has_perm("livy.kill_any_batch"))


def unfinished(qs: QuerySet[Batch] | None = None) -> QuerySet[Batch]:
    """Batches that have not ended (``qs``: within these), those still waiting for Livy's
    answer to their submission included."""
    qs = Batch.objects.all() if qs is None else qs
    return qs.exclude(state__in=TERMINAL_BATCH_VALUES)


def stale_unfinished(backend: str, cutoff: datetime) -> QuerySet[Batch]:
    """Unfinished batches of ``backend`` not read from Livy since ``cutoff`` (the
    ``maintenance`` command refreshes them), oldest first."""
    return unfinished(Batch.objects.filter(backend=backend)).filter(
        Q(refreshed_at__isnull=True) | Q(refreshed_at__lt=cutoff)
    ).order_by("pk")


def log_lines(text: str, offset: int) -> list[str]:
    """The lines of a stored log (``Batch.log_stdout``/``log_stderr``) from line ``offset``."""
    if not text:
        return []
    return text.split("\n")[max(0, offset):]
