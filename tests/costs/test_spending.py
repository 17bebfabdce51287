"""Where a budget stands: spend this month, the month-end projection, thresholds crossed."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine

from costs.spending import project, statuses
from engine.models import ModelPrice
from tests.costs.billing import bill, run_in
from tests.factories import BudgetFactory


def at(day: int, hour: int = 0, month: int = 6) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=UTC)


def test_it_projects_the_month_at_the_rate_so_far():
    assert project(Decimal(10), at(11)) == Decimal(30)  # 10 of June's 30 days have passed
    assert project(Decimal("15.5"), at(16, 12)) == Decimal("30.000000")
    assert project(Decimal(31), at(1, 0, month=8)) == Decimal(31) * 31  # first day counts as one whole day


def test_it_projects_about_the_spend_itself_at_the_end_of_the_month():
    assert project(Decimal(42), datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)) == Decimal("42.000016")


def test_it_counts_a_few_hours_as_one_day():
    assert project(Decimal(1), at(1, 3)) == Decimal(30)


@pytest.fixture
def priced(db):
    return ModelPrice.objects.create(
        provider_kind="openai_compatible",
        model="gpt-x",
        input_per_million=Decimal(1000),
        output_per_million=Decimal(0),
        effective_from=at(1, month=1),
    )


def test_it_reports_spend_projection_and_the_days_thresholds_were_crossed(owner, priced):
    budget = BudgetFactory(workspace=owner.workspace, limit=Decimal(10), alert_percent=50)
    other = BudgetFactory(workspace=owner.workspace, scope="workflow_month", workflow_id=8, limit=Decimal(10))
    for day, dollars in ((2, 3), (4, 3), (9, 5)):  # $1 per 1000 tokens in
        bill(
            run_in(owner.workspace, at(day, 12), workflow_id=7), tokens_in=dollars * 1000, tokens_out=0, at=at(day, 12)
        )
    bill(run_in(owner.workspace, at(20, 12, month=5)), tokens_in=9000, tokens_out=0, at=at(20, 12, month=5))

    with time_machine.travel(at(11), tick=False):
        workspace, workflow = statuses([budget, other])

    assert (workspace.spent, workspace.projected, workspace.percent) == (Decimal(11), Decimal(33), 110)
    assert (workspace.alert_on, workspace.limit_on) == (at(4).date(), at(9).date())
    assert (workspace.alert_crossed, workspace.bar_percent) == (True, 100)
    assert (workflow.spent, workflow.alert_on, workflow.percent) == (Decimal(0), None, 0)


def test_it_shows_a_run_budget_against_the_costliest_run_this_month(owner, priced):
    budget = BudgetFactory(workspace=owner.workspace, scope="run", limit=Decimal(4), alert_percent=75)
    for dollars in (1, 3, 5):
        bill(run_in(owner.workspace, at(3, 12)), tokens_in=dollars * 1000, tokens_out=0, at=at(3, 12))

    with time_machine.travel(at(11), tick=False):
        [status] = statuses([budget])

    assert (status.spent, status.projected, status.runs_over_alert, status.percent) == (Decimal(5), None, 2, 125)
