"""Which notebooks a user may see, change and run. Reads only (writes are in
:mod:`livy.notebooks.service`).

Rules (README, "Roles"; permissions, never group names):

* a user sees their own notebooks, the notebooks shared with one of their groups (read-only,
  with ``livy.view_notebook``), and every notebook with ``livy.view_all_notebooks``
  (Administrators);
* only the owner changes, shares, deletes or runs a notebook, and only with the permission
  for it (``livy.change_notebook``, ``livy.delete_notebook``, ``livy.run_code``): an
  administrator reads other people's notebooks but does not edit or run them (a run would go
  to the administrator's own session, with the owner's code);
* a notebook the user may not see does not exist for them: views answer 404, as for
  sessions.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.http import Http404

from livy import output
from livy.models import Cell, Notebook, NotebookRun, Statement
from livy.notebooks import ipynb


def notebooks_visible_to(user: Any) -> QuerySet[Notebook]:
    """Notebooks ``user`` may read (see the module docstring); none for an anonymous user."""
    if not getattr(user, "is_authenticated", False):
        return Notebook.objects.none()
    qs = Notebook.objects.select_related("owner")
    if user.has_perm("livy.view_all_notebooks"):
        return qs
    visible = Q(owner=user)
    if user.has_perm("livy.view_notebook"):
        shared = Notebook.shared_with.through.objects.filter(notebook=OuterRef("pk"), group__user=user)
        visible |= Q(Exists(shared))
    return qs.filter(visible)


def notebook_list(user: Any, *, mine_only: bool = False) -> QuerySet[Notebook]:
    """The notebook list: visible notebooks, last edited first, each with ``cell_count``
    (``mine_only``: only the user's own)."""
    qs = notebooks_visible_to(user)
    if mine_only:
        qs = qs.filter(owner=user)
    return qs.annotate(cell_count=Count("cells")).order_by("-updated_at", "-pk")


def get_visible(user: Any, pk: int) -> Notebook:
    """The notebook ``pk`` if ``user`` may read it; raises ``Http404`` otherwise."""
    notebook = notebooks_visible_to(user).filter(pk=pk).first()
    if notebook is None:
        raise Http404("No such notebook.")
    return notebook


def is_owner(user: Any, notebook: Notebook) -> bool:
    return bool(getattr(user, "is_authenticated", False) and notebook.owner_id == user.pk)


def can_edit(user: Any, notebook: Notebook) -> bool:
    """May ``user`` change the cells, title and sharing of ``notebook``? Its owner, with
    ``livy.change_notebook``."""
    return is_owner(user, notebook) and user.has_perm("livy.change_notebook")


def can_delete(user: Any, notebook: Notebook) -> bool:
    """Its owner, with ``livy.delete_notebook``."""
    return is_owner(user, notebook) and user.has_perm("livy.delete_notebook")


def can_run(user: Any, notebook: Notebook) -> bool:
    """May ``user`` run the cells of ``notebook`` (in their own Livy session)? Its owner,
    with ``livy.change_notebook`` (a run writes the cells' last statements) and
    ``livy.run_code``."""
    return can_edit(user, notebook) and user.has_perm("livy.run_code")


def can_copy(user: Any, notebook: Notebook) -> bool:
    """May ``user`` make a copy of their own of ``notebook`` (one they can see)?
    ``livy.add_notebook``."""
    return bool(getattr(user, "is_authenticated", False) and user.has_perm("livy.add_notebook"))


def cells_of(notebook: Notebook) -> QuerySet[Cell]:
    """The notebook's cells in order, each with its last statement and that statement's
    session loaded."""
    return notebook.cells.select_related("last_statement", "last_statement__session").order_by("position", "pk")


def cell_statements_visible_to(user: Any) -> QuerySet[Statement]:
    """Statements that ran a cell of a notebook ``user`` may read: how the people a notebook is
    shared with may see its outputs (downloads included) without seeing the owner's sessions."""
    return Statement.objects.select_related("session", "author").filter(
        cell__notebook__in=notebooks_visible_to(user).values("pk")
    )


def downloadable_statements(user: Any) -> QuerySet[Statement]:
    """Statements whose whole output (CSV, full text) ``user`` may download: those of their
    own sessions (or every one, with ``livy.view_all_sessions``: :func:`livy.selectors.statements_visible_to`)
    and those that ran a cell of a notebook they may read (:func:`cell_statements_visible_to`),
    so a Viewer a notebook is shared with gets its cells' downloads; anyone else gets 404."""
    from livy.selectors import statements_visible_to

    own = statements_visible_to(user).values("pk")
    shared = cell_statements_visible_to(user).values("pk")
    return Statement.objects.select_related("session", "author").filter(Q(pk__in=own) | Q(pk__in=shared))


def cell_run(stmt: Statement | None) -> ipynb.CellRun | None:
    """A cell's last statement as the export needs it (its table through
    :func:`livy.output.result_table`), or None."""
    if stmt is None:
        return None
    table = output.result_table(stmt.output)
    return ipynb.CellRun(
        state=stmt.state, output=stmt.output, error_name=stmt.error_name, error_value=stmt.error_value,
        traceback=stmt.traceback,
        table=ipynb.TableData([(c.name, c.type) for c in table.columns], table.rows) if table is not None else None,
    )


def export_cells(notebook: Notebook) -> list[ipynb.NotebookCell]:
    """The notebook's cells in order for :func:`livy.notebooks.ipynb.write_ipynb` and
    :func:`~livy.notebooks.ipynb.write_py`, each with its last run."""
    return [
        ipynb.NotebookCell(kind=c.kind, source=c.source, is_parameters=c.is_parameters, metadata=c.metadata or {},
                           run=cell_run(c.last_statement))
        for c in cells_of(notebook)
    ]


def may_see_run_parameters(user: Any, run: NotebookRun) -> bool:
    """May ``user`` see the ``parameters`` of ``run`` (and its injected statement's output,
    which may show them)? Its user, and those who see every user's statements
    (``livy.view_all_sessions``: Administrators, who see the injected code anyway). The
    people the notebook is shared with read the run, not the values it was given (they may
    be a pipeline's secrets)."""
    return bool(getattr(user, "is_authenticated", False)
                and (run.user_id == user.pk or user.has_perm("livy.view_all_sessions")))


def runs_visible_to(user: Any) -> QuerySet[NotebookRun]:
    """Notebook runs ``user`` may read: their own (also once the notebook was deleted), and
    the runs of notebooks they may see (a run's outputs are its cells' outputs, which the
    people a notebook is shared with see). Only the run's user moves it on or cancels it;
    its parameters are shown as :func:`may_see_run_parameters` says."""
    if not getattr(user, "is_authenticated", False):
        return NotebookRun.objects.none()
    return NotebookRun.objects.select_related("notebook", "user").filter(
        Q(user=user) | Q(notebook__in=notebooks_visible_to(user).values("pk"))
    )


def session_bar(user: Any, notebook: Notebook) -> dict[str, Any]:
    """Which session runs ``notebook`` for ``user`` (their active one in the notebook's REPL
    scope, :func:`livy.lifecycle.notebook_scope`) and whether its variables come from this
    notebook: ``{"state": str | None, "name": str | None, "id": int | None, "from_notebook":
    bool, "gone": bool, "text": str}`` (``gone``: the session of the notebook's last run
    ended: "Variables are gone: Run all to rebuild")."""
    from livy.lifecycle import notebook_scope
    from livy.selectors import active_session

    session = active_session(user, notebook_scope(notebook.pk))
    ran = Statement.objects.filter(cell__notebook=notebook, author=user).exclude(cell=None)
    last = ran.select_related("session").order_by("-pk").first()
    live = session is not None and not session.is_terminal
    from_notebook = bool(live and ran.filter(session=session, state="available").exists())
    gone = last is not None and last.session.is_terminal and not from_notebook
    if gone:
        text = "Variables are gone: Run all to rebuild (the session of the last run ended)."
    elif session is None or not live:
        text = "No session yet: the first Run starts one (about a minute)."
    elif session.repl is not None:
        text = (f"REPL {session.repl.repl_id} in shared Livy session {session.repl.session_id} ({session.state}) "
                "is this notebook's own: its variables are this notebook's alone.")
    elif from_notebook:
        text = f"Session {session.name} ({session.state}) runs this notebook: its variables come from this notebook's runs."
    else:
        text = f"Session {session.name} ({session.state}) will run this notebook; no cell of it has run there yet."
    return {"state": session.state if session else None, "name": session.name if session else None,
            "id": session.pk if session else None, "from_notebook": from_notebook, "gone": gone, "text": text}


def injected_parameters(run: NotebookRun | None) -> dict[str, Any] | None:
    """The injected parameters statement of ``run`` (its ``injected_statement``, run right
    after the parameters cell) as the page shows it: ``{"cell_id": int | None, "code": str,
    "statement_id": int, "state": str}``; None without a run or parameters."""
    stmt = run.injected_statement if run is not None else None
    if stmt is None:
        return None
    return {"cell_id": stmt.cell_id, "code": stmt.code, "statement_id": stmt.pk, "state": stmt.state}

