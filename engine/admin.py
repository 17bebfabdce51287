from django.contrib import admin
from django.http import HttpRequest

from engine.models import (
    Budget,
    CachedResult,
    CostDaily,
    CostEntry,
    Effect,
    ModelPrice,
    NodeRun,
    ProviderConfig,
    Run,
    RunEvent,
    WebhookDelivery,
)


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
    """Add a row to change a price; editing an old row would rewrite what past calls were billed at."""

    list_display = ["provider_kind", "model", "input_per_million", "output_per_million", "effective_from", "workspace"]
    list_filter = ["provider_kind", "workspace"]
    search_fields = ["model", "provider_kind"]
    date_hierarchy = "effective_from"
    exclude = ["created_by"]

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return obj is None

    def save_model(self, request: HttpRequest, obj: ModelPrice, form: object, change: bool) -> None:
        if not change and request.user.is_authenticated:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


class WrittenByTheEngine(admin.ModelAdmin):
    """Rows only engine.costs.record writes: an edit here would break the sums the reports rely on."""

    def has_change_permission(self, request: object, obj: object = None) -> bool:
        return False

    def has_add_permission(self, request: object) -> bool:
        return False


@admin.register(CostEntry)
class CostEntryAdmin(WrittenByTheEngine):
    """Read-only: engine.costs.record is the only writer, and it keeps CostDaily in step."""

    list_display = [
        "created_at",
        "run",
        "workflow_name",
        "node_id",
        "model",
        "tokens_in",
        "tokens_out",
        "cost",
        "cached",
    ]
    list_filter = ["provider_kind", "trigger_kind", "cached", "is_test", "workspace"]
    search_fields = ["model", "workflow_name", "node_id", "provider"]
    date_hierarchy = "created_at"
    raw_id_fields = ["run", "price"]


@admin.register(CostDaily)
class CostDailyAdmin(WrittenByTheEngine):
    """Read-only: maintained with each CostEntry."""

    list_display = ["day", "workflow_name", "version_number", "node_id", "model", "calls", "cost", "saved"]
    list_filter = ["provider_kind", "trigger_kind", "workspace"]
    search_fields = ["model", "workflow_name", "node_id"]
    date_hierarchy = "day"


@admin.register(Budget)
class BudgetAdmin(admin.ModelAdmin):
    list_display = ["name", "scope", "workflow_id", "limit", "alert_percent", "workspace", "updated_at"]
    list_filter = ["scope", "workspace"]
    search_fields = ["name"]


@admin.register(ProviderConfig)
class ProviderConfigAdmin(admin.ModelAdmin):
    """Without the encrypted key: it is set on the workspace's Model providers page only."""

    list_display = ["name", "workspace", "kind", "base_url", "updated_at"]
    list_filter = ["kind", "workspace"]
    search_fields = ["name", "base_url"]
    exclude = ["api_key_encrypted"]
