"""Cost rows for the costs tests, written by the real writer (engine.costs.record) on dated days."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import count

import time_machine
from django.utils import timezone

from accounts.models import Membership, Workspace
from engine import costs
from engine.models import CostEntry, Run
from tests.factories import ModelPriceFactory, RunFactory

_attempts = count(1)
# Noon UTC, so that a call and its rollup day agree in any time zone the tests use.
NOON = timedelta(hours=12)


def bill(
    run: Run,
    model: str = "gpt-x",
    tokens_in: int = 1000,
    tokens_out: int = 500,
    *,
    node: str = "draft",
    node_type: str = "generate",
    at: datetime | None = None,
    cached: bool = False,
    provider: str = "OpenAI",
) -> CostEntry:
    call = costs.Call(provider, "openai_compatible", model, tokens_in, tokens_out, cached=cached)
    with time_machine.travel(at or timezone.now(), tick=False):
        entry = costs.record(run.pk, node, node_type, next(_attempts), call)
    assert entry is not None
    return entry


def day(days_ago: int) -> datetime:
    today = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    return today - timedelta(days=days_ago) + NOON


def run_in(workspace: Workspace, at: datetime | None = None, **fields: object) -> Run:
    with time_machine.travel(at or timezone.now(), tick=False):
        return RunFactory(workspace=workspace, **fields)


@dataclass
class Spend:
    triage: list[Run]
    refunds: Run
    test_run: Run


def a_month_of_spend(owner: Membership, outsider: Membership) -> Spend:
    """Production runs of two workflows over twelve days, a cached call, a test run, and an outsider's call."""
    ModelPriceFactory(model="gpt-x")
    ModelPriceFactory(model="gpt-mini", input_per_million="0.15", output_per_million="0.60")
    workspace = owner.workspace
    triage = [
        run_in(
            workspace,
            day(n),
            workflow_id=7,
            workflow_name="Triage",
            version_number=3 if n < 5 else 2,
            trigger_kind="api",
        )
        for n in (0, 1, 1, 3, 8, 12)
    ]
    for index, run in enumerate(triage):
        at = run.created_at
        bill(run, "gpt-mini", 400 + index, 20, node="classify", node_type="classify", at=at)
        bill(run, "gpt-x", 1000 * (index + 1), 500, at=at)
    bill(triage[0], "gpt-x", 1000, 500, node="draft2", at=triage[0].created_at, cached=True)
    refunds = run_in(
        workspace, day(2), workflow_id=8, workflow_name="Refunds", version_number=1, trigger_kind="schedule"
    )
    bill(refunds, "gpt-x", 20_000, 4000, at=refunds.created_at, provider="Azure")
    test_run = run_in(workspace, day(1), workflow_id=7, workflow_name="Triage", is_test=True, trigger_kind="manual")
    bill(test_run, "gpt-x", 50_000, 9000, at=test_run.created_at)
    elsewhere = run_in(outsider.workspace, day(1), workflow_id=99, workflow_name="Theirs", trigger_kind="api")
    bill(elsewhere, "gpt-x", 99_000, 9000, at=elsewhere.created_at)
    return Spend(triage, refunds, test_run)
