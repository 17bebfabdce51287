"""Costs over the API: a summary by workflow, model and day for a date range."""

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.http import HttpRequest
from django.utils import timezone
from ninja import Query, Router, Schema
from ninja.errors import HttpError
from pydantic import Field

from accounts.api_auth import token_scope
from accounts.models import Scope
from accounts.permissions import Action, require
from accounts.views import current_membership
from costs.forms import DEFAULT_DAYS, MAX_DAYS
from costs.reports import SUMS, Filters, combinations, daily, grouped, totals

router = Router(tags=["costs"])


class SummaryQuery(Schema):
    since: date | None = Field(None, description="first day (UTC), default 30 days before `until`")
    until: date | None = Field(None, description="last day (UTC), default today")
    workflow: int | None = Field(None, ge=1)
    model: str | None = Field(None, max_length=200)


class Sums(Schema):
    calls: int
    cached_calls: int
    tokens_in: int
    tokens_out: int
    cost: Decimal
    saved: Decimal = Field(description="what cached answers would have cost")


class Totals(Sums):
    test_cost: Decimal = Field(description="the part of `cost` spent by test runs")
    evaluation_cost: Decimal = Field(Decimal(0), description="the part of `test_cost` spent by eval runs and judges")
    estimated_cost: Decimal = Field(
        description="the part of `cost` billed at its budget reservation: calls whose worker died mid-call"
    )


class WorkflowSums(Sums):
    workflow_id: int = Field(description="0 for runs outside any workflow")
    workflow_name: str


class ModelSums(Sums):
    provider_kind: str
    model: str


class DaySums(Sums):
    day: date


class CostSummary(Schema):
    since: date
    until: date
    totals: Totals
    by_workflow: list[WorkflowSums]
    by_model: list[ModelSums]
    by_day: list[DaySums]


def _filters(workspace_id: int, query: SummaryQuery) -> Filters:
    until = query.until or timezone.localdate()
    since = query.since or until - timedelta(days=DEFAULT_DAYS - 1)
    if since > until:
        raise HttpError(422, "until: the end date is before the start date")
    if (until - since).days >= MAX_DAYS:
        raise HttpError(422, f"since: choose at most {MAX_DAYS} days")
    return Filters(workspace_id, since, until, query.workflow, query.model or "")


def _rows(rows: list[dict[str, Any]], key: str, names: list[str]) -> list[dict[str, object]]:
    table = grouped(rows, key)
    return [dict(zip(names + list(SUMS), row, strict=True)) for row in table.rows]


@router.get("/costs/summary", response=CostSummary, summary="Spend by workflow, model and day")
@token_scope(Scope.RUNS_READ)
def cost_summary(request: HttpRequest, query: Query[SummaryQuery]) -> CostSummary:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.VIEW)
    filters = _filters(me.workspace_id, query)
    days = daily(filters).values("day").annotate(**SUMS).order_by("day")
    rows = combinations(filters)
    return CostSummary(
        since=filters.since,
        until=filters.until,
        totals=Totals.model_validate(totals(filters, rows), from_attributes=True),
        by_workflow=[WorkflowSums(**row) for row in _rows(rows, "workflow", ["workflow_id", "workflow_name"])],  # type: ignore[arg-type]
        by_model=[ModelSums(**row) for row in _rows(rows, "model", ["provider_kind", "model"])],  # type: ignore[arg-type]
        by_day=[DaySums.model_validate({**row, **{name: row[name] or 0 for name in SUMS}}) for row in days],
    )
