from django.contrib import admin

from builder.models import Schedule, WebhookTrigger, Workflow, WorkflowVersion


class VersionInline(admin.TabularInline):
    model = WorkflowVersion
    extra = 0
    fields = readonly_fields = ("number", "note", "created_by", "created_at")
    can_delete = False


@admin.register(Workflow)
class WorkflowAdmin(admin.ModelAdmin):
    list_display = ["name", "workspace", "draft_revision", "archived_at", "updated_at"]
    list_filter = ["workspace", "archived_at"]
    search_fields = ["name", "description"]
    inlines = [VersionInline]


@admin.register(WorkflowVersion)
class WorkflowVersionAdmin(admin.ModelAdmin):
    """Versions are immutable once published."""

    list_display = ["workflow", "number", "note", "created_by", "created_at"]
    list_filter = ["workflow__workspace"]
    search_fields = ["workflow__name", "note"]
    readonly_fields = ["workflow", "number", "graph", "note", "created_by", "created_at"]

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    list_display = ["workflow", "cron", "timezone", "enabled", "next_fire_at", "last_fired_at"]
    list_filter = ["enabled", "timezone"]
    search_fields = ["workflow__name", "cron"]


@admin.register(WebhookTrigger)
class WebhookTriggerAdmin(admin.ModelAdmin):
    """The URL token and signing secret are secrets: neither is listed nor editable here."""

    list_display = ["workflow", "enabled", "created_at"]
    list_filter = ["enabled"]
    search_fields = ["workflow__name"]
    exclude = ["token", "signing_secret"]
