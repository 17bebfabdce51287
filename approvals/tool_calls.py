"""Agent tool calls in the review inbox: one approval request per proposed call, read back as the agent's Review.

The card shows the tool, its arguments and the agent's text as context (escaped like any
model output) and the arguments as an editable JSON field; an edit must match the tool's
argument schema (`check_arguments`, called from decisions.clean). A rejection's comment is
what the model reads as the tool's result. The node's assignees, N-of-M and timeout apply
as on an approval node.
"""

import json
from datetime import timedelta
from typing import Any

import jsonschema
from django.db import transaction
from django.utils import timezone

from accounts.permissions import Action, roles_allowed
from approvals import assignees
from approvals.models import ApprovalRequest, Assignee, Decision
from approvals.requests import announce, time_out, where_asked
from engine.agent.reviews import Proposal, Review, ToolApproval, register_reviewer
from engine.errors import NonRetryableError
from engine.registry import NodeContext

ARGUMENTS = "arguments"


class InboxReviewer:
    def review(self, ctx: NodeContext, rules: ToolApproval, proposal: Proposal) -> Review:
        request = _open(ctx, rules, proposal)
        if request.is_pending and request.deadline is not None and request.deadline <= timezone.now():
            request = time_out(request)
        if request.is_pending:
            return Review("pending", deadline=request.deadline)
        reviewers = [vote.user_label for vote in request.votes.all()] or [request.decided_by_label]
        if request.decision in (Decision.APPROVE, Decision.EDIT):
            edited = request.values.get(ARGUMENTS)
            arguments = json.loads(edited) if isinstance(edited, str) else proposal.arguments
            return Review("approved", arguments, edited=edited is not None, reviewers=reviewers)
        message = request.comment or "A reviewer rejected this call"
        return Review("rejected", message=message, reviewers=reviewers)


def _open(ctx: NodeContext, rules: ToolApproval, proposal: Proposal) -> ApprovalRequest:
    """The call's request, raised and announced (once) on the first look; a redelivered node finds the same row."""
    found = ApprovalRequest.objects.filter(run_id=ctx.run_id, node_id=ctx.node_id, tool_key=proposal.key).first()
    if found is not None:
        return found
    for index, user_id in assignees.refused(ctx.workspace_id, list(rules.users)):
        message = f"approval.users.{index}: {assignees.refusal_message(user_id)}"
        raise NonRetryableError(message, code="bad_assignee")
    allowed = roles_allowed(Action.REVIEW)
    with transaction.atomic():
        request, created = ApprovalRequest.objects.get_or_create(
            run_id=ctx.run_id,
            node_id=ctx.node_id,
            tool_key=proposal.key,
            defaults={
                **where_asked(ctx),
                "title": f"Tool call: {proposal.tool}"[:200],
                "instructions": proposal.description,
                "context": _context(proposal),
                "fields": [
                    {
                        "name": ARGUMENTS,
                        "label": "Arguments (JSON)",
                        "type": "textarea",
                        "value": json.dumps(proposal.arguments, indent=2, ensure_ascii=False),
                        "required": True,
                    }
                ],
                "allowed_decisions": [Decision.APPROVE, Decision.EDIT, Decision.REJECT],
                "required_approvals": rules.required_approvals,
                "no_self_approval": rules.no_self_approval,
                "run_created_by_id": ctx.run_created_by,
                "timeout_action": rules.timeout_action if rules.decide_within_s else "",
                "deadline": timezone.now() + timedelta(seconds=rules.decide_within_s)
                if rules.decide_within_s
                else None,
                "tool_schema": proposal.schema,
            },
        )
        if created:
            roles = [role for role in rules.roles if role in allowed] or ([] if rules.users else allowed)
            Assignee.objects.bulk_create(
                [Assignee(request=request, user_id=user_id) for user_id in dict.fromkeys(rules.users)]
                + [Assignee(request=request, role=role) for role in dict.fromkeys(roles)]
            )
    if created:
        ctx.once(f"notify:{proposal.key}", lambda: announce(request))
    return request


def _context(proposal: Proposal) -> list[dict[str, Any]]:
    context: list[dict[str, Any]] = [
        {"label": "Tool", "kind": "text", "value": proposal.tool},
        {"label": "Arguments", "kind": "json", "value": proposal.arguments},
    ]
    if proposal.text:
        context.append({"label": "The agent's reasoning", "kind": "text", "value": proposal.text})
    return context


def check_arguments(request: ApprovalRequest, raw: Any) -> str | None:
    """Why edited arguments are refused (not a JSON object, or off the tool's schema), or None."""
    try:
        arguments = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError as error:
        return f"The arguments are not valid JSON: {error}"
    if not isinstance(arguments, dict):
        return "The arguments must be a JSON object"
    schema = request.tool_schema or {"type": "object"}
    problem = jsonschema.exceptions.best_match(jsonschema.Draft202012Validator(schema).iter_errors(arguments))
    if problem is not None:
        where = "/".join(map(str, problem.absolute_path)) or "(root)"
        return f"The arguments do not match the tool's schema at {where}: {problem.message}"
    return None


register_reviewer(InboxReviewer())
