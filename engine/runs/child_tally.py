"""Counting ended child runs in their parent's round: the tally, and what the round does next.

A child run starts uncounted (Run.counted false). On PostgreSQL its end takes no lock of
its parent: once it commits, a tally under the parent's lock counts every ended child not yet
counted, starts as many next items and closes the round when it is over. Tallies of one
parent do not queue: a tally that finds another one running leaves its child to it, since
the running one looks again after its commit (`tally`), so under load one parent commit
counts many items. A child whose worker died between its commit and its tally is counted by
the reaper (`count_lost`). On SQLite (the embedded mode, one writer at a time) the child is
counted in its own ending transaction.
"""

import functools
import time
from collections import Counter
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from engine.event_types import EventType
from engine.events import Change, change
from engine.flow import run_graph
from engine.models import ENDED_RUN, ChildRoundState, NodeRun, NodeStatus, Run, RunStatus
from engine.runs.children import (
    AGENT,
    CHILD_KINDS,
    ROUND_COUNTERS,
    RoundRow,
    abandon_children,
    cancel_after_commit,
    close_round,
    next_items,
    round_read,
    rounds_of,
    start_items,
)
from engine.sql.script import Statement, run_script

BUDGETS_SEEN_S = 2.0
# Trees found without per-run budgets, by their top run, with when that was seen (time.monotonic()).
_trees_without_budgets: dict[int, float] = {}
# Namespaces the advisory lock a tally holds on its parent run (a text hashed to a bigint key).
TALLY_LOCK = "switchyard child tally "


@dataclass(frozen=True)
class _Ended:
    """A child run that ended, as its parent's round counts it."""

    node_id: str
    number: int
    index: int
    child_id: int
    status: str
    cost: Decimal
    error: str

    @property
    def outcome(self) -> str:
        return {str(RunStatus.SUCCEEDED): "succeeded", str(RunStatus.FAILED): "failed"}.get(self.status, "cancelled")


def run_ended(step: Change) -> None:
    """This change ends its run: cancel the run's own children, and have its parent count it if it is a child.

    Called by engine.events.change before the change is saved, in its transaction.
    """
    if any(node.type in CHILD_KINDS or node.type == AGENT for node in run_graph(step.run.pk).nodes):
        abandon_children(step)
    if step.run.parent_run_id is None:
        return  # a top-level run: nothing counts it (the run lock read its parent)
    found = (
        Run.objects.filter(pk=step.run.pk)
        .values_list("parent_run_id", "parent_node_id", "parent_attempt", "item_index", "cost", "output")
        .first()
    )
    if found is None or found[0] is None:
        return
    parent_id, node_id, number, index, cost, output = found
    if number is None or index is None:
        return  # not a child of a round (a parent is set only with both)
    if step.run.status == RunStatus.SUCCEEDED and output is None and "output" not in step.run_fields:
        step.set_run(output=_leaf_output(step.run.pk))
    if connection.vendor == "postgresql":
        # Robust: a tally that fails after this commit is the reaper's (count_lost), not the ender's error.
        transaction.on_commit(functools.partial(tally, parent_id), robust=True)
        return
    error = step.run.error if "error" in step.run_fields else ""
    step.set_run(counted=True)
    with change(parent_id, locked_reads=[round_read(parent_id, node_id, number)]) as parent:
        _count(
            parent,
            next(iter(rounds_of(parent.reads[0])), None),
            [_Ended(node_id, number, index, step.run.pk, step.run.status, cost, error)],
        )


def _leaf_output(run_id: int) -> Any:
    """A child run's output when no reply node set one: its last node's output (several last nodes: by id)."""
    graph = run_graph(run_id)
    leaves = [node.id for node in graph.nodes if not graph.outgoing(node.id)]
    outputs = dict(
        NodeRun.objects.filter(run_id=run_id, node_id__in=leaves, status=NodeStatus.SUCCEEDED).values_list(
            "node_id", "output"
        )
    )
    if len(leaves) == 1:
        return outputs.get(leaves[0])
    return outputs


def tally(parent_id: int) -> None:
    """Count the parent's ended, uncounted children (PostgreSQL), as long as more are found after each commit.

    A tally that finds another one holding the parent's tally lock returns at once: that one
    looks again once it has committed, and sees every child that committed before (the
    child's commit came before its failed try, which came before the holder's release).
    """
    while _tally_once(parent_id) and _uncounted(parent_id).exists():
        pass


def _uncounted(parent_id: int) -> Any:
    return Run.objects.filter(parent_run_id=parent_id, counted=False, status__in=ENDED_RUN)


def _tally_once(parent_id: int) -> bool:
    """One transaction counting what has ended so far; False if another tally holds the lock."""
    with transaction.atomic():
        lock = "SELECT pg_try_advisory_xact_lock(hashtextextended(%(key)s, 0))"
        if not run_script([(lock, {"key": f"{TALLY_LOCK}{parent_id}"})])[0].rows[0][0]:
            return False
        # The parent's rounds are read with the marking: a run has few (one per call node and retry).
        with change(parent_id, locked_reads=[_marked(parent_id), round_read(parent_id)]) as step:
            ended = sorted((_Ended(*row) for row in step.reads[0].rows), key=lambda e: (e.node_id, e.number, e.index))
            rounds = {(info.node_id, info.number): info for info in rounds_of(step.reads[1])}
            by_round: dict[tuple[str, int], list[_Ended]] = {}
            for item in ended:
                by_round.setdefault((item.node_id, item.number), []).append(item)
            for key, items in by_round.items():
                _count(step, rounds.get(key), items)
    return True


