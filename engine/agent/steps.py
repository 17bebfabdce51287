"""Reading an agent node's recorded steps: which loop the node is in, its steps, its tool calls' child rounds."""

from django.db.models import Q

from engine.event_types import EventType
from engine.models import AgentStep, ChildRound, RunEvent, StepKind


def current_loop(run_id: int, node_id: str) -> int:
    """The node's loop: one more than the times it ended (succeeded, was cancelled, or failed with no retry left).

    A crash, a retry under the node's policy and a park continue the loop; "retry from the failed
    node", or a node run again after its upstream's retry, starts a new one.
    """
    ended = RunEvent.objects.filter(run_id=run_id, node_id=node_id).filter(
        Q(type__in=[EventType.NODE_SUCCEEDED, EventType.NODE_CANCELLED])
        | Q(type=EventType.NODE_FAILED, payload__retry_at=None)
    )
    return ended.count() + 1


def recorded(run_id: int, node_id: str, loop: int) -> dict[tuple[int, StepKind], AgentStep]:
    rows = AgentStep.objects.filter(run_id=run_id, node_id=node_id, loop=loop)
    return {(row.seq, StepKind(row.kind)): row for row in rows}


def call_round(run_id: int, node_id: str, key: str) -> ChildRound | None:
    """The child round of the workflow tool call `key` (its ToolCall.key, which the round holds as its kind)."""
    rounds = ChildRound.objects.filter(run_id=run_id, node_id=node_id, kind=key).defer("graph")
    return rounds.order_by("-number").first()
