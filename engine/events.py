"""One change to a run as one transaction: the run lock, the run's events (numbered per run and written with
the change they describe), the nodes to dispatch and the viewers to prompt once it commits."""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from engine import live, metrics, webhooks
from engine.event_types import EventType
from engine.models import ENDED_RUN, Run, RunEvent
from engine.sql import run_lock
from engine.sql.script import Outcome, Statement, run_script


@dataclass
class Deferred:
    """A write whose outcome nobody needs before the transaction's end; `outcome` is set once it ran."""

    statement: Statement
    outcome: Outcome | None = None


@dataclass
class Change:
    """One transaction on one run: the run row is locked, events and dispatches are collected."""

    run: Run
    now: datetime
    events: list[RunEvent] = field(default_factory=list)
    run_fields: set[str] = field(default_factory=set)
    ready: list[int] = field(default_factory=list)
    # The node id and attempt of each node this change made ready (flow.advance), by its NodeRun pk.
    queued: dict[int, tuple[str, int]] = field(default_factory=dict)
    later: list[tuple[int, datetime]] = field(default_factory=list)
    # Set when a read under this lock saw a node of the run running or scheduled: the run is busy.
    busy: bool = False
    # What the statements sent with the lock gave (change's `locked_reads`), in their order.
    reads: list[Outcome] = field(default_factory=list)
    # Writes sent with the events and the COMMIT, unless a read needs them done first (flush).
    deferred: list[Deferred] = field(default_factory=list)
    # The deferred write that made nodes ready (progress), with their NodeRun pks (see `unmark`).
    marked: tuple[Deferred, tuple[int, ...]] | None = None

    def defer(self, statement: Statement) -> Deferred:
        """Send `statement` with the transaction's last script; its outcome is there after the change."""
        write = Deferred(statement)
        self.deferred.append(write)
        return write

    def mark_ready(self, pks: Sequence[int], statement: Statement) -> None:
        """Defer `statement`, the write that makes the nodes `pks` ready."""
        self.marked = (self.defer(statement), tuple(pks))

    def unmark(self, pk: int) -> bool:
        """Drop the deferred write that makes only node `pk` ready, if it was not sent yet: whoever claims the node
        in this change writes what it set in the claim's own update (one update of the row, not two)."""
        if self.marked is None:
            return False
        write, pks = self.marked
        left = [deferred for deferred in self.deferred if deferred is not write]
        if pks != (pk,) or len(left) == len(self.deferred):
            return False
        self.deferred, self.marked = left, None
        return True

    def flush(self, reads: Sequence[Statement] = ()) -> list[Outcome]:
        """Run the deferred writes now: a read that follows must see them. `reads` go with them, in the
        same round trip, after them; their outcomes are returned."""
        writes, self.deferred = self.deferred, []
        done = run_script([*(w.statement for w in writes), *reads])
        for write, outcome in zip(writes, done, strict=False):
            write.outcome = outcome
        return done[len(writes) :]

    def event(self, type: EventType, node_id: str = "", **payload: Any) -> None:
        self.run.last_seq += 1
        # By the run's id: setting the run itself goes through the relation's descriptor, for an event nobody
        # reads the run of (it is saved by run_lock.save and sent by live.publish).
        event = RunEvent(run_id=self.run.pk, seq=self.run.last_seq, type=type, node_id=node_id, payload=payload)
        self.events.append(event)

    def set_run(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self.run, name, value)
        self.run_fields.update(values)


def announce(run_id: int, workspace_id: int, events: list[RunEvent], at: datetime, status: str | None) -> None:
    """Stamp events a script wrote (its run, its time) and prompt the run's viewers once they are committed."""
    for event in events:
        event.run_id, event.created_at = run_id, at
    transaction.on_commit(lambda: live.publish(run_id, workspace_id, events, status))


@contextmanager
def change(
    run_id: int | None = None,
    *,
    node_run_id: int | None = None,
    locked_reads: Sequence[Statement] = (),
    now: datetime | None = None,
) -> Iterator[Change]:
    """Lock the run row first, so concurrent transitions of one run see each other's commits.

    Two branches finishing at once both need to know whether the join after them is ready;
    with the lock taken before anything is read, the second one sees the first's result.
    The run is named by its id or by one of its nodes' (Run.DoesNotExist if there is none).
    Only run_lock.LOCKED_FIELDS are read; other run fields are only written (set_run).

    `locked_reads` are sent with the lock and run right after it (step.reads has what they
    gave), and the deferred writes go with the events and, when this change is a transaction
    of its own, with the COMMIT: on PostgreSQL the lock is then held for one round trip of
    the client (engine.sql.script.run_script). `step.now` is `now` if given (the time the
    locked reads' writes used), else the time before the lock.
    """
    from engine.dispatch import dispatch_after_commit, send_notices

    commit = connection.vendor == "postgresql" and not connection.in_atomic_block
    now = now or timezone.now()
    with transaction.atomic():
        outcomes = run_script([run_lock.lock(run_id, node_run_id), *locked_reads])
        run = run_lock.locked_run(outcomes[0])
        step = Change(run=run, now=now, reads=outcomes[1:])
        yield step
        if step.events:
            step.run_fields.add("last_seq")
        if "status" in step.run_fields and run.status in ENDED_RUN:
            from engine.runs.child_tally import run_ended

            notices = webhooks.queue(run, step.now)
            if notices:
                transaction.on_commit(lambda: send_notices(notices))
            # In this transaction: the run's children are cancelled, its parent counts it and goes on.
            # Last, since counting in the parent locks the parent run until this transaction commits.
            run_ended(step)
        saved = run_lock.save(run, step.run_fields, step.events, timezone.now()) if step.run_fields else []
        writes = step.deferred
        done = run_script([*(w.statement for w in writes), *saved], commit=commit)
        for write, outcome in zip(writes, done, strict=False):
            write.outcome = outcome
        dispatch_after_commit(step.ready, step.later)
        if step.events:
            moved = run.status if "status" in step.run_fields else None
            committed = list(step.events)
            transaction.on_commit(lambda: live.publish(run.pk, run.workspace_id, committed, moved))
            transaction.on_commit(lambda: metrics.count_events(run.workflow_id, committed))
