"""Every kind of run event and live message, named once.

RunEvent.type holds an EventType; the messages on the websockets carry a LiveMessage type.
The frontend's copy (frontend/src/lib/eventTypes.generated.ts) is `typescript()`, written by
`python manage.py write_event_types` before every frontend build, so a new kind cannot be
forgotten there.
"""

import json
from collections.abc import Iterable, Mapping
from enum import StrEnum

from engine.models import ENDED_RUN, NodeStatus, RunStatus


class EventType(StrEnum):
    """The `type` of a RunEvent."""

    RUN_QUEUED = "run.queued"
    RUN_RUNNING = "run.running"
    RUN_WAITING = "run.waiting"
    RUN_SUCCEEDED = "run.succeeded"
    RUN_FAILED = "run.failed"
    RUN_CANCELLED = "run.cancelled"
    RUN_RETRIED = "run.retried"
    RUN_ESCALATED = "run.escalated"
    NODE_QUEUED = "node.queued"
    NODE_RUNNING = "node.running"
    NODE_SUCCEEDED = "node.succeeded"
    NODE_FAILED = "node.failed"
    NODE_CRASHED = "node.crashed"
    NODE_SKIPPED = "node.skipped"
    NODE_WAITING = "node.waiting"
    NODE_CANCELLED = "node.cancelled"
    NODE_RESUMED = "node.resumed"
    # On the parent run: a subworkflow or for_each node opened a round of child runs, started one, saw one end.
    CHILDREN_OPENED = "children.opened"
    CHILD_STARTED = "child.started"
    CHILD_ENDED = "child.ended"
    BUDGET_ALERT = "budget.alert"
    # An agent node recorded a step of its loop: a model turn, a tool call, an approval (docs/agents.md).
    AGENT_STEP = "agent.step"


class LiveMessage(StrEnum):
    """The `type` of a message sent to a run's or a workspace's sockets."""

    RUN_HINT = "run.hint"
    RUN_UPDATED = "run.updated"
    APPROVAL_CREATED = "approval.created"
    APPROVAL_DECIDED = "approval.decided"
    APPROVAL_CLAIMED = "approval.claimed"
    KNOWLEDGE_DOCUMENT = "knowledge.document"
    BUDGET_ALERT = "budget.alert"
    # Text a model has written so far in a running node: short-lived, never stored (engine/live.py).
    TEXT_DELTA = "text.delta"


# The status a node or run is in after each event (node.queued: ready again, so pending).
NODE_STATUS_AFTER: dict[EventType, NodeStatus] = {
    EventType.NODE_QUEUED: NodeStatus.PENDING,
    EventType.NODE_RUNNING: NodeStatus.RUNNING,
    EventType.NODE_SUCCEEDED: NodeStatus.SUCCEEDED,
    EventType.NODE_FAILED: NodeStatus.FAILED,
    EventType.NODE_CRASHED: NodeStatus.CRASHED,
    EventType.NODE_SKIPPED: NodeStatus.SKIPPED,
    EventType.NODE_WAITING: NodeStatus.WAITING,
    EventType.NODE_CANCELLED: NodeStatus.CANCELLED,
}
RUN_STATUS_AFTER: dict[EventType, RunStatus] = {
    EventType.RUN_QUEUED: RunStatus.QUEUED,
    EventType.RUN_RUNNING: RunStatus.RUNNING,
    EventType.RUN_WAITING: RunStatus.WAITING,
    EventType.RUN_SUCCEEDED: RunStatus.SUCCEEDED,
    EventType.RUN_FAILED: RunStatus.FAILED,
    EventType.RUN_CANCELLED: RunStatus.CANCELLED,
    EventType.RUN_RETRIED: RunStatus.RUNNING,
}


def node_event(status: str) -> EventType:
    """The event that moves a node to `status`."""
    return next(
        event for event, after in NODE_STATUS_AFTER.items() if after == status and event != EventType.NODE_QUEUED
    )


def run_event(status: str) -> EventType:
    """The event that moves a run to `status`."""
    return next(
        event for event, after in RUN_STATUS_AFTER.items() if after == status and event != EventType.RUN_RETRIED
    )


def typescript() -> str:
    """This module in TypeScript: the enumerations as `as const` objects, the statuses, the status maps."""
    ended = _ts_list(status for status in RunStatus if status in ENDED_RUN)
    return "\n".join(
        [
            "// Generated from engine/event_types.py by `python manage.py write_event_types`: do not edit.",
            "// make regenerates it before building or testing the frontend; tests/engine/test_event_types.py",
            "// fails when this committed copy is stale.",
            "",
            *_ts_enum(EventType),
            "",
            *_ts_enum(LiveMessage),
            "",
            *_ts_union("NodeStatus", "NODE_STATUSES", NodeStatus),
            "",
            *_ts_union("RunStatus", "RUN_STATUSES", RunStatus),
            "",
            "/** Run statuses nothing moves on from. */",
            f"export const ENDED_RUN_STATUSES: readonly RunStatus[] = {ended};",
            "",
            "/** The status a node is in after each event (node.queued: ready again, so pending). */",
            *_ts_map("NODE_STATUS_AFTER", "NodeStatus", NODE_STATUS_AFTER),
            "",
            "/** The status a run is in after each event. */",
            *_ts_map("RUN_STATUS_AFTER", "RunStatus", RUN_STATUS_AFTER),
            "",
        ]
    )


def _ts_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(json.dumps(str(value)) for value in values) + "]"


def _ts_enum(enum: type[StrEnum]) -> list[str]:
    name = enum.__name__
    return [
        f"/** {enum.__doc__} */",
        f"export const {name} = {{",
        *(f"  {member.name}: {json.dumps(member.value)}," for member in enum),
        "} as const;",
        f"export type {name} = (typeof {name})[keyof typeof {name}];",
    ]


def _ts_union(type_name: str, list_name: str, choices: Iterable[str]) -> list[str]:
    values = [str(choice) for choice in choices]
    return [
        f"export type {type_name} = {' | '.join(json.dumps(value) for value in values)};",
        f"export const {list_name}: readonly {type_name}[] = {_ts_list(values)};",
    ]


def _ts_map(name: str, value_type: str, mapping: Mapping[EventType, str]) -> list[str]:
    return [
        f"export const {name}: Readonly<Partial<Record<EventType, {value_type}>>> = {{",
        *(f"  {json.dumps(str(event))}: {json.dumps(str(after))}," for event, after in mapping.items()),
        "};",
    ]
