"""Template helpers for the notebook: safe output parts and state badges."""

from django import template

from livy.output import render_parts

register = template.Library()


@register.inclusion_tag("livy/_output.html")
def statement_output(stmt):
    """Render a statement's output parts (see :mod:`livy.output`) and its error, if any."""
    return {"stmt": stmt, "parts": render_parts(stmt.output)}


@register.simple_tag
def state_class(state: str) -> str:
    """CSS class of a state badge: ok, error, running, waiting or ended."""
    if state in ("idle", "available"):
        return "badge-ok"
    if state in ("error", "dead", "failed"):
        return "badge-error"
    if state in ("busy", "running", "starting", "submitting", "recovering", "cancelling", "shutting_down"):
        return "badge-running"
    if state in ("killed", "cancelled", "success"):
        return "badge-ended"
    return "badge-waiting"


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
