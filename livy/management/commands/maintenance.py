"""``python manage.py maintenance``: the periodic job, meant for cron (or a systemd timer)
every few minutes. In order:

1. **Reap**: stop sessions with no activity for ``--idle-minutes`` (``reap_sessions``).
2. **Refresh**: read from Livy the active sessions nobody has looked at for
   ``--stale-minutes``, read-only (nothing is sent, no keep-alive), so their rows and
   statements show what Livy says: a session Livy ended is closed and its unfinished
   statements failed, finished results are stored.
   Unfinished Spark jobs (Livy batches) not read for ``--stale-minutes`` are refreshed too:
   their state, and their log while Livy still has it.
3. **Clear expired sign-ins**: Django's ``clearsessions`` (sessions live in the database).
4. **Delete old job uploads**: files under ``LIVY_BATCH_UPLOAD_DIR`` no unfinished job lists
   and no job ended in the last ``LIVY_BATCH_UPLOAD_RETENTION_DAYS`` days
   (:func:`livy.batches.clean_uploads`; ``--dry-run`` lists them and deletes nothing).

It never keeps a session alive: that is the open page's heartbeat (an active user). With
Fabric and delegated tokens there is no user token outside a request, so steps 1 and 2 do
nothing (Fabric ends idle sessions itself after 20 minutes). ``--dry-run`` reports the
sessions step 1 would stop and changes nothing.

Exit status: 0, or 1 when Livy could not be read or a session could not be stopped (cron
mails the output).
"""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q
from django.utils import timezone

from livy import lifecycle
from livy.clients import livy_client
from livy.models import SparkSession
from livy.remote.errors import LivyError
from myapp.config import current_config


class Command(BaseCommand):
    help = ("Periodic job for cron: stop idle sessions, refresh stale ones read-only, clear expired sign-ins, "
            "delete old job uploads.")

    def add_arguments(self, parser):
        parser.add_argument("--idle-minutes", type=float, default=60.0,
                            help="stop sessions with no activity for this long (default 60)")
        parser.add_argument("--stale-minutes", type=float, default=5.0,
                            help="refresh active sessions not read from Livy for this long (default 5)")
        parser.add_argument("--dry-run", action="store_true", help="report what would be stopped; change nothing")

    def handle(self, *args, idle_minutes: float, stale_minutes: float, dry_run: bool, **options):
        cfg = current_config()
        problems = 0
        if cfg.LIVY_BACKEND == "fabric" and cfg.FABRIC_AUTH == "delegated":
            self.stdout.write("Fabric with delegated tokens: no user token here, so no session is reaped or "
                              "refreshed (Fabric ends idle sessions after 20 minutes).")
        else:
            errors = StringIO()
            call_command("reap_sessions", idle_minutes=idle_minutes, dry_run=dry_run, stdout=self.stdout,
                         stderr=errors)
            if errors.getvalue():
                problems += 1
                self.stderr.write(errors.getvalue().rstrip("\n"))
            if not dry_run:
                problems += self._refresh_stale(cfg, stale_minutes)
                problems += self._refresh_batches(cfg, stale_minutes)
        if not dry_run:
            call_command("clearsessions")
            self.stdout.write("Expired sign-ins cleared.")
        self._clean_uploads(cfg, dry_run)
        if problems:
            raise CommandError("maintenance finished with errors (see above)", returncode=1)

    def _refresh_stale(self, cfg, stale_minutes: float) -> int:
        """Read-only refresh of active sessions not read for ``stale_minutes``; returns the
        number of sessions Livy could not be read for."""
        cutoff = timezone.now() - timedelta(minutes=stale_minutes)
        stale = SparkSession.objects.filter(active=True, backend=cfg.LIVY_BACKEND).filter(
            Q(refreshed_at__isnull=True) | Q(refreshed_at__lt=cutoff)
        ).filter(created_at__lt=cutoff)
        client = livy_client(None, cfg)
        refreshed = failed = 0
        for session in stale.order_by("pk"):
            try:
                # An idle session is read too (Livy may have ended it meanwhile).
                lifecycle.refresh_unattended(session, client=client)
                refreshed += 1
            except LivyError as exc:
                failed += 1
                self.stderr.write(f"could not read {session.name}: {exc}")
        self.stdout.write(f"{refreshed} stale session(s) refreshed, {failed} failed.")
        return failed

    def _refresh_batches(self, cfg, stale_minutes: float) -> int:
        """Refresh unfinished batches not read from Livy for ``stale_minutes`` (state, log,
        the end of the ones Livy finished or forgot); returns how many could not be read."""
        from livy import batch_selectors, batches

        cutoff = timezone.now() - timedelta(minutes=stale_minutes)
        client = livy_client(None, cfg)
        refreshed = failed = 0
        for batch in batch_selectors.stale_unfinished(cfg.LIVY_BACKEND, cutoff):
            try:
                batches.refresh_batch(batch, client=client, force=True)
                refreshed += 1
            except LivyError as exc:
                failed += 1
                self.stderr.write(f"could not read job {batch.name}: {exc}")
        self.stdout.write(f"{refreshed} unfinished job(s) refreshed, {failed} failed.")
        return failed

    def _clean_uploads(self, cfg, dry_run: bool) -> None:
        """Delete (``dry_run``: list) the job uploads no job needs any longer."""
        from livy import batches

        report = batches.clean_uploads(cfg, dry_run=dry_run)
        verb = "would be deleted" if dry_run else "deleted"
        for path in report.deleted:
            self.stdout.write(f"upload {path} {verb}")
        self.stdout.write(f"{len(report.deleted)} old job upload(s) {verb}, {report.kept} kept "
                          f"(LIVY_BATCH_UPLOAD_RETENTION_DAYS={cfg.LIVY_BATCH_UPLOAD_RETENTION_DAYS}).")
