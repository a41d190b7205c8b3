"""``python manage.py create_api_token USER [--name N] [--expires-days D]``: create a personal
access token for USER and print it, alone on standard output, once (``TOKEN=$(manage.py
create_api_token alice)``). It cannot be shown again: only its digest is stored."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from api import tokens


class Command(BaseCommand):
    help = "Create a personal access token for the API and print it once."

    def add_arguments(self, parser):
        parser.add_argument("user", help="user name")
        parser.add_argument("--name", default="command line", help="what the token is for (shown in lists)")
        parser.add_argument("--expires-days", type=int, default=None,
                            help=f"days until it expires (default {tokens.DEFAULT_DAYS}, at most API_TOKEN_MAX_DAYS)")

    def handle(self, *args, **options):
        model = get_user_model()
        try:
            user = model._default_manager.get_by_natural_key(options["user"])
        except model.DoesNotExist:
            raise CommandError(f"There is no user {options['user']!r}.") from None
        if not user.is_active:
            raise CommandError(f"User {options['user']!r} is inactive.")
        try:
            row, token = tokens.issue(user, options["name"], days=options["expires_days"])
        except ValueError as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write(f"Token {row.name!r} for {user.get_username()}, expires {row.expires_at:%Y-%m-%d %H:%M %Z}. "
                          "It is shown once:")
        self.stdout.write(token)
