"""The demo's evaluation story: on a fresh seed, both versions' eval runs finish and v2's dropped sources show,
and both versions have production runs a reviewer decided."""

from decimal import Decimal

from django.utils import timezone

from accounts.models import Role
from accounts.workspaces import create_workspace
from approvals.models import ApprovalRequest
from builder.models import Workflow
from builder.quality import QualityQuery, by_version
from builder.starters import SUPPORT_TRIAGE_NAME
from engine.models import RunStatus
from evals import comparison
from evals.demo import add_eval_demo
from evals.demo_reviews import CANCEL_REPLY, CHARGED_REPLY, LOCKED_REPLY, add_reviewed_runs
from evals.models import EvalRun, Proposal
from tests.engine.running import wait_for
from tests.factories import MembershipFactory, UserFactory


def test_it_seeds_two_versions_whose_eval_runs_compare(in_process, owner):
    workspace = create_workspace("Demo", owner=owner.user)
    triage = Workflow.objects.get(workspace=workspace, name=SUPPORT_TRIAGE_NAME)
    add_eval_demo(triage)

    v1_run, v2_run = EvalRun.objects.filter(workflow=triage).order_by("version_number")
    for eval_run in (v1_run, v2_run):
        wait_for(eval_run.run, timeout=60)
        eval_run.refresh_from_db()
    summary = comparison.summarize(v1_run, v2_run)
    today = timezone.localdate()
    quality = by_version(QualityQuery(triage.workspace_id, triage.pk, today, today))

    assert (v1_run.version_number, v2_run.version_number) == (1, 2)
    assert v1_run.aggregates["scorers"]["category_exact"]["pass_rate"] == 1.0
    assert v1_run.aggregates["scorers"]["cites_sources"]["pass_rate"] == 1.0
    assert v2_run.aggregates["scorers"]["cites_sources"]["pass_rate"] == 0.0
    assert (summary.compared, summary.regressions, summary.fixes) == (6, 6, 0)
    assert quality.rows == []  # eval runs are test runs: production quality leaves them out
    assert add_eval_demo(triage) is None
    assert triage.versions.count() == 2


def test_it_seeds_reviewed_production_runs_of_both_versions(in_process, owner, mailoutbox):
    """Each run waits in the inbox, and the demo's reviewer's decision ends it; nobody is emailed about them."""
    workspace = create_workspace("Demo", owner=owner.user)
    reviewer = MembershipFactory(workspace=workspace, user=UserFactory(username="rita"), role=Role.REVIEWER).user
    triage = Workflow.objects.get(workspace=workspace, name=SUPPORT_TRIAGE_NAME)
    add_eval_demo(triage)

    runs = add_reviewed_runs(triage, reviewer)

    assert {run.status for run in runs} == {RunStatus.SUCCEEDED}
    today = timezone.localdate()
    table = by_version(QualityQuery(triage.workspace_id, triage.pk, today, today))
    figures = {row[0]: dict(zip(table.headers, row, strict=True)) for row in table.rows}
    reviewed = ["Reviewed", "Approved as is", "Edited", "Rejected"]
    assert [figures[1][column] for column in reviewed] == [5, 1, 2, 1]
    assert [figures[2][column] for column in reviewed] == [5, 2, 2, 1]
    assert figures[1]["Escalated (%)"] == Decimal("40.0")  # escalated by the reviewer, and the reject
    assert figures[1]["Mean edit size (words)"] > 0
    assert figures[2]["Mean edit size (words)"] > 0
    decided = ApprovalRequest.objects.filter(workflow_id=triage.pk)
    assert {request.decided_by_id for request in decided} == {reviewer.pk}
    proposals = Proposal.objects.filter(workflow=triage).order_by("pk")
    assert [proposal.expected["reply"] for proposal in proposals] == [
        CHARGED_REPLY,
        LOCKED_REPLY,
        CHARGED_REPLY,
        CANCEL_REPLY,
    ]
    assert add_reviewed_runs(triage, reviewer) == []
    assert ApprovalRequest.objects.filter(workflow_id=triage.pk).count() == 10
    assert [message.subject for message in mailoutbox] == []
