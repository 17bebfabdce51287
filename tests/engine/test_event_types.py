"""The event vocabulary: every event is classified, and the frontend's generated copy is current."""

from engine.event_types import NODE_STATUS_AFTER, RUN_STATUS_AFTER, EventType, node_event, run_event, typescript
from engine.management.commands.write_event_types import TARGET
from engine.models import NodeStatus, RunStatus

# Events that record a fact without moving a status: a waiting node woken (it runs next), a
# run escalated to a person (it carries on), a budget threshold crossed.
MOVES_NO_STATUS = {
    EventType.NODE_RESUMED,
    EventType.RUN_ESCALATED,
    EventType.BUDGET_ALERT,
    # A parent run's record of its child runs: the children have statuses of their own.
    EventType.CHILDREN_OPENED,
    EventType.CHILD_STARTED,
    EventType.CHILD_ENDED,
    # An agent node's step: the node stays running (docs/agents.md).
    EventType.AGENT_STEP,
}


def test_it_keeps_the_committed_frontend_copy_current() -> None:
    assert TARGET.read_text() == typescript(), "stale: run `make frontend-test` or `python manage.py write_event_types`"


def test_it_says_what_each_event_does_to_a_status() -> None:
    # A new event type must be put in a status map (and so reach the frontend's) or be named here.
    unclassified = set(EventType) - NODE_STATUS_AFTER.keys() - RUN_STATUS_AFTER.keys() - MOVES_NO_STATUS
    assert not unclassified
    assert not NODE_STATUS_AFTER.keys() & RUN_STATUS_AFTER.keys()
    assert all(event.startswith("node.") for event in NODE_STATUS_AFTER)
    assert all(event.startswith("run.") for event in RUN_STATUS_AFTER)


def test_it_has_an_event_for_every_status() -> None:
    assert set(NODE_STATUS_AFTER.values()) == set(NodeStatus)
    assert set(RUN_STATUS_AFTER.values()) == set(RunStatus)


def test_it_names_the_event_that_moves_to_a_status() -> None:
    assert node_event(NodeStatus.FAILED) == "node.failed"
    assert node_event(NodeStatus.SKIPPED) == "node.skipped"
    # run.retried also leads to running; the event of a run starting is run.running.
    assert run_event(RunStatus.RUNNING) == "run.running"
    assert run_event(RunStatus.CANCELLED) == "run.cancelled"


def test_it_writes_the_maps_for_the_frontend() -> None:
    generated = typescript()
    assert '  "node.queued": "pending",\n' in generated
    assert '  "run.retried": "running",\n' in generated
    assert '  APPROVAL_DECIDED: "approval.decided",\n' in generated
    assert 'export const ENDED_RUN_STATUSES: readonly RunStatus[] = ["succeeded", "failed", "cancelled"];' in generated
