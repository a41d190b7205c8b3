"""Fabric high-concurrency sessions vs standard sessions, on the swagger-checked fake of
Fabric's Livy API (tests/support/fakes_fabric.py): how many Spark applications 10 active
notebooks take, and the time to the first result of a user's second notebook.

What is measured on the fake: the Spark applications (Livy sessions) the acquires and creates
really produce (the fake packs up to 5 REPLs per Livy session, as Microsoft documents), and
whether a user's second notebook lands in an application that is already running. What is
*modelled*: seconds, since the fake has no clock of Fabric's. The timings are parameters:

* ``--cold-start`` (default 7.5 s): a new session on the workspace's starter pool; Microsoft:
  "Starter pools: 5 to 10 seconds (without any libraries)" (learn.microsoft.com/fabric/
  data-engineering/custom-live-pools-overview; also workspace-admin-settings, "5-10 seconds").
  For a custom pool or an environment with libraries pass your own (minutes); no Microsoft
  figure for that was confirmed here.
* ``--warm-acquire`` (default 1.0 s): acquiring a REPL in a running application. Microsoft
  documents the reuse, not a figure: an assumption, pass what you measure.
* ``--statement`` (default 0.5 s): the first statement once the REPL is idle (assumption).

Notebooks per user: ``standard`` is what the app does today in standard mode (one Livy
session per user, its notebooks sharing variables) and, for comparison, one standard session
per notebook (isolation the standard way); ``high_concurrency`` is a REPL per notebook, one
``sessionTag`` for the app. Usage: ``.venv/bin/python benchmarks/bench_fabric_hc.py``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import responses

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from livy.remote.backends import FabricHighConcurrencyBackend, FabricLivyBackend  # noqa: E402
from livy.remote.client import LivyClient  # noqa: E402
from livy.remote.types import SessionSpec  # noqa: E402
from tests.support.fakes_fabric import ENDPOINT, FakeFabric  # noqa: E402

NOTEBOOKS = 10


class _Token:
    user_tokens = False

    def access_token(self) -> str:
        return "token"

    def token_rejected(self) -> bool:
        return False


def _idle(client: LivyClient, session_id: str) -> str:
    for _ in range(20):
        current = client.get_session(session_id)
        if current.state.is_ready:
            return current.id
    raise RuntimeError("never idle")


def applications(users: int, mode: str) -> tuple[int, bool]:
    """Spark applications for :data:`NOTEBOOKS` notebooks spread over ``users`` users, and
    whether the second notebook of the first user landed in a running application."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        fabric = FakeFabric(mock, {}, token_ok=lambda t: t == "token")
        if mode == "high_concurrency":
            backend: FabricLivyBackend = FabricHighConcurrencyBackend(ENDPOINT, _Token(), user_tokens=False,
                                                                      session_tag="livy-web")
        else:
            backend = FabricLivyBackend(ENDPOINT, _Token(), user_tokens=False)
        client = LivyClient(backend, timeout=5)
        per_user = [NOTEBOOKS // users + (1 if i < NOTEBOOKS % users else 0) for i in range(users)]
        order = [(u, n) for n in range(max(per_user)) for u in range(users) if n < per_user[u]]
        started: dict[int, str] = {}
        second_warm = False
        for user, nth in order:
            if mode == "standard" and user in started:
                continue  # the user's notebooks share the user's one session
            running_before = len(fabric.spark_applications())
            made = client.create_session(SessionSpec(name=f"u{user}-n{nth}"))
            _idle(client, made.id)
            started.setdefault(user, made.id)
            if user == 0 and nth == 1:
                second_warm = len(fabric.spark_applications()) == running_before
        if mode == "standard":
            second_warm = True  # the same session: no start at all, but shared variables
        return len(fabric.spark_applications()), second_warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cold-start", type=float, default=7.5)
    parser.add_argument("--warm-acquire", type=float, default=1.0)
    parser.add_argument("--statement", type=float, default=0.5)
    args = parser.parse_args()
    print(f"Spark applications per {NOTEBOOKS} active notebooks (measured on the fake):")
    print(f"{'users':>6} {'standard (shared vars)':>23} {'standard (1/notebook)':>22} {'high_concurrency':>17}")
    for users in (10, 5, 2, 1):
        std, _ = applications(users, "standard")
        per_notebook, _ = applications(users, "standard_per_notebook")
        hc, _ = applications(users, "high_concurrency")
        print(f"{users:>6} {std:>23} {per_notebook:>22} {hc:>17}")
    print()
    print("Time to the first result of a user's second notebook (modelled: "
          f"cold start {args.cold_start:g} s, warm acquire {args.warm_acquire:g} s, statement {args.statement:g} s):")
    _, warm = applications(2, "high_concurrency")
    hc_second = (args.warm_acquire if warm else args.cold_start) + args.statement
    print(f"  standard, shared session (variables shared):   {args.statement:6.1f} s")
    print(f"  standard, a session per notebook:              {args.cold_start + args.statement:6.1f} s")
    print(f"  high_concurrency, a REPL per notebook:         {hc_second:6.1f} s "
          f"({'packed into a running application' if warm else 'a new application'})")


if __name__ == "__main__":
    main()
