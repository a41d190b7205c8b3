"""Template helpers of the Jobs pages: Fabric's batch phases as users read them, and the
request sent shown as indented JSON."""

from __future__ import annotations

import json
from typing import Any

from django import template

register = template.Library()

#: Fabric's batch phases (``fabricBatchStateInfo.state`` in the swagger's ``BatchStateInfo``).
BATCH_PHASES = {
    "queued": "queued: waiting for Spark capacity",
    "libraryPackaging": "installing the environment's libraries",
    "submitting": "submitting to Spark",
    "cancelling": "cancelling",
    "cancelled": "cancelled",
    "error": "failed before it ran",
    "expired": "expired",
    "unknown": "starting",
}

#: What each state means, beside its badge.
STATE_PHRASES = {
    "not_started": "waiting for Livy",
    "starting": "starting: spark-submit is launching the driver",
    "recovering": "Livy is recovering it",
    "running": "running",
    "busy": "running",
    "success": "finished successfully",
    "dead": "failed",
    "error": "failed",
    "killed": "killed",
    "not_submitted": "not submitted",
}


@register.filter
def batch_phase(phase: str) -> str:
    """Readable text of a Fabric batch phase (unknown phases as they are)."""
    return BATCH_PHASES.get(phase, phase)


@register.filter
def batch_state_phrase(state: str) -> str:
    """What a batch state means for the user."""
    return STATE_PHRASES.get(state, state)


@register.filter
def pretty_json(value: Any) -> str:
    """``value`` as indented JSON, keys in the order they were sent."""
    return json.dumps(value, indent=2, ensure_ascii=False)


@register.filter
def basename(path: str) -> str:
    """The file name of a path or URI (``/up/<sha256>/etl_job.py`` → ``etl_job.py``)."""
    return str(path or "").rstrip("/").rsplit("/", 1)[-1]