def _marked(parent_id: int) -> Statement:
    """Mark the parent's ended, uncounted children counted, returning them as _Ended fields."""
    sql = (
        "UPDATE engine_run SET counted = true "
        "WHERE parent_run_id = %(parent)s AND NOT counted AND status = ANY(%(ended)s) "
        "RETURNING parent_node_id, parent_attempt, item_index, id, status, cost, error"
    )
    return sql, {"parent": parent_id, "ended": [str(status) for status in ENDED_RUN]}


def _count(step: Change, info: RoundRow | None, ended: list[_Ended]) -> None:
    """Under the parent's lock: count the ended children in their round, start as many next items or close it."""
    if info is None:
        return
    parent_id, node_id, number = step.run.pk, info.node_id, info.number
    outcomes = Counter(item.outcome for item in ended)
    cost = sum((item.cost for item in ended), Decimal(0))
    if cost:
        step.defer(("UPDATE engine_run SET cost = cost + %(cost)s WHERE id = %(id)s", {"cost": cost, "id": parent_id}))
    if step.run.status in ENDED_RUN or info.state != ChildRoundState.OPEN:
        step.defer(_counted(info.pk, outcomes, started=0))
        return
    for item in ended:
        step.event(EventType.CHILD_ENDED, node_id, index=item.index, run_id=item.child_id, status=item.status)
    failed = next((item for item in ended if item.status != RunStatus.SUCCEEDED), None)
    counters: dict[str, Any] = {"running": F("running") - len(ended)}
    counters |= {outcome: F(outcome) + count for outcome, count in outcomes.items()}
    if failed is not None and info.stop_on_failure:
        failure = {"code": "item_failed", "message": failed.error or f"the item's run was {failed.status}"}
        close_round(step, info, counters, {**failure, "index": failed.index, "run_id": failed.child_id})
        cancel_after_commit(_unfinished(parent_id, node_id, number))
        return
    budget = _tree_budget_spent(step.run.workspace_id, info.root_run_id) if info.to_start else None
    following = next_items(info, min(len(ended), info.to_start)) if budget is None and info.to_start else []
    if following:
        start_items(step, info, following)
        step.defer(_counted(info.pk, outcomes, started=len(following)))
    elif info.counts["running"] - len(ended) == 0:
        close_round(step, info, counters, None if budget is None else {"code": "budget_exceeded", "message": budget})
    else:
        step.defer(_counted(info.pk, outcomes, started=0))


def _counted(round_pk: int, outcomes: Counter[str], started: int) -> Statement:
    """Count ended items (and started ones), sent with the parent's events: nothing reads it before."""
    assert set(outcomes) <= set(ROUND_COUNTERS)
    counters = "".join(f"{name} = {name} + %({name})s, " for name in outcomes)
    sql = (
        f"UPDATE engine_childround SET {counters}"  # noqa: S608  (names from ROUND_COUNTERS)
        "running = running - %(ended)s + %(started)s, started = started + %(started)s WHERE id = %(id)s"
    )
    return sql, {**outcomes, "ended": sum(outcomes.values()), "started": started, "id": round_pk}


def _tree_budget_spent(workspace_id: int, root_run_id: int) -> str | None:
    """The message of a per-run budget the tree under `root_run_id` has spent, or None while there is room.

    Whether the tree has per-run budgets at all is looked up at most every BUDGETS_SEEN_S per
    process, so a loop with none pays nothing per item; a budget added meanwhile applies soon after.
    """
    from engine import budgets

    now = time.monotonic()
    seen = _trees_without_budgets.get(root_run_id)
    if seen is not None and now - seen < BUDGETS_SEEN_S:
        return None
    spent = budgets.tree_spent(workspace_id, root_run_id)
    if spent is None and not budgets.tree_budgeted(workspace_id, root_run_id):
        if len(_trees_without_budgets) > 1000:
            _trees_without_budgets.clear()
        _trees_without_budgets[root_run_id] = now
    return spent


def _unfinished(parent_id: int, node_id: str, number: int) -> list[int]:
    rows = Run.objects.filter(parent_run_id=parent_id, parent_node_id=node_id, parent_attempt=number)
    return list(rows.exclude(status__in=ENDED_RUN).values_list("pk", flat=True))


def count_lost(limit: int) -> int:
    """Tally the parents of children that ended a while ago and are still uncounted (their tally was lost)."""
    if connection.vendor != "postgresql":
        return 0  # on SQLite a child is counted in its own ending transaction: none is ever owed
    stale = timezone.now() - timedelta(seconds=settings.ENGINE_REDISPATCH_AFTER_S)
    lost = Run.objects.filter(counted=False, status__in=ENDED_RUN).filter(
        Q(finished_at__lt=stale) | Q(finished_at__isnull=True)
    )
    parents = list(lost.values_list("parent_run_id", flat=True).distinct()[:limit])
    for parent_id in parents:
        tally(parent_id)
    return len(parents)
