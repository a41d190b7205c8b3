"""Django admin: sessions (stoppable by administrators) and statements, the read-only audit
trail of who ran what, where and when; notebooks (searchable by title, owner and cell source)
with their cells read-only."""

from django.contrib import admin, messages
from django.db.models import Count

from livy import lifecycle
from livy.clients import livy_client
from livy.models import Batch, Cell, Notebook, SparkSession, Statement
from livy.remote.errors import LivyError
from myapp.config import redact_url


class StatementInline(admin.TabularInline):
    model = Statement
    extra = 0
    can_delete = False
    show_change_link = True
    fields = ("created_at", "author", "state", "short_code", "error_name")
    readonly_fields = fields

    @admin.display(description="code")
    def short_code(self, obj: Statement) -> str:
        return obj.code[:120]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SparkSession)
class SparkSessionAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "backend", "livy_id", "state", "active", "created_at", "ended_at")
    list_filter = ("state", "backend", "active", "created_at", ("owner", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "livy_id", "app_id", "owner__username", "owner__email")
    date_hierarchy = "created_at"
    # Every field, read-only; the endpoint without its user info (it may hold a credential).
    fields = readonly_fields = ["livy_endpoint" if f.name == "endpoint" else f.name for f in SparkSession._meta.fields]
    inlines = [StatementInline]
    actions = ["stop_sessions"]

    @admin.display(description="endpoint")
    def livy_endpoint(self, obj: SparkSession) -> str:
        return redact_url(obj.endpoint)

    def has_add_permission(self, request) -> bool:
        return False

    # Deleting a session would delete its statements, the audit trail: nobody does (so the
    # bulk "Delete selected" action is not offered either).
    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Stop the selected sessions on Livy", permissions=["stop"])
    def stop_sessions(self, request, queryset):
        stopped = 0
        client = livy_client(request.session)
        for session in queryset.filter(active=True):
            try:
                lifecycle.stop_session(session, client=client)
                stopped += 1
            except LivyError as exc:
                self.message_user(request, f"{session.name}: {exc}", messages.ERROR)
        self.message_user(request, f"{stopped} session(s) stopped.", messages.SUCCESS)

    def has_stop_permission(self, request) -> bool:
        return request.user.has_perm("livy.stop_any_session")


@admin.register(Statement)
class StatementAdmin(admin.ModelAdmin):
    list_display = ("pk", "author", "short_code", "session", "state", "error_name", "created_at", "completed_at")
    list_filter = ("state", "session__backend", "created_at", ("author", admin.RelatedOnlyFieldListFilter))
    search_fields = ("code", "author__username", "author__email", "session__name", "error_name")
    date_hierarchy = "created_at"
    readonly_fields = [f.name for f in Statement._meta.fields]

    @admin.display(description="code")
    def short_code(self, obj: Statement) -> str:
        return obj.code[:120]

    # The audit trail: nobody adds, edits or deletes statements here.
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class CellInline(admin.TabularInline):
    """A notebook's cells, read-only: cells are edited in the notebook page, against its version."""

    model = Cell
    extra = 0
    can_delete = False
    fields = ("position", "kind", "is_parameters", "short_source", "last_statement")
    readonly_fields = fields
    ordering = ("position", "pk")

    @admin.display(description="source")
    def short_source(self, obj: Cell) -> str:
        return obj.source[:200]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notebook)
class NotebookAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "cell_count", "version", "updated_at", "created_at")
    list_filter = ("updated_at", ("owner", admin.RelatedOnlyFieldListFilter), "shared_with")
    search_fields = ("title", "owner__username", "owner__email", "cells__source")
    date_hierarchy = "updated_at"
    fields = ("title", "owner", "shared_with", "version", "created_at", "updated_at")
    readonly_fields = ("owner", "version", "created_at", "updated_at")
    filter_horizontal = ("shared_with",)
    inlines = [CellInline]

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("owner").annotate(cell_total=Count("cells"))

    @admin.display(description="cells", ordering="cell_total")
    def cell_count(self, obj: Notebook) -> int:
        return getattr(obj, "cell_total", 0)

    def has_add_permission(self, request) -> bool:
        return False
# ------------------------------------------------------------------------------ Spark jobs


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    """Spark jobs (Livy batches): the read-only audit trail of who submitted what (the exact
    request), when, and how it ended. Kill is on the job's page (Administrators see everyone's)."""

    list_display = ("pk", "label", "name", "owner", "backend", "livy_id", "state", "created_at", "ended_at")
    list_filter = ("state", "backend", "created_at", ("owner", admin.RelatedOnlyFieldListFilter))
    search_fields = ("name", "label", "livy_id", "app_id", "owner__username", "owner__email")
    date_hierarchy = "created_at"
    fields = readonly_fields = ["batch_endpoint" if f.name == "endpoint" else f.name for f in Batch._meta.fields]

    @admin.display(description="endpoint")
    def batch_endpoint(self, obj: Batch) -> str:
        return redact_url(obj.endpoint)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
