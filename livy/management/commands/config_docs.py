"""``python manage.py config_docs --write|--check``: ``.env.example`` and the README's
configuration table from the field descriptions of ``myapp/config.py`` (:mod:`myapp.config_docs`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from myapp import config_docs


class Command(BaseCommand):
    # Documentation only: the configuration's own checks are not its business.
    requires_system_checks: list[str] = []
    help = ("Generate .env.example and the README's configuration table from myapp/config.py (--write), "
            "or fail when they are not current (--check).")

    def add_arguments(self, parser: CommandParser) -> None:
        mode = parser.add_mutually_exclusive_group(required=True)
        mode.add_argument("--write", action="store_true", help="rewrite the files that are not current")
        mode.add_argument("--check", action="store_true", help="exit 1 when a file is not current")
        parser.add_argument("--root", type=Path, default=None,
                            help="folder holding .env.example and README.md (default: the project folder)")

    def handle(self, *args: Any, **options: Any) -> None:
        root: Path = options["root"] or Path(settings.BASE_DIR)
        try:
            if options["check"]:
                stale = config_docs.stale(root)
                if stale:
                    names = ", ".join(p.name for p in stale)
                    raise CommandError(f"{names} not generated from myapp/config.py: "
                                       "run `python manage.py config_docs --write` and commit the result")
                self.stdout.write("config_docs: .env.example and the README table are current")
                return
            changed = config_docs.write(root)
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        for path in changed:
            self.stdout.write(f"config_docs: wrote {path.name}")
        if not changed:
            self.stdout.write("config_docs: nothing to change")
