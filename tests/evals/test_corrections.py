"""Reviewer corrections: an edit-and-approve becomes a proposal, accepted into a set as a row (or added at once
with auto-add); a plain approve proposes nothing."""

import pytest

from builder.models import Workflow
from evals import corrections, sets
from evals.models import EvalRow, Proposal, ProposalStatus, RowSource
from tests.approvals.flows import TICKET, asking, start, triage
from tests.engine.running import wait_for

pytestmark = pytest.mark.usefixtures("in_process")
EDITED = "Hello, your refund of the double charge is on its way."


def decide(login_as, member, approval, **body):
    return login_as(member).post_json(f"/api/v1/approvals/{approval.pk}/decide", body)


def test_a_reviewer_edit_becomes_a_proposal_then_a_row(owner, login_as):
    run = start(owner.workspace, triage())
    approval = asking(run)
    assert decide(login_as, owner, approval, decision="edit_and_approve", values={"reply": EDITED}).status_code == 200
    wait_for(run)
    proposal = Proposal.objects.get(approval_id=approval.pk)
    assert (proposal.input, proposal.expected, proposal.status) == (TICKET, {"reply": EDITED}, ProposalStatus.PENDING)
    eval_set = sets.create_set(proposal.workflow, "Corrections", owner.user)
    row = corrections.accept(proposal, eval_set, owner.user)
    assert (row.input, row.expected, row.source) == (TICKET, {"reply": EDITED}, RowSource.CORRECTION)
    assert row.origin["approval_id"] == approval.pk
    assert row.origin["run_id"] == run.pk
    assert Proposal.objects.get(pk=proposal.pk).status == ProposalStatus.ACCEPTED


def test_a_set_with_auto_add_takes_the_correction_at_once(owner, login_as):
    run = start(owner.workspace, triage())
    approval = asking(run)
    workflow = Workflow.objects.get(pk=approval.workflow_id)
    auto = sets.create_set(workflow, "Auto", owner.user, auto_add=True)
    decide(login_as, owner, approval, decision="edit_and_approve", values={"reply": EDITED})
    wait_for(run)
    row = EvalRow.objects.get(eval_set=auto)
    assert row.expected == {"reply": EDITED}
    assert Proposal.objects.get(approval_id=approval.pk).status == ProposalStatus.ACCEPTED


def test_a_plain_approve_proposes_nothing(owner, login_as):
    run = start(owner.workspace, triage())
    approval = asking(run)
    decide(login_as, owner, approval, decision="approve")
    wait_for(run)
    assert not Proposal.objects.exists()
