"""Template helpers for the notebook: safe output parts and Fabric's phases. Badge tones
come from the rows themselves (``tone``, see :mod:`livy.states`)."""

from typing import Any

from django import template

from livy.output import render_parts

register = template.Library()


@register.inclusion_tag("livy/_output.html")
def statement_output(stmt: Any) -> dict[str, Any]:
    """Render a statement's output parts (see :mod:`livy.output`) and its error, if any."""
    return {"stmt": stmt, "parts": render_parts(stmt.output)}


#: Fabric's session acquisition phases (``fabricSessionStateInfo.state``), as users read them.
FABRIC_PHASES = {
    "queued": "queued: waiting for Spark capacity",
    "libraryPackaging": "installing the environment's libraries",
    "acquiringSession": "acquiring Spark compute",
    "cancelling": "cancelling",
    "cancelled": "cancelled",
    "error": "failed to start",
    "unknown": "starting",
}


@register.filter
def fabric_phase(phase: str) -> str:
    """Readable text of a Fabric acquisition phase (unknown phases are shown as they are)."""
    return FABRIC_PHASES.get(phase, phase)
