"""A notebook run on the real local Apache Livy: Run all of a markdown, a parameters, a
PySpark and a Spark SQL cell through the service (queued while the session starts, sent in
order), each cell pointing at its statement, and the .ipynb export carrying the outputs."""

from __future__ import annotations

import nbformat
import pytest

from livy import lifecycle
from livy.clients import livy_client
from livy.models import Cell
from livy.notebooks import ipynb, selectors, service
from tests.support.notebooks import make_cast, mixed_notebook
from tests.support.polling import wait_for

pytestmark = [pytest.mark.livy, pytest.mark.django_db]

#: A session start on 2 shared cores under load (other checkouts' sessions) can take minutes.
SESSION_START_TIMEOUT = 420


def test_run_all_on_real_livy_then_export(real_livy, settings):
    settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_BASE_ENDPOINT": real_livy})
    owner = make_cast().owner
    notebook = mixed_notebook(owner)
    cells = list(selectors.cells_of(notebook))
    statements = service.queue_cells(notebook, cells, owner, livy_client())
    assert [s.cell_id for s in statements] == [c.pk for c in cells[1:]]  # the markdown cell is not sent
    session = statements[0].session
    try:
        def finished():
            lifecycle.dispatch(session, client=livy_client())
            return all(s.is_terminal for s in (Cell.objects.get(pk=c.pk).last_statement for c in cells[1:]))
        try:
            wait_for(finished, timeout=SESSION_START_TIMEOUT, interval=1, what="Run all to finish")
        except AssertionError as exc:
            session.refresh_from_db()
            states = [Cell.objects.get(pk=c.pk).last_statement.state for c in cells[1:]]
            raise AssertionError(f"{exc}; session {session.livy_id} {session.state}, statements {states}") from exc
        runs = [Cell.objects.get(pk=c.pk).last_statement for c in cells[1:]]
        assert [r.state for r in runs] == ["available"] * 3, [(r.state, r.error_value) for r in runs]
        assert [r.livy_id for r in runs] == sorted(r.livy_id for r in runs)  # sent in notebook order

        exported = nbformat.reads(ipynb.write_ipynb(notebook.title, selectors.export_cells(notebook)), as_version=4)
        nbformat.validate(exported)
        table = exported.cells[3].outputs[0]
        assert table.output_type == "execute_result"
        assert "<th>n</th>" in table.data["text/html"] and "<td>10</td>" in table.data["text/html"]
    finally:
        lifecycle.stop_session(session, client=livy_client())
