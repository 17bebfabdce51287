"""Run events: numbered per run, written in the same transaction as the change they describe."""

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from engine import live, statements, webhooks
from engine.models import ENDED_RUN, Run, RunEvent


@dataclass
class Change:
    """One transaction on one run: the run row is locked, events and dispatches are collected."""

    run: Run
    now: datetime
    events: list[RunEvent] = field(default_factory=list)
    run_fields: set[str] = field(default_factory=set)
    ready: list[int] = field(default_factory=list)
    # The node id of each node this change made ready (flow.advance), by its NodeRun pk.
    queued: dict[int, str] = field(default_factory=dict)
    later: list[tuple[int, datetime]] = field(default_factory=list)
    # Set when a read under this lock saw a node of the run running or scheduled: the run is busy.
    busy: bool = False

    def event(self, type: str, node_id: str = "", **payload: Any) -> None:
        self.run.last_seq += 1
        self.events.append(RunEvent(run=self.run, seq=self.run.last_seq, type=type, node_id=node_id, payload=payload))

    def set_run(self, **values: Any) -> None:
        for name, value in values.items():
            setattr(self.run, name, value)
        self.run_fields.update(values)


@contextmanager
def change(run_id: int | None = None, *, node_run_id: int | None = None) -> Iterator[Change]:
    """Lock the run row first, so concurrent transitions of one run see each other's commits.

    Two branches finishing at once both need to know whether the join after them is ready;
    with the lock taken before anything is read, the second one sees the first's result.
    The run is named by its id or by one of its nodes' (Run.DoesNotExist if there is none).
    Only statements.LOCKED_FIELDS are read; other run fields are only written (set_run).
    """
    from engine.dispatch import dispatch_after_commit, send_notices

    with transaction.atomic():
        run = statements.lock_run(run_id, node_run_id)
        step = Change(run=run, now=timezone.now())
        yield step
        if step.events:
            step.run_fields.add("last_seq")
        if step.run_fields:
            statements.save(run, step.run_fields, step.events, timezone.now())
        dispatch_after_commit(step.ready, step.later)
        if "status" in step.run_fields and run.status in ENDED_RUN:
            notices = webhooks.queue(run, step.now)
            if notices:
                transaction.on_commit(lambda: send_notices(notices))
        if step.events:
            moved = run.status if "status" in step.run_fields else None
            committed = list(step.events)
            transaction.on_commit(lambda: live.publish(run.pk, run.workspace_id, committed, moved))
