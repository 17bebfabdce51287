"""Recording an agent node's steps: each step row with its `agent.step` event, under the run lock, fenced by attempt.

A step is written as a node outcome is: in one transaction with its event, and only while the
attempt that made it still holds the node (a newer attempt, a cancel or the reaper taking the
node over make the write a no-op). A step recorded once is never written again; an approval
step is updated once more, when its decision arrives.
"""

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from engine.event_types import EventType
from engine.events import change
from engine.models import AgentStep, NodeRun, NodeStatus

# What an event repeats of a step's arguments and result: the step row keeps the rest.
EVENT_CHARS = 2000


@dataclass(frozen=True)
class Owner:
    """The attempt writing: its run, node and attempt number (the fence) and the node's loop."""

    run_id: int
    node_id: str
    attempt: int
    loop: int


@dataclass
class StepRecord:
    seq: int
    kind: str
    turn: int
    status: str
    tool: str = ""
    call_id: str = ""
    text: str = ""
    arguments: Any = None
    result: Any = None
    detail: dict[str, Any] = field(default_factory=dict)
    tokens_in: int = 0
    tokens_out: int = 0
    cost: Decimal = Decimal(0)
    duration_ms: int = 0


def record(owner: Owner, step: StepRecord) -> AgentStep | None:
    """Write the step and its event; the row already recorded for that seq, or None when the attempt lost the node."""
    with change(owner.run_id) as run_change:
        found = _existing(owner, step)
        if found is not None:
            return found
        if not _holds(owner):
            return None
        row = AgentStep.objects.create(
            run_id=owner.run_id, node_id=owner.node_id, loop=owner.loop, attempt=owner.attempt, **step.__dict__
        )
        run_change.event(EventType.AGENT_STEP, owner.node_id, **payload(owner, row))
        return row


def decide(owner: Owner, step: StepRecord) -> AgentStep | None:
    """Record an approval step's decision on its pending row (once); None when the attempt lost the node."""
    with change(owner.run_id) as run_change:
        found = _existing(owner, step)
        if found is not None and found.status == step.status:
            return found
        if not _holds(owner):
            return None
        if found is None:
            found = AgentStep.objects.create(
                run_id=owner.run_id, node_id=owner.node_id, loop=owner.loop, attempt=owner.attempt, **step.__dict__
            )
        else:
            for name in ("status", "arguments", "result", "text", "duration_ms"):
                setattr(found, name, getattr(step, name))
            found.save(update_fields=["status", "arguments", "result", "text", "duration_ms", "updated_at"])
        run_change.event(EventType.AGENT_STEP, owner.node_id, **payload(owner, found))
        return found


def payload(owner: Owner, row: AgentStep) -> dict[str, Any]:
    """The `agent.step` event's payload (docs/agents.md): the step with its text, arguments and result capped."""
    return {
        "attempt": row.attempt,
        "loop": row.loop,
        "seq": row.seq,
        "turn": row.turn,
        "kind": row.kind,
        "status": row.status,
        "tool": row.tool,
        "call_id": row.call_id,
        "text": row.text[:EVENT_CHARS],
        "arguments": _capped(row.arguments),
        "result": _capped(row.result),
        "tool_calls": row.detail.get("tool_calls", []),
        "tokens_in": row.tokens_in,
        "tokens_out": row.tokens_out,
        "cost": str(row.cost),
        "duration_ms": row.duration_ms,
    }


def _capped(value: Any) -> Any:
    if value is None:
        return None
    text = json.dumps(value, default=str)
    return value if len(text) <= EVENT_CHARS else {"truncated": text[:EVENT_CHARS], "chars": len(text)}


def _existing(owner: Owner, step: StepRecord) -> AgentStep | None:
    return AgentStep.objects.filter(
        run_id=owner.run_id, node_id=owner.node_id, loop=owner.loop, seq=step.seq, kind=step.kind
    ).first()


def _holds(owner: Owner) -> bool:
    return NodeRun.objects.filter(
        run_id=owner.run_id, node_id=owner.node_id, attempt=owner.attempt, status=NodeStatus.RUNNING
    ).exists()
