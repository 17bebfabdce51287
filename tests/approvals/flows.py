"""Support-triage graphs with an approval step, and waiting for the step to ask."""

from typing import Any

from accounts.models import Workspace
from approvals.models import ApprovalRequest
from builder.versions import run_version
from engine.models import NodeStatus, Run
from engine.runs import Options
from tests.engine.graphs import TRIGGER, edge, graph, node
from tests.engine.running import node as node_run
from tests.eventually import eventually
from tests.factories import WorkflowFactory, WorkflowVersionFactory

TICKET = {
    "subject": "Refund for order 1042",
    "body": "I was charged twice, please refund one payment.",
    "classification": {"label": "billing", "confidence": 0.41, "reasons": ["mentions a refund", "double charge"]},
    "sources": [{"title": "Refund policy", "score": 0.83, "text": "Refunds within 30 days."}],
}


def review(**params: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "title": "Check the reply to {{ input.subject }}",
        "instructions": "Is the reply right for {{ input.subject }}?",
        "context": [
            {"label": "Ticket", "value": "{{ input.body }}"},
            {"label": "Classification", "kind": "classification", "value": "{{ input.classification }}"},
            {"label": "Sources", "kind": "sources", "value": "{{ input.sources }}"},
        ],
        "fields": [{"name": "reply", "label": "Reply", "value": "{{ nodes.draft.text }}"}],
    }
    return node("review", "approval", **(defaults | params))


def triage(**params: Any) -> dict[str, Any]:
    """trigger → draft → review → approved: reply with the (edited) text | rejected: escalate | escalated: escalate."""
    return graph(
        TRIGGER,
        node("draft", "transform", fields={"text": "Hello, we refunded {{ input.subject }}."}),
        review(**params),
        node("answer", "reply", answer="{{ nodes.review.values.reply }}"),
        node("refused", "escalate", reason="Rejected: {{ nodes.review.comment }}"),
        node("upward", "escalate", reason="Escalated by {{ nodes.review.reviewers | join(', ') }}"),
        edges=[
            edge("start", "draft"),
            edge("draft", "review"),
            edge("review", "answer", "approved"),
            edge("review", "refused", "rejected"),
            edge("review", "upward", "escalated"),
        ],
    )


def start(workspace: Workspace, graph: dict[str, Any], input: dict[str, Any] | None = None, by: Any = None) -> Run:
    version = WorkflowVersionFactory(workflow=WorkflowFactory(workspace=workspace, draft=graph), graph=graph)
    return run_version(version, TICKET if input is None else input, Options(created_by=by))


def asking(run: Run, node_id: str = "review", timeout: float = 20) -> ApprovalRequest:
    """The run's approval request once its node has parked (decisions before that are retried later)."""

    def parked() -> ApprovalRequest | None:
        found = ApprovalRequest.objects.filter(run=run, node_id=node_id).first()
        return found if found is not None and node_run(run, node_id).status == NodeStatus.WAITING else None

    return eventually(parked, timeout, message=f"run {run.pk} did not ask for approval")
