"""Spend against each budget this month, the projected month-end spend, and thresholds crossed.

The engine enforces budgets before each model call (engine/budgets.py); this module only reads
the CostDaily rollup and runs to show where each budget stands.
"""

import calendar
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Max, Sum
from django.utils import timezone

from engine import budgets
from engine.models import Budget, BudgetScope, CostDaily, Run

PLACES = Decimal("0.000001")


@dataclass
class BudgetStatus:
    budget: Budget
    spent: Decimal
    projected: Decimal | None
    held: Decimal = Decimal(0)
    alert_on: date | None = None
    limit_on: date | None = None
    runs_over_alert: int = 0

    @property
    def percent(self) -> int:
        return int((self.spent * 100 / self.budget.limit).to_integral_value(ROUND_HALF_UP))

    @property
    def bar_percent(self) -> int:
        return min(self.percent, 100)

    @property
    def alert_crossed(self) -> bool:
        return self.percent >= self.budget.alert_percent


def month_start(now: datetime) -> datetime:
    local = timezone.localtime(now)
    return datetime.combine(local.date().replace(day=1), time.min, tzinfo=local.tzinfo)


def project(spent: Decimal, now: datetime) -> Decimal:
    """Month-end spend if the month goes on at the rate it has gone so far.

    projected = spent * (days in the month) / (days elapsed), where the days elapsed are
    counted to the second since midnight of the 1st. Fewer than one elapsed day counts as one,
    so that a few cents in the first hour of a month do not project to hundreds of dollars.
    Once the month is over, nothing is projected beyond what was spent.
    Example: $10 spent by midnight ending 10 June (10 of 30 days) projects to $30.
    """
    start = month_start(now)
    days = Decimal(calendar.monthrange(start.year, start.month)[1])
    elapsed = Decimal(str((timezone.localtime(now) - start).total_seconds())) / Decimal(86400)
    elapsed = min(max(elapsed, Decimal(1)), days)
    return (spent * days / elapsed).quantize(PLACES)


def _month_status(budget: Budget, now: datetime) -> BudgetStatus:
    start = month_start(now).date()
    rows = CostDaily.objects.filter(workspace_id=budget.workspace_id, day__gte=start, day__lte=timezone.localdate(now))
    if budget.scope == BudgetScope.WORKFLOW_MONTH:
        rows = rows.filter(workflow_id=budget.workflow_id or 0)
    spent, status = Decimal(0), BudgetStatus(budget, Decimal(0), None)
    alert_at = budget.limit * budget.alert_percent / 100
    for row in rows.values("day").annotate(cost=Sum("cost")).order_by("day"):
        spent += row["cost"]
        if status.alert_on is None and spent >= alert_at:
            status.alert_on = row["day"]
        if status.limit_on is None and spent >= budget.limit:
            status.limit_on = row["day"]
    status.spent, status.projected = spent, project(spent, now)
    status.held = budgets.held(budget, now)
    return status


def _run_status(budget: Budget, now: datetime) -> BudgetStatus:
    """A run budget caps each run: show this month's most expensive run against it."""
    runs = Run.objects.filter(workspace_id=budget.workspace_id, created_at__gte=month_start(now))
    if budget.workflow_id:
        runs = runs.filter(workflow_id=budget.workflow_id)
    top = runs.aggregate(top=Max("cost"))["top"] or Decimal(0)
    over = runs.filter(cost__gte=budget.limit * budget.alert_percent / 100).count()
    return BudgetStatus(budget, top, None, runs_over_alert=over)


def statuses(budgets: list[Budget], now: datetime | None = None) -> list[BudgetStatus]:
    now = now or timezone.now()
    return [(_run_status if b.scope == BudgetScope.RUN else _month_status)(b, now) for b in budgets]
