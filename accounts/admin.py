from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.models import ApiToken, AuditEntry, Membership, Workspace


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]
    exclude = ["webhook_secret"]  # a secret: owners see it in Settings → Network


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["user__username", "workspace__name"]
    autocomplete_fields = ["user", "workspace"]


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit log is append-only, even for superusers."""

    list_display = ["created_at", "actor_label", "action", "target_label", "workspace"]
    list_filter = ["action", "workspace"]
    search_fields = ["actor_label", "action", "target_label", "target_id"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Only the hash is stored; the admin can see, filter and revoke (set revoked_at), never reveal."""

    list_display = ["name", "prefix", "user", "workspace", "created_at", "last_used_at", "expires_at", "revoked_at"]
    list_filter = ["workspace"]
    search_fields = ["name", "prefix", "user__username"]
    readonly_fields = ["prefix", "digest", "user", "workspace", "scopes", "created_at", "last_used_at"]
