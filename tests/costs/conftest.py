"""A month of billed calls in the personas' workspace, and one call in an outsider's."""

from dataclasses import dataclass

import pytest

from engine.models import Run
from tests.costs.billing import bill, day, run_in
from tests.factories import ModelPriceFactory


@dataclass
class Spend:
    triage: list[Run]
    refunds: Run
    test_run: Run


@pytest.fixture
def spend(owner, outsider) -> Spend:
    ModelPriceFactory()
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
