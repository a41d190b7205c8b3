"""Template helpers for the notebook: safe output parts, Fabric's phases, kinds, session
phrases and the times the browser keeps ticking. Badge tones come from the rows themselves
(``tone``, see :mod:`livy.states`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django import template
from django.utils import timezone

from livy.forms import KIND_SHORT_LABELS
from livy.output import render_parts
from livy.remote.states import SessionState

register = template.Library()


@register.inclusion_tag("livy/_output.html")
def statement_output(stmt: Any, newest_pk: int = 0) -> dict[str, Any]:
    """Render a statement's output parts (see :mod:`livy.output`) and its error, if any. The
    traceback is open for the newest statement (``newest_pk``), folded for older ones."""
    return {"stmt": stmt, "parts": render_parts(stmt.output), "newest": stmt.pk == newest_pk}


#: Fabric's session acquisition phases (``fabricSessionStateInfo.state``), as users read them.
FABRIC_PHASES = {
    "queued": "queued: waiting for Spark capacity",
    "libraryPackaging": "installing the environment's libraries",
    "acquiringSession": "acquiring Spark compute",
    "acquiringHighConcurrencySession": "acquiring a REPL in a shared Spark application",
    "cancelling": "cancelling",
    "cancelled": "cancelled",
    "error": "failed to start",
    "unknown": "starting",
}


@register.filter
def fabric_phase(phase: str) -> str:
    """Readable text of a Fabric acquisition phase (unknown phases are shown as they are)."""
    return FABRIC_PHASES.get(phase, phase)


@register.filter
def kind_label(kind: str) -> str:
    """Short label of a statement kind: ``pyspark`` → PySpark, ``sql`` → SQL, ``spark`` → Scala."""
    return KIND_SHORT_LABELS.get(kind, kind)


@register.filter
def session_phrase(session: Any) -> str:
    """What a session's state means for the user, beside its badge."""
    state = session.session_state
    if state.is_terminal:
        return "ended: its variables are gone"
    if state is SessionState.IDLE:
        return "ready"
    if state is SessionState.BUSY:
        return "busy running code"
    if state is SessionState.SHUTTING_DOWN:
        return "stopping"
    return "starting"


@register.filter
def epoch_ms(value: datetime | None) -> int:
    """A time as milliseconds since the epoch (what the page's JavaScript ticks from); 0 for None."""
    return int(value.timestamp() * 1000) if value else 0


def duration_text(seconds: float) -> str:
    """``4 s``, ``2 min 5 s``, ``1 h 3 min``: the format notebook.js also writes."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


@register.filter
def since_text(value: datetime | None) -> str:
    """Time elapsed since ``value``, as :func:`duration_text` writes it."""
    if not value:
        return ""
    return duration_text((timezone.now() - value).total_seconds())


@register.filter
def seconds_text(value: float | None) -> str:
    """A duration in seconds: one decimal under a minute (``1.3 s``), else :func:`duration_text`."""
    if value is None:
        return ""
    return f"{value:.1f} s" if value < 60 else duration_text(value)


@register.filter
def running_since(stmt: Any) -> datetime | None:
    """When an unfinished statement started, as well as we know: Livy's ``started``, else
    when it was sent, else when it was saved."""
    return stmt.started_at or stmt.submitted_at or stmt.created_at


@register.filter
def percent(value: float | None) -> int:
    """Progress 0.0–1.0 as a whole percentage."""
    return int(round((value or 0.0) * 100))


@register.simple_tag
def may_cancel(user: Any, stmt: Any) -> bool:
    """Its author, the session's owner, or ``livy.stop_any_session`` may cancel a statement."""
    return bool(stmt.author_id == user.pk or stmt.session.owner_id == user.pk
                or user.has_perm("livy.stop_any_session"))
