"""``python manage.py reap_sessions``: stop sessions nobody has used for a while.

An abandoned session holds a Spark driver (and executors) until Livy's own timeout
(``livy.server.session.timeout``, 1 hour by default). Run this from cron or a scheduler to
free them sooner. Activity is a statement run or finished, or a keep-alive from an open page.

With Fabric and delegated tokens there is no user token outside a request, so those
sessions are skipped: Fabric itself ends sessions idle for 20 minutes.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand
from django.utils import timezone

from livy import lifecycle, selectors
from livy.clients import livy_client
from livy.remote.errors import LivyError
from myapp.config import current_config


class Command(BaseCommand):
    help = "Stop active Livy sessions with no activity for --idle-minutes (default 60)."

    def add_arguments(self, parser):
        parser.add_argument("--idle-minutes", type=float, default=60.0, help="idle time before a session is stopped")
        parser.add_argument("--dry-run", action="store_true", help="list the sessions, stop nothing")

    def handle(self, *args, idle_minutes: float, dry_run: bool, **options):
        cfg = current_config()
        cutoff = timezone.now() - timedelta(minutes=idle_minutes)
        if cfg.LIVY_BACKEND == "fabric" and cfg.FABRIC_AUTH == "delegated":
            self.stdout.write("Fabric with delegated tokens: nothing to do (Fabric ends idle sessions after 20 minutes).")
            return
        client = livy_client(None, cfg)
        stopped = failed = 0
        for candidate in selectors.inactive_sessions(cutoff).filter(backend=cfg.LIVY_BACKEND):
            # The row may be stale (nobody had the page open): read Livy, then decide.
            try:
                lifecycle.refresh_unattended(candidate, client=client)
            except LivyError as exc:
                self.stderr.write(f"could not read {candidate.name}: {exc}")
                continue
            session = selectors.idle_sessions(cutoff).filter(pk=candidate.pk).first()
            if session is None:
                continue
            line = f"{session.name} (owner {session.owner}, Livy id {session.livy_id or '-'}, idle since {session.last_activity:%Y-%m-%d %H:%M})"
            if dry_run:
                self.stdout.write(f"would stop {line}")
                continue
            try:
                lifecycle.stop_session(session, client=client)
                stopped += 1
                self.stdout.write(f"stopped {line}")
            except LivyError as exc:
                failed += 1
                self.stderr.write(f"could not stop {line}: {exc}")
        if not dry_run:
            self.stdout.write(f"{stopped} session(s) stopped, {failed} failed.")
