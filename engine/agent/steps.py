"""Reading an agent node's recorded steps: which loop the node is in, its steps, its child runs' rounds."""

from dataclasses import dataclass

from django.db.models import Q

from engine.event_types import EventType
from engine.models import AgentStep, RunEvent, StepKind
from engine.models import ChildRoundState as RoundState
from engine.runs import children


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


@dataclass(frozen=True)
class ChildRound:
    """The node's latest child round not yet gathered into a step: still running, or closed (its number)."""

    waiting: bool = False
    closed: int | None = None


def child_round(run_id: int, node_id: str) -> ChildRound:
    last = children.latest_round(run_id, node_id)
    if last is None or last.state == RoundState.SPENT:
        return ChildRound()
    gathered = AgentStep.objects.filter(
        run_id=run_id, node_id=node_id, kind=StepKind.TOOL, detail__round=last.number
    ).exists()
    if gathered:
        return ChildRound()
    if last.state == RoundState.OPEN:
        return ChildRound(waiting=True)
    return ChildRound(closed=last.number)
