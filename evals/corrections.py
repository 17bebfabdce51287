"""Reviewer corrections as eval data: an edit-and-approve on a run of a workflow proposes the pair (the run's
input, the corrected fields) to the workflow's eval sets. With the workflow's auto-add setting on, the eval set
it names takes it as a row at once; otherwise the proposal waits in the workflow's list to be accepted into a
set or dismissed."""

from contextlib import suppress
from typing import Any

from django.contrib.auth.models import AnonymousUser, User
from django.db import IntegrityError, transaction
from django.dispatch import receiver

from accounts.audit import record
from approvals.models import ApprovalRequest, Decision
from approvals.signals import decided
from builder.models import Workflow
from engine.models import Run, RunPurpose
from evals.models import CorrectionsSetting, EvalRow, EvalSet, Proposal, ProposalStatus, RowSource
from evals.sets import EvalSetInvalid, NewRow, add_rows

Actor = User | AnonymousUser | None


@receiver(decided)
def on_decided(sender: Any, request: ApprovalRequest, **kwargs: Any) -> None:
    if request.decision == Decision.EDIT and request.values:
        propose(request)


def propose(request: ApprovalRequest) -> Proposal | None:
    """The proposal of an edit-and-approve (once per approval), added at once to the workflow's receiving set
    when its auto-add is on.
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
    setting = setting_of(workflow)
    if setting.auto_add and setting.eval_set is not None:
        # An input that no longer matches the trigger (or a full set) leaves the proposal in the list.
        with suppress(EvalSetInvalid):
            accept(proposal, setting.eval_set, None)
    return proposal


def setting_of(workflow: Workflow) -> CorrectionsSetting:
    """The workflow's setting (not stored until changed: auto-add off, no set chosen)."""
    found = CorrectionsSetting.objects.select_related("eval_set").filter(workflow=workflow).first()
    return found or CorrectionsSetting(workflow=workflow)


def configure(workflow: Workflow, auto_add: bool, eval_set_id: int | None, by: Actor) -> CorrectionsSetting:
    """Set whether corrections are added at once, and into which eval set of the workflow. With auto-add on and
    no set named, the workflow's only set is chosen; EvalSetInvalid names the field when that cannot be."""
    sets = list(workflow.eval_sets.order_by("name"))
    if eval_set_id is not None:
        chosen = next((eval_set for eval_set in sets if eval_set.pk == eval_set_id), None)
        if chosen is None:
            raise EvalSetInvalid("eval_set_id", f"{workflow.name!r} has no eval set {eval_set_id}")
    elif auto_add and len(sets) == 1:
        chosen = sets[0]
    elif auto_add and not sets:
        raise EvalSetInvalid("auto_add", f"{workflow.name!r} has no eval set yet: create one to receive corrections")
    elif auto_add:
        raise EvalSetInvalid("eval_set_id", f"choose which of the {len(sets)} eval sets receives the corrections")
    else:
        chosen = None
    setting, _ = CorrectionsSetting.objects.update_or_create(
        workflow=workflow, defaults={"auto_add": auto_add, "eval_set": chosen}
    )
    target = chosen.name if chosen else None
    record(
        by,
        "workflow.eval_corrections_set",
        workspace=workflow.workspace,
        target=workflow,
        auto_add=auto_add,
        eval_set=target,
    )
    return setting


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
