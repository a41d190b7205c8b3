"""What a user sees in the notebook, on both backends: Apache Livy (the real local server)
and Fabric (the swagger-checked fake, signed in through the fake Entra ID).

Each test drives the app's own views with Django's test client and reads the pages a
browser would get; nothing reaches into the service layer.
"""

from __future__ import annotations

import html
import re

import pytest
import responses
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.urls import reverse

from livy.models import SparkSession
from tests.support.fakes_entra import EDITORS_GID, EntraUser, FakeEntra, configure_entra, entra_sign_in
from tests.support.fakes_fabric import ENDPOINT, FakeFabric
from tests.support.livy_json import error_output, ok_output
from tests.support.pages import poll_like_the_page
from tests.support.polling import wait_for

pytestmark = pytest.mark.django_db

SUM_SHOW = 'spark.range(100).selectExpr("sum(id) AS total").show()'
SHOW_TEXT = "+-----+\n|total|\n+-----+\n| 4950|\n+-----+\n"
SLEEP = "import time\ntime.sleep(120)"
ZERO_DIV = error_output("ZeroDivisionError", "division by zero",
                        ["Traceback (most recent call last):\n", '  File "<stdin>", line 1, in <module>\n',
                         "ZeroDivisionError: division by zero\n"])
FABRIC_OUTPUTS = {SUM_SHOW: ("available", ok_output(SHOW_TEXT, 1)), "1/0": ("available", ZERO_DIV),
                  "1+1": ("available", ok_output("2", 2))}
FRAGMENT = {"HTTP_X_LIVY_FRAGMENT": "1"}


class Notebook:
    """A signed-in user at the notebook page."""

    def __init__(self, client, backend: str, timeout: float, fabric: FakeFabric | None = None):
        self.client = client
        self.backend = backend
        self.timeout = timeout
        self.fabric = fabric

    def page(self) -> str:
        response = self.client.get(reverse("livy:notebook"))
        assert response.status_code == 200
        return response.content.decode()

    def post(self, name: str, *args, **data) -> str:
        response = self.client.post(reverse(name, args=args), data, **FRAGMENT)
        assert response.status_code == 200, response
        return response.content.decode()

    def run(self, code: str) -> str:
        return self.post("livy:run", code=code)

    @staticmethod
    def session_state(page: str) -> str:
        return re.search(r'id="session-state" class="[^"]*">([^<]+)<', page).group(1)

    @staticmethod
    def statements(page: str) -> list[tuple[int, str]]:
        return [(int(pk), state) for pk, state in re.findall(r'id="statement-(\d+)" data-state="([^"]+)"', page)]

    def wait_page(self, predicate, what: str) -> str:
        def probe():
            session = SparkSession.objects.filter(active=True).first()
            if session is not None:
                poll_like_the_page(self.client, session)  # what the open page's script does
            page = self.page()
            return page if predicate(page) else None
        return wait_for(probe, timeout=self.timeout, interval=0.5, what=what)

    def wait_last_statement(self, states: tuple[str, ...]) -> str:
        return self.wait_page(lambda p: self.statements(p) and self.statements(p)[-1][1] in states,
                              f"the last statement to be {'/'.join(states)}")


@pytest.fixture(params=[pytest.param("apache", marks=pytest.mark.livy), "fabric", "fabric-high-concurrency"])
def notebook(request, settings, client, django_user_model):
    call_command("setup_roles", verbosity=0)
    if request.param == "apache":
        url = request.getfixturevalue("real_livy")
        settings.CONFIG = settings.CONFIG.model_copy(update={"LIVY_BASE_ENDPOINT": url})
        user = django_user_model.objects.create_user("erin", password="pw")
        user.groups.add(Group.objects.get(name="Editors"))
        client.force_login(user)
        yield Notebook(client, "apache", timeout=240)
        for session in SparkSession.objects.filter(active=True):  # leave the real Livy clean
            client.post(reverse("livy:stop_session", args=[session.pk]))
        return
    mode = "high_concurrency" if request.param == "fabric-high-concurrency" else "standard"
    configure_entra(settings, LIVY_BACKEND="fabric", LIVY_BASE_ENDPOINT=ENDPOINT, FABRIC_SESSION_MODE=mode)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        entra = FakeEntra(mock)
        fabric = FakeFabric(mock, FABRIC_OUTPUTS, token_ok=lambda t: entra.valid_for(t, "api.fabric.microsoft.com"))
        assert entra_sign_in(client, entra, EntraUser(groups=[EDITORS_GID])).status_code == 302
        yield Notebook(client, request.param, timeout=20, fabric=fabric)


def test_session_starts_and_becomes_idle(notebook):
    page = notebook.post("livy:start_session")
    assert notebook.session_state(page) in ("not_started", "starting")
    notebook.wait_page(lambda p: notebook.session_state(p) == "idle", "the session to become idle")


def test_code_runs_and_its_output_is_shown(notebook):
    page = notebook.run(SUM_SHOW)
    assert notebook.statements(page)[-1][1] in ("queued", "waiting", "running")  # queued while starting
    page = notebook.wait_last_statement(("available", "error", "failed"))
    assert notebook.statements(page)[-1][1] == "available"
    assert "| 4950|" in html.unescape(page)


def test_an_error_shows_its_name_value_and_traceback(notebook):
    notebook.run("1/0")
    page = html.unescape(notebook.wait_last_statement(("available", "error", "failed")))
    assert notebook.statements(page)[-1][1] == "error"
    assert 'class="ename">ZeroDivisionError' in page and "division by zero" in page
    assert "Traceback (most recent call last):" in page


def test_a_running_statement_can_be_cancelled(notebook):
    notebook.run(SLEEP)
    page = notebook.wait_last_statement(("running",))
    pk = notebook.statements(page)[-1][0]
    notebook.post("livy:cancel_statement", pk)
    page = notebook.wait_last_statement(("cancelled", "error", "available", "failed"))
    assert notebook.statements(page)[-1][1] == "cancelled"
    # The session is usable again.
    notebook.run("1+1")
    page = notebook.wait_last_statement(("available", "error", "failed"))
    assert notebook.statements(page)[-1][1] == "available"


def test_the_same_session_serves_later_visits_and_stopping_ends_it(notebook):
    notebook.run("1+1")
    notebook.wait_last_statement(("available",))
    ident = r"(?:Livy id|title=\"Fabric high-concurrency session) ([\w-]+)"
    first = re.search(ident, notebook.page()).group(1)
    notebook.run("1+1")
    page = notebook.wait_last_statement(("available",))
    assert re.search(ident, notebook.page()).group(1) == first
    session = SparkSession.objects.get(active=True)
    page = notebook.post("livy:stop_session", session.pk)
    assert notebook.session_state(page) == "killed"
    assert "A session starts when you run code." in notebook.page()
    if notebook.backend == "fabric-high-concurrency":
        assert notebook.fabric.repls[first].state == "Deleting"  # our REPL only
    elif notebook.fabric:
        assert notebook.fabric.sessions[first].deleted
    else:
        from livy.clients import livy_client
        from livy.remote.errors import LivyNotFound

        def gone():
            try:
                return livy_client().get_session(first).state.is_terminal
            except LivyNotFound:
                return True
        wait_for(gone, timeout=60, what="the session to be gone from Livy")
