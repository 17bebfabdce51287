"""The engine's models: runs, costs and budgets, providers and budget spend, workspace secrets, MCP servers."""

from engine.models.agent import AgentStep, StepKind, StepStatus
from engine.models.costs import Budget, BudgetScope, CostDaily, CostEntry, ModelPrice
from engine.models.mcp import McpServer
from engine.models.providers import BudgetHold, BudgetSpend, CachedCompletion, ProviderConfig, ProviderKind
from engine.models.runs import (
    ENDED_RUN,
    CachedResult,
    ChildItem,
    ChildRound,
    ChildRoundState,
    DeliveryStatus,
    Effect,
    EffectStatus,
    NodeRun,
    NodeStatus,
    Run,
    RunEvent,
    RunPurpose,
    RunStatus,
    TriggerKind,
    WebhookDelivery,
)
from engine.models.secrets import WorkspaceSecret

__all__ = [
    "ENDED_RUN",
    "AgentStep",
    "Budget",
    "BudgetHold",
    "BudgetScope",
    "BudgetSpend",
    "CachedCompletion",
    "CachedResult",
    "ChildItem",
    "ChildRound",
    "ChildRoundState",
    "CostDaily",
    "CostEntry",
    "DeliveryStatus",
    "Effect",
    "EffectStatus",
    "McpServer",
    "ModelPrice",
    "NodeRun",
    "NodeStatus",
    "ProviderConfig",
    "ProviderKind",
    "Run",
    "RunEvent",
    "RunPurpose",
    "RunStatus",
    "StepKind",
    "StepStatus",
    "TriggerKind",
    "WebhookDelivery",
    "WorkspaceSecret",
]
