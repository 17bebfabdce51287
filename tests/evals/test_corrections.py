"""Reviewer corrections: an edit-and-approve becomes a proposal, accepted into a set as a row (or added at once
to the set the workflow's auto-add setting names); a plain approve proposes nothing."""

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


def test_auto_add_puts_the_correction_into_the_set_the_workflow_chose(owner, login_as):
    run = start(owner.workspace, triage())
    approval = asking(run)
    workflow = Workflow.objects.get(pk=approval.workflow_id)
    other = sets.create_set(workflow, "Other", owner.user)
    chosen = sets.create_set(workflow, "Receiving", owner.user)
    corrections.configure(workflow, True, chosen.pk, owner.user)
    decide(login_as, owner, approval, decision="edit_and_approve", values={"reply": EDITED})
    wait_for(run)
    row = EvalRow.objects.get(eval_set=chosen)
    assert row.expected == {"reply": EDITED}
    assert not EvalRow.objects.filter(eval_set=other).exists()
    assert Proposal.objects.get(approval_id=approval.pk).status == ProposalStatus.ACCEPTED


def test_with_auto_add_off_the_correction_waits_for_the_chosen_set(owner, login_as):
    run = start(owner.workspace, triage())
    approval = asking(run)
    workflow = Workflow.objects.get(pk=approval.workflow_id)
    chosen = sets.create_set(workflow, "Receiving", owner.user)
    corrections.configure(workflow, False, chosen.pk, owner.user)
    decide(login_as, owner, approval, decision="edit_and_approve", values={"reply": EDITED})
    wait_for(run)
    assert not EvalRow.objects.exists()
    assert Proposal.objects.get(approval_id=approval.pk).status == ProposalStatus.PENDING


def test_a_plain_approve_proposes_nothing(owner, login_as):
    run = start(owner.workspace, triage())
    approval = asking(run)
    decide(login_as, owner, approval, decision="approve")
    wait_for(run)
    assert not Proposal.objects.exists()
