"""What the slow chaos runs waited on: each run's longest wait, from its own events, set against the faults.

A run's time from trigger to end is the wait for the API to accept it (a 503 while a service
was down, and the client's Retry-After) followed by the gaps between its RunEvents. The
longest of these is what made the run slow; it is named by the events around it (a
`node.crashed` says how the crash was seen: `worker_died` by a lease holder's death,
`lease_expired` by the lease running out; a `node.running` after `node.queued` is the wait for
a worker to take the node's message) and set against what happened meanwhile: the schedule's
faults, and workers that were starting (from their supervisor's start to Celery's "ready.").
"""

import itertools
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bench.chaos.faults import Fault
from bench.chaos.stack import Process

# The slowest runs listed one by one; the rest are counted by cause.
LISTED = 15
READY = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) .* ready\.\s*$", re.MULTILINE)
# A fault is counted as behind a wait if it happened this long before the wait began, or during it.
BEFORE_S = 2.0


@dataclass
class Event:
    at: float
    type: str
    node_id: str
    payload: dict[str, Any]


@dataclass
class Wait:
    began: float
    ended: float
    cause: str
    detail: str = ""

    @property
    def seconds(self) -> float:
        return self.ended - self.began


@dataclass
class Slow:
    run_id: int
    ticket: str
    latency: float
    longest: Wait
    during: list[str] = field(default_factory=list)


def starting_windows(workers: list[Process]) -> list[tuple[str, float, float]]:
    """(worker, started, ended) for every start of every worker: ended when Celery logged "ready." (local time),
    or when it was started again (killed before it was ready)."""
    windows = []
    for worker in workers:
        logged = READY.findall(worker.log_tail(10**8))
        readies = [datetime.strptime(t, "%Y-%m-%d %H:%M:%S,%f").timestamp() for t in logged]
        starts = worker.started_at
        for started, restarted in zip(starts, [*starts[1:], float("inf")], strict=True):
            ready = next((r for r in readies if r >= started), float("inf"))
            windows.append((f"{worker.name}{'' if ready < restarted else ' (killed)'}", started, min(ready, restarted)))
    return windows


def events_of(run_ids: list[int]) -> dict[int, list[Event]]:
    from engine.models import RunEvent

    found: dict[int, list[Event]] = defaultdict(list)
    rows = RunEvent.objects.filter(run_id__in=run_ids).order_by("run_id", "seq")
    for run_id, kind, node_id, payload, at in rows.values_list("run_id", "type", "node_id", "payload", "created_at"):
        found[run_id].append(Event(at.timestamp(), kind, node_id, payload or {}))
    return found


def name_wait(before: Event, after: Event) -> Wait:
    """The gap between two consecutive events of a run, named by what ended it."""
    node = after.node_id or before.node_id
    if after.type == "node.crashed":
        reason = after.payload.get("reason", "")
        cause = "holder detection (worker_died)" if reason == "worker_died" else f"lease expiry ({reason})"
        return Wait(before.at, after.at, cause, f"{node} crashed after {before.type}")
    if after.type == "node.running":
        return Wait(before.at, after.at, "waiting for a worker to take the node", f"{node} after {before.type}")
    if after.type in ("node.succeeded", "node.failed") and before.type == "node.running":
        return Wait(before.at, after.at, "node running (its work and recording it)", f"{node}")
    return Wait(before.at, after.at, f"{before.type} → {after.type}", node)


def longest_wait(trigger_at: float, accepted_at: float, attempts: int, events: list[Event]) -> Wait:
    waits = []
    if events and attempts > 1:
        waits.append(Wait(trigger_at, accepted_at, f"trigger refused ({attempts - 1} answers before the 202)"))
    if events:
        waits.append(Wait(trigger_at if attempts <= 1 else accepted_at, events[0].at, "trigger → run.queued"))
    waits += [name_wait(a, b) for a, b in itertools.pairwise(events)]
    return max(waits, key=lambda wait: wait.seconds)


def during(wait: Wait, faults: list[Fault], windows: list[tuple[str, float, float]]) -> list[str]:
    """The faults and worker starts that overlap the wait (a fault up to BEFORE_S before it began counts)."""
    seen = [
        f"{fault.what} at {fault.at - wait.began:+.1f} s"
        for fault in faults
        if wait.began - BEFORE_S <= fault.at + fault.down_s and fault.at <= wait.ended
    ]
    seen += [
        f"{name} starting ({started - wait.began:+.1f} s to {ready - wait.began:+.1f} s)"
        for name, started, ready in windows
        if started <= wait.ended and ready >= wait.began
    ]
    return seen


def slow_runs(phase: Any, threshold: float, faults: list[Fault], workers: list[Process]) -> list[Slow]:
    """The phase's runs that took longer than `threshold`, slowest first, each with its longest wait."""
    ended = [(trigger, row) for trigger, row in phase.ended() if row.finished_at - trigger.at > threshold]
    events = events_of([row.id for _, row in ended])
    windows = starting_windows(workers)
    found = []
    for trigger, row in ended:
        wait = longest_wait(trigger.at, trigger.accepted_at or trigger.at, trigger.attempts, events[row.id])
        found.append(Slow(row.id, trigger.ticket, row.finished_at - trigger.at, wait, during(wait, faults, windows)))
    return sorted(found, key=lambda slow: -slow.latency)


def lines(slow: list[Slow], threshold: float, total: int) -> list[str]:
    out = [f"Slow chaos runs (over {threshold:.2f} s, 3x the fault-free p95): {len(slow)} of {total}"]
    causes = Counter(s.longest.cause for s in slow)
    out += [f"  {n:4d}  longest wait: {cause}" for cause, n in causes.most_common()]
    for s in slow[:LISTED]:
        wait = s.longest
        out.append(
            f"  run {s.run_id} ({s.ticket}) {s.latency:6.2f} s: {wait.seconds:5.2f} s {wait.cause}"
            + (f" [{wait.detail}]" if wait.detail else "")
            + (f"; meanwhile: {'; '.join(s.during)}" if s.during else "")
        )
    return out
