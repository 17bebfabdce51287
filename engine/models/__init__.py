"""The engine's models: runs and their history (runs.py), token costs and budgets (costs.py)."""

from engine.models.costs import Budget, BudgetScope, CostDaily, CostEntry, ModelPrice
from engine.models.runs import (
    ENDED_RUN,
    CachedResult,
    DeliveryStatus,
    Effect,
    EffectStatus,
    NodeRun,
    NodeStatus,
    Run,
    RunEvent,
    RunStatus,
    TriggerKind,
    WebhookDelivery,
)

__all__ = [
    "ENDED_RUN",
    "Budget",
    "BudgetScope",
    "CachedResult",
    "CostDaily",
    "CostEntry",
    "DeliveryStatus",
    "Effect",
    "EffectStatus",
    "ModelPrice",
    "NodeRun",
    "NodeStatus",
    "Run",
    "RunEvent",
    "RunStatus",
    "TriggerKind",
    "WebhookDelivery",
]
