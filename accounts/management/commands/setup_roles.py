"""``python manage.py setup_roles``: create the default groups and grant their permissions.

Idempotent: running it again adds what is missing and removes nothing, so permissions an
administrator granted in the Django admin stay.
"""

from django.contrib.auth.models import Group, Permission
from django.core.management.base import BaseCommand, CommandError

from accounts.roles import ROLE_PERMISSIONS


class Command(BaseCommand):
    help = "Create the Administrators, Editors and Viewers groups with their default permissions."

    def handle(self, *args, **options):
        for group_name, codenames in ROLE_PERMISSIONS.items():
            group, created = Group.objects.get_or_create(name=group_name)
            perms = []
            for dotted in codenames:
                app_label, codename = dotted.split(".", 1)
                try:
                    perms.append(Permission.objects.get(content_type__app_label=app_label, codename=codename))
                except Permission.DoesNotExist as exc:
                    raise CommandError(f"Permission {dotted} does not exist: run 'manage.py migrate' first.") from exc
            before = group.permissions.count()
            group.permissions.add(*perms)
            added = group.permissions.count() - before
            verb = "created" if created else "updated"
            self.stdout.write(f"{group_name}: {verb}, {added} permission(s) added, {group.permissions.count()} in all")
