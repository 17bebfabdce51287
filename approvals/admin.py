from django.contrib import admin

from approvals.models import ApprovalRequest, Vote


class VoteInline(admin.TabularInline):
    model = Vote
    extra = 0
    can_delete = False
    readonly_fields = ("user_label", "decision", "values", "comment", "created_at")
    exclude = ("user",)


@admin.register(ApprovalRequest)
class ApprovalRequestAdmin(admin.ModelAdmin):
    """Read-only: decisions go through the inbox or the API so they resume runs and are audited."""

    list_display = ("id", "title", "workspace", "status", "decision", "decided_by_label", "created_at")
    list_filter = ("status", "decision")
    inlines = [VoteInline]

    def has_add_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False
