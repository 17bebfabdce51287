from django.contrib import admin

from engine.models import CachedResult, Effect, ModelPrice, NodeRun, ProviderConfig, Run, RunEvent, WebhookDelivery


class NodeRunInline(admin.TabularInline):
    model = NodeRun
    extra = 0
    can_delete = False
    fields = readonly_fields = ("node_id", "node_type", "status", "attempt", "handle", "started_at", "finished_at")


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    """Read-only: statuses change only through the engine, which records an event for each."""

    list_display = ["id", "workflow_name", "version_number", "status", "trigger_kind", "created_at", "finished_at"]
    list_filter = ["status", "trigger_kind", "is_test", "workspace"]
    search_fields = ["workflow_name", "error", "escalation_reason"]
    date_hierarchy = "created_at"
    inlines = [NodeRunInline]

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(RunEvent)
class RunEventAdmin(admin.ModelAdmin):
    list_display = ["run", "seq", "type", "node_id", "created_at"]
    list_filter = ["type"]
    search_fields = ["node_id", "type"]

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(Effect)
class EffectAdmin(admin.ModelAdmin):
    list_display = ["run", "node_id", "key", "status", "attempts", "updated_at"]
    list_filter = ["status"]
    search_fields = ["node_id", "key"]

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(CachedResult)
class CachedResultAdmin(admin.ModelAdmin):
    list_display = ["node_type", "key", "workspace", "created_at", "expires_at"]
    list_filter = ["node_type", "workspace"]
    search_fields = ["key"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["run", "url", "status", "attempts", "last_status_code", "delivered_at"]
    list_filter = ["status"]
    search_fields = ["url", "event_id"]

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False


@admin.register(ModelPrice)
class ModelPriceAdmin(admin.ModelAdmin):
    """A price change is a new row with a later effective_from, so past calls keep their price."""

    list_display = ["provider_kind", "model", "input_per_million", "output_per_million", "effective_from", "workspace"]
    list_filter = ["provider_kind", "workspace"]
    search_fields = ["model"]


@admin.register(ProviderConfig)
class ProviderConfigAdmin(admin.ModelAdmin):
    """Without the encrypted key: it is set on the workspace's Model providers page only."""

    list_display = ["name", "workspace", "kind", "base_url", "updated_at"]
    list_filter = ["kind", "workspace"]
    search_fields = ["name", "base_url"]
    exclude = ["api_key_encrypted"]
