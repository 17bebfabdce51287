"""New runs stored as one script (engine.sql.new_runs): each run gets its own nodes and events, ids set."""

import pytest
from django.db import IntegrityError

from engine.event_types import EventType
from engine.models import NodeRun, Run, RunEvent
from engine.sql import new_runs


def new_run(workspace, name: str, node_ids: list[str], key: str = "") -> new_runs.NewRun:
    run = Run(workspace=workspace, workflow_name=name, graph={"nodes": []}, input={"name": name}, idempotency_key=key)
    run.last_seq = 1
    nodes = [NodeRun(node_id=node_id, node_type="transform") for node_id in node_ids]
    return new_runs.NewRun(run, nodes, [RunEvent(seq=1, type=EventType.RUN_QUEUED, payload={"of": name})])


def test_it_stores_runs_one_after_another_each_with_its_own_nodes_and_events(workspace):
    first, second = new_run(workspace, "first", ["a", "b"]), new_run(workspace, "second", ["c"])

    new_runs.insert([first, second])

    stored = {run.workflow_name: run for run in Run.objects.filter(workspace=workspace)}
    assert (first.run.pk, second.run.pk) == (stored["first"].pk, stored["second"].pk)
    assert sorted(NodeRun.objects.filter(run=first.run).values_list("pk", "node_id")) == sorted(
        (node.pk, node.node_id) for node in first.nodes
    )
    assert list(NodeRun.objects.filter(run=second.run).values_list("node_id", flat=True)) == ["c"]
    assert list(RunEvent.objects.filter(run=second.run).values_list("seq", "payload")) == [(1, {"of": "second"})]
    assert stored["second"].input == {"name": "second"}
    assert stored["first"].created_at is not None


def test_it_stores_nothing_when_a_row_clashes(workspace):
    # Two nodes with one node id break one_node_run_per_node: the run before them goes too.
    clashing = new_run(workspace, "clash", ["a", "a"])

    with pytest.raises(IntegrityError):
        new_runs.insert([new_run(workspace, "fine", ["a"]), clashing])

    assert not Run.objects.filter(workspace=workspace).exists()


def test_it_stores_none_as_sql_null_as_the_orm_does(workspace):
    new = new_run(workspace, "nulls", ["a"])
    new_runs.insert([new])
    by_orm = Run.objects.create(workspace=workspace, workflow_name="orm", graph={"nodes": []}, input={})

    def nulls(run_id: int) -> tuple[object, ...]:
        # JSON null would read back as None too: ask the database which it is.
        return tuple(Run.objects.filter(pk=run_id, output__isnull=True, called_graph__isnull=True).values_list("pk"))

    assert nulls(new.run.pk) == ((new.run.pk,),)
    assert nulls(by_orm.pk) == ((by_orm.pk,),)
    assert NodeRun.objects.filter(pk=new.nodes[0].pk, input__isnull=True, output__isnull=True).exists()


def test_each_row_keeps_its_own_values_where_rows_share_most_of_them(workspace):
    # A column prepares each distinct value once: equal values of different types (True and 1, 0 and
    # False), equal values in other columns and one row's different value must each land where they were.
    new = new_run(workspace, "shared", ["a", "b", "c", "d"])
    a, b, c, d = new.nodes
    a.max_attempts, b.max_attempts, c.max_attempts, d.max_attempts = 1, 3, 1, 2
    a.cache_hit, b.cache_hit = True, False
    b.attempt, c.crashes = 1, 1
    b.handle, c.handle = "out", "1"
    c.input, d.input = {"same": 1}, {"same": 1}

    new_runs.insert([new])

    stored = NodeRun.objects.filter(run=new.run).order_by("node_id")
    assert list(stored.values_list("node_id", "max_attempts", "cache_hit", "attempt", "crashes", "handle")) == [
        ("a", 1, True, 0, 0, ""),
        ("b", 3, False, 1, 0, "out"),
        ("c", 1, False, 0, 1, "1"),
        ("d", 2, False, 0, 0, ""),
    ]
    assert list(stored.values_list("input", flat=True)) == [None, None, {"same": 1}, {"same": 1}]
