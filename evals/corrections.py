"""Reviewer corrections as eval data: an edit-and-approve on a run of a workflow proposes the pair (the run's
input, the corrected fields) to the workflow's eval sets. A set with auto-add takes it as a row at once;
otherwise the proposal waits in the workflow's list to be accepted into a set or dismissed."""

from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.dispatch import receiver

from accounts.audit import record
from approvals.models import ApprovalRequest, Decision
from approvals.signals import decided
from builder.models import Workflow
from engine.models import Run, RunPurpose
from evals.models import EvalRow, EvalSet, Proposal, ProposalStatus, RowSource
from evals.sets import EvalSetInvalid, NewRow, add_rows

Actor = User | AnonymousUser | None


@receiver(decided)
def on_decided(sender: Any, request: ApprovalRequest, **kwargs: Any) -> None:
    if request.decision == Decision.EDIT and request.values:
        propose(request)


def propose(request: ApprovalRequest) -> Proposal | None:
    """The proposal of an edit-and-approve (once per approval), added at once to the sets with auto-add.
    None for a run that is no run of a workflow, or is itself part of an eval run."""
    run = Run.objects.filter(pk=request.run_id).only("input", "purpose", "workflow_id").first()
    if request.workflow_id is None:
        return None
    workflow = Workflow.objects.filter(pk=request.workflow_id, workspace_id=request.workspace_id).first()
    if run is None or workflow is None or run.purpose == RunPurpose.EVALUATION:
        return None
    try:
        with transaction.atomic():
            proposal = Proposal.objects.create(
                workspace_id=request.workspace_id,
                workflow=workflow,
                run_id=run.pk,
                approval_id=request.pk,
                input=run.input,
                expected=request.values,
                reviewer_label=request.decided_by_label,
            )
    except IntegrityError:
        return None  # the signal came twice for one approval
    for eval_set in workflow.eval_sets.filter(auto_add_corrections=True):
        try:
            accept(proposal, eval_set, None)
        except EvalSetInvalid:
            continue  # the input no longer matches the trigger: the proposal stays in the list
    return proposal


def accept(proposal: Proposal, eval_set: EvalSet, by: Actor) -> EvalRow:
    """Add the proposal to `eval_set` as a row (EvalSetInvalid when its input does not match the trigger)."""
    if eval_set.workflow_id != proposal.workflow_id:
        raise EvalSetInvalid("eval_set_id", "the eval set belongs to another workflow")
    origin = {"run_id": proposal.run_id, "approval_id": proposal.approval_id, "reviewer": proposal.reviewer_label}
    row = add_rows(eval_set, [NewRow(proposal.input, proposal.expected, RowSource.CORRECTION, origin)], by)[0]
    Proposal.objects.filter(pk=proposal.pk).update(status=ProposalStatus.ACCEPTED, row=row)
    proposal.status, proposal.row = ProposalStatus.ACCEPTED, row
    return row


def dismiss(proposal: Proposal, by: Actor) -> None:
    Proposal.objects.filter(pk=proposal.pk).update(status=ProposalStatus.DISMISSED)
    proposal.status = ProposalStatus.DISMISSED
    record(by, "eval_proposal.dismissed", workspace=proposal.workspace, target=proposal)
