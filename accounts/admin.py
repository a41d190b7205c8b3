"""Users and groups in the Django admin, without privilege escalation.

Administrators (``accounts.roles``: staff with ``auth.change_user`` and ``auth.change_group``,
not superusers) manage accounts and groups, but Django's stock admin would let them make
themselves superuser, grant any permission, or set a superuser's password. Here a user who
is not a superuser:

* never sees nor sets ``is_superuser`` or direct ``user_permissions``;
* cannot change a superuser's account at all (it is read-only to them);
* cannot open another account's password form (only superusers set others' passwords);
* cannot change their own staff status, active flag or groups;
* can give users only groups whose permissions they hold themselves, and give groups only
  permissions they hold themselves (what a group already has beyond that is kept).
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, Permission, User
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse

#: Fields a user who is not a superuser never sees in the user form.
SUPERUSER_ONLY_FIELDS = ("is_superuser", "user_permissions")
#: Fields of their own account a user who is not a superuser cannot change.
OWN_LOCKED_FIELDS = ("is_active", "is_staff", "groups")


def held_permissions(user: Any) -> QuerySet[Permission]:
    """The permissions ``user`` holds (directly or through groups), as rows."""
    if user.is_superuser:
        return Permission.objects.all()
    query = Q(pk__in=[])
    for name in user.get_all_permissions():
        app_label, _, codename = name.partition(".")
        query |= Q(content_type__app_label=app_label, codename=codename)
    return Permission.objects.filter(query)


def grantable_groups(user: Any) -> QuerySet[Group]:
    """The groups ``user`` may hand out: those granting nothing ``user`` does not hold."""
    if user.is_superuser:
        return Group.objects.all()
    return Group.objects.exclude(permissions__in=Permission.objects.exclude(pk__in=held_permissions(user)))


def _without(fieldsets: Any, hidden: set[str]) -> list[Any]:
    return [(name, {**options, "fields": tuple(f for f in options["fields"] if f not in hidden)})
            for name, options in fieldsets]


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class SafeUserAdmin(UserAdmin):
    """Django's ``UserAdmin`` with the limits of the module docstring."""

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> Any:
        fieldsets = super().get_fieldsets(request, obj)
        if obj is None or request.user.is_superuser:
            return fieldsets
        hidden = set(SUPERUSER_ONLY_FIELDS)
        if obj.pk != request.user.pk:
            hidden.add("password")  # its "Reset password" button leads to a form they may not use
        return _without(fieldsets, hidden)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        readonly = list(super().get_readonly_fields(request, obj))
        if obj is not None and not request.user.is_superuser and obj.pk == request.user.pk:
            readonly += OWN_LOCKED_FIELDS
        return readonly

    def get_list_filter(self, request: HttpRequest) -> Any:
        return super().get_list_filter(request) if request.user.is_superuser else ("is_staff", "is_active", "groups")

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_delete_permission(request, obj)

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "groups" and not request.user.is_superuser:
            kwargs["queryset"] = grantable_groups(request.user)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if not request.user.is_superuser:
            # The form has no such field for them; this also covers any other way in.
            obj.is_superuser = bool(change and User.objects.filter(pk=obj.pk, is_superuser=True).exists())
        super().save_model(request, obj, form, change)

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        kept: list[Group] = []
        if change and not request.user.is_superuser and "groups" in form.fields:
            kept = list(form.instance.groups.exclude(pk__in=grantable_groups(request.user)))
        super().save_related(request, form, formsets, change)
        if kept:
            form.instance.groups.add(*kept)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        if not request.user.is_superuser and unquote(id) != str(request.user.pk):
            raise PermissionDenied
        return super().user_change_password(request, id, form_url)


@admin.register(Group)
class SafeGroupAdmin(GroupAdmin):
    """Django's ``GroupAdmin``; a user who is not a superuser grants only permissions they hold."""

    def formfield_for_manytomany(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        formfield = super().formfield_for_manytomany(db_field, request, **kwargs)
        if db_field.name == "permissions" and not request.user.is_superuser:
            formfield.queryset = formfield.queryset.filter(pk__in=held_permissions(request.user))
        return formfield

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        kept: list[Permission] = []
        if change and not request.user.is_superuser:
            kept = list(form.instance.permissions.exclude(pk__in=held_permissions(request.user)))
        super().save_related(request, form, formsets, change)
        if kept:
            form.instance.permissions.add(*kept)
