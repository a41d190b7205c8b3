"""Users with the default roles and notebooks to test with (notebook tests share these)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management import call_command

from livy.models import Notebook
from livy.notebooks import service
from livy.notebooks.ipynb import NotebookCell


@dataclass
class Cast:
    """``owner`` and ``other`` are Editors, ``viewer`` a Viewer (in Viewers only), ``admin`` an
    Administrator; ``viewers`` is the Viewers group."""

    owner: Any
    other: Any
    viewer: Any
    admin: Any
    viewers: Group


def make_cast() -> Cast:
    """Create the default roles (``setup_roles``) and one user of each."""
    call_command("setup_roles", verbosity=0)
    User = get_user_model()

    def user(name: str, group: str, staff: bool = False) -> Any:
        u = User.objects.create_user(name, password="pw", is_staff=staff)
        u.groups.add(Group.objects.get(name=group))
        return User.objects.get(pk=u.pk)

    return Cast(owner=user("erin", "Editors"), other=user("oscar", "Editors"), viewer=user("vera", "Viewers"),
                admin=user("ada", "Administrators", staff=True), viewers=Group.objects.get(name="Viewers"))


def mixed_notebook(owner: Any, title: str = "Sales") -> Notebook:
    """A notebook of a markdown, a parameters, a PySpark and a SQL cell."""
    return service.create(owner, title=title, cells=[
        NotebookCell("markdown", "# Sales\nCounts per region."),
        NotebookCell("pyspark", "regions = 3", is_parameters=True),
        NotebookCell("pyspark", "spark.range(10).createOrReplaceTempView('t')"),
        NotebookCell("sql", "SELECT count(*) AS n FROM t"),
    ])
