"""Sub-workflows and for-each, in-process: child runs, their order and concurrency, failures, cancels, retries."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from builder.models import Workflow
from builder.versions import publish_version
from engine import reaper, runs
from engine.graph import GraphInvalid
from engine.models import BudgetScope, ChildRound, CostEntry, NodeRun, Run, RunEvent
from engine.runs import child_tally, children
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import node as node_run
from tests.engine.running import start, wait_for
from tests.factories import BudgetFactory, WorkflowFactory, WorkflowVersionFactory


def published(workspace, graph: dict[str, Any], name: str = "Child") -> Workflow:
    workflow = WorkflowFactory(workspace=workspace, name=name, draft=graph)
    WorkflowVersionFactory(workflow=workflow, graph=graph, number=1)
    return workflow


def upper(workspace) -> Workflow:
    """A child that answers {"upper": NAME} for {"name": name}."""
    schema = {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]}
    trigger = node("start", "trigger", input_schema=schema)
    return published(
        workspace, chain(trigger, node("shout", "transform", fields={"upper": "{{ input.name | upper }}"}))
    )


def divide(workspace) -> Workflow:
    """A child that answers {"q": 12 / d}; d = 0 fails it."""
    return published(workspace, chain(TRIGGER, node("div", "transform", fields={"q": "{{ 12 / input.d }}"})))


def in_flight(run: Run, node_id: str) -> int:
    """The most children of the node that ran at once, from the parent's child.started and child.ended events."""
    running = most = 0
    for type in RunEvent.objects.filter(run=run, node_id=node_id).order_by("seq").values_list("type", flat=True):
        running += {"child.started": 1, "child.ended": -1}.get(type, 0)
        most = max(most, running)
    return most


def test_a_subworkflow_outputs_its_child_runs_output(workspace):
    child = upper(workspace)
    data = chain(
        TRIGGER,
        node("call", "subworkflow", workflow_id=child.pk, input={"name": "{{ input.who }}"}),
        node("answer", "reply", answer="{{ nodes.call.upper }}"),
    )
    run = wait_for(start(workspace, data, {"who": "ada"}))
    assert run.status == "succeeded"
    assert run.output == {"answer": "ADA"}
    [kid] = Run.objects.filter(parent_run=run)
    assert (kid.status, kid.parent_node_id, kid.item_index, kid.depth, kid.root_run_id) == (
        "succeeded",
        "call",
        0,
        1,
        run.pk,
    )
    assert kid.output == {"upper": "ADA"}
    assert kid.trigger_kind == "parent"


def test_for_each_runs_its_items_3_at_a_time_and_keeps_their_order(workspace):
    # In-process, a child's tally starts the next one right after the child's commit, in the same call stack:
    # a few items keep that shallow.
    # 100 items on a real worker: tests/engine/test_for_each.py.
    child = upper(workspace)
    template = {"name": "{{ item }}-{{ index }}"}
    loop = node("each", "for_each", workflow_id=child.pk, items="input.names", input=template, max_concurrency=3)
    names = [f"n{i}" for i in range(12)]
    run = wait_for(start(workspace, chain(TRIGGER, loop), {"names": names}))
    assert run.status == "succeeded"
    output = node_run(run, "each").output
    assert output["results"] == [{"upper": f"N{i}-{i}"} for i in range(12)]
    assert output["counts"] == {"total": 12, "succeeded": 12, "failed": 0, "cancelled": 0}
    assert output["failures"] == []
    assert Run.objects.filter(parent_run=run).count() == 12
    assert 1 < in_flight(run, "each") <= 3


def test_a_child_starts_with_its_trigger_done_and_a_lone_trigger_still_runs(workspace):
    # The items started when the round opened and those started as others ended are made alike.
    loop = node("each", "for_each", workflow_id=upper(workspace).pk, items="input.names", max_concurrency=1)
    run = wait_for(start(workspace, chain(TRIGGER, loop), {"names": [{"name": "a"}, {"name": "b"}]}))
    assert run.status == "succeeded", run.error
    for kid in Run.objects.filter(parent_run=run):
        trigger = NodeRun.objects.get(run=kid, node_id="start")
        assert (trigger.status, trigger.attempt, trigger.output) == ("succeeded", 1, kid.input)
        kinds = list(RunEvent.objects.filter(run=kid).order_by("seq").values_list("type", "node_id"))
        assert kinds[:4] == [
            ("run.queued", ""),
            ("run.running", ""),
            ("node.succeeded", "start"),
            ("node.queued", "shout"),
        ]
        assert ("node.running", "start") not in kinds
    lone = published(workspace, {"schema_version": 1, "nodes": [TRIGGER], "edges": []}, name="Lone")
    loop = node("each", "for_each", workflow_id=lone.pk, items="input.items", max_concurrency=1)
    run = wait_for(start(workspace, chain(TRIGGER, loop), {"items": [{"x": 1}, {"x": 2}]}))
    assert node_run(run, "each").output["results"] == [{"x": 1}, {"x": 2}]
    lone_events = RunEvent.objects.filter(run__parent_run=run, node_id="start").values_list("type", flat=True)
    assert list(lone_events).count("node.running") == 2


def test_continue_collects_failures_and_stop_fails_with_the_first(workspace):
    child = divide(workspace)
    items = [{"d": 1}, {"d": 0}, {"d": 3}, {"d": 0}, {"d": 4}]
    going = node("each", "for_each", workflow_id=child.pk, items="input.items", on_item_failure="continue")
    run = wait_for(start(workspace, chain(TRIGGER, going), {"items": items}))
    assert run.status == "succeeded"
    output = node_run(run, "each").output
    assert output["results"] == [{"q": 12}, None, {"q": 4}, None, {"q": 3}]
    assert [f["index"] for f in output["failures"]] == [1, 3]
    assert "division by zero" in output["failures"][0]["error"]
    assert output["counts"] == {"total": 5, "succeeded": 3, "failed": 2, "cancelled": 0}

    stopping = node(
        "each", "for_each", workflow_id=child.pk, items="input.items", on_item_failure="stop", max_concurrency=1
    )
    run = wait_for(start(workspace, chain(TRIGGER, stopping), {"items": items}))
    assert run.status == "failed"
    each = node_run(run, "each")
    assert each.error["code"] == "item_failed"
    assert "item 1" in each.error["message"]
    assert "division by zero" in each.error["message"]
    # One at a time: the items after the failed one never started.
    assert sorted(Run.objects.filter(parent_run=run).values_list("item_index", flat=True)) == [0, 1]


def test_items_that_are_not_a_list_fail_the_node_and_create_nothing(workspace):
    child = upper(workspace)
    loop = node("each", "for_each", workflow_id=child.pk, items="input.names")
    run = wait_for(start(workspace, chain(TRIGGER, loop), {"names": "ada"}))
    assert run.status == "failed"
    error = node_run(run, "each").error
    assert error["code"] == "items_not_a_list"
    assert "must give a list" in error["message"]
    assert "str" in error["message"]
    assert not Run.objects.filter(parent_run=run).exists()
    assert not ChildRound.objects.filter(run=run).exists()


def test_an_item_input_that_does_not_match_the_called_schema_names_the_item(workspace):
    child = upper(workspace)
    loop = node("each", "for_each", workflow_id=child.pk, items="input.names", input={"name": "{{ item }}"})
    run = wait_for(start(workspace, chain(TRIGGER, loop), {"names": ["a", 2]}))
    assert run.status == "failed"
    error = node_run(run, "each").error
    assert error["code"] == "bad_child_input"
    assert error["message"].startswith("item 1: input.name")
    assert not Run.objects.filter(parent_run=run).exists()


def test_retry_from_failed_reruns_only_the_failed_items(workspace):
    child = divide(workspace)
    items = [{"d": 1}, {"d": 0}, {"d": 3}]
    loop = node("each", "for_each", workflow_id=child.pk, items="input.items", on_item_failure="continue")
    run = wait_for(start(workspace, chain(TRIGGER, loop), {"items": items}))
    assert run.status == "succeeded"
    first = {r.item_index: r.pk for r in Run.objects.filter(parent_run=run)}
    assert children.retry_failed_items(run, "each")
    run = wait_for(run)
    assert run.status == "succeeded"
    again = Run.objects.filter(parent_run=run, parent_attempt=2)
    assert list(again.values_list("item_index", flat=True)) == [1]
    output = node_run(run, "each").output
    assert [f["index"] for f in output["failures"]] == [1]
    assert output["failures"][0]["run_id"] != first[1]
    assert output["results"][0] == {"q": 12}
    assert output["results"][2] == {"q": 4}


def test_retry_of_a_stopped_loop_keeps_the_items_that_succeeded(workspace):
    child = divide(workspace)
    items = [{"d": 1}, {"d": 0}, {"d": 3}]
    loop = node("each", "for_each", workflow_id=child.pk, items="input.items", max_concurrency=1)
    run = wait_for(start(workspace, chain(TRIGGER, loop), {"items": items}))
    assert run.status == "failed"
    assert runs.retry_from_failed(run)
    run = wait_for(run)
    assert run.status == "failed"
    # Round 2 ran the failed item again and stopped there; item 0 was carried over, never rerun.
    assert list(Run.objects.filter(parent_run=run, item_index=0).values_list("parent_attempt", flat=True)) == [1]
    assert list(Run.objects.filter(parent_run=run, parent_attempt=2).values_list("item_index", flat=True)) == [1]


def test_cancelling_the_parent_cancels_its_children(workspace):
    child = published(workspace, chain(TRIGGER, node("wait", "delay", seconds=3600)))
    loop = node("each", "for_each", workflow_id=child.pk, items="input.items", max_concurrency=3)
    run = start(workspace, chain(TRIGGER, loop), {"items": [{"n": n} for n in range(5)]})
    run = wait_for(run, {"waiting"})
    kids = Run.objects.filter(parent_run=run)
    assert kids.count() == 3
    assert runs.cancel_run(run)
    assert set(kids.values_list("status", flat=True)) == {"cancelled"}
    assert set(NodeRun.objects.filter(run__parent_run=run, node_id="wait").values_list("status", flat=True)) == {
        "cancelled"
    }
    assert kids.count() == 3


def test_publishing_a_workflow_that_calls_itself_is_refused(workspace):
    first = published(workspace, chain(TRIGGER, node("noop", "transform", fields={})), name="First")
    second = published(workspace, chain(TRIGGER, node("call", "subworkflow", workflow_id=first.pk)), name="Second")
    first.draft = chain(TRIGGER, node("back", "subworkflow", workflow_id=second.pk))
    first.save()
    with pytest.raises(GraphInvalid) as refused:
        publish_version(first, "", None)
    [problem] = refused.value.problems
    assert (problem.path, problem.code) == ("nodes.1.params.workflow_id", "recursive_call")
    assert problem.message.startswith("'First' → 'Second' → 'First'")


def test_a_call_loop_that_was_published_anyway_is_refused_at_run_time(workspace):
    first = published(workspace, chain(TRIGGER, node("noop", "transform", fields={})), name="First")
    second = published(workspace, chain(TRIGGER, node("call", "subworkflow", workflow_id=first.pk)), name="Second")
    looping = chain(TRIGGER, node("back", "subworkflow", workflow_id=second.pk))
    WorkflowVersionFactory(workflow=first, graph=looping, number=2)
    run = wait_for(runs.start_run(runs.RunSource(workspace.pk, looping, first.pk, "First", None, 2), {}))
    assert run.status == "failed"
    [kid] = Run.objects.filter(parent_run=run)
    assert node_run(kid, "call").error["code"] == "recursive_call"
    assert "'First' → 'Second' would call 'First' again" in node_run(kid, "call").error["message"]
    assert not Run.objects.filter(parent_run=kid).exists()


def test_a_call_to_an_archived_or_unknown_workflow_is_refused_before_the_run(workspace):
    child = upper(workspace)
    child.archived_at = child.created_at
    child.save()
    data = chain(TRIGGER, node("call", "subworkflow", workflow_id=child.pk, input={"name": "x"}))
    with pytest.raises(runs.RunRejected) as refused:
        runs.start_run(runs.RunSource(workspace.pk, data), {})
    [problem] = refused.value.problems
    assert problem["path"] == "nodes.1.params.workflow_id"
    assert "is archived" in problem["message"]
    assert not Run.objects.exists()


def test_a_per_run_budget_on_the_parent_stops_new_items(workspace, provider, price):
    draft = node("draft", "generate", provider="fake", model="gpt-test", prompt="item {{ input.n }}", max_tokens=10)
    child = published(workspace, chain(TRIGGER, draft))
    parent = WorkflowFactory(workspace=workspace, name="Parent")
    BudgetFactory(
        workspace=workspace, name="Each run", scope=BudgetScope.RUN, workflow_id=parent.pk, limit=Decimal("0.01")
    )
    loop = node("each", "for_each", workflow_id=child.pk, items="input.items", max_concurrency=1)
    graph = chain(TRIGGER, loop)
    WorkflowVersionFactory(workflow=parent, graph=graph, number=1)
    source = runs.RunSource(workspace.pk, graph, parent.pk, "Parent", None, 1)
    run = wait_for(runs.start_run(source, {"items": [{"n": n} for n in range(5)]}))
    assert run.status == "failed"
    error = node_run(run, "each").error
    assert error["code"] == "budget_exceeded"
    assert 'Budget "Each run"' in error["message"]
    # A call costs $0.0075: the first item left room under $0.01, the second spent it, none started after.
    assert Run.objects.filter(parent_run=run).count() == 2
    # The children's bills stay theirs, and roll up into the parent's cost.
    assert CostEntry.objects.filter(run__parent_run=run).count() == 2
    assert run.cost == Decimal("0.015")


def test_a_failed_child_fails_the_subworkflow_and_its_retry_starts_a_new_child(workspace):
    child = divide(workspace)
    retry = {"max_attempts": 2, "initial_delay_s": 0.1, "jitter": 0}
    call = node("call", "subworkflow", workflow_id=child.pk, input={"d": "{{ input.d }}"}, retry=retry)
    run = wait_for(start(workspace, chain(TRIGGER, call), {"d": 0}))
    assert run.status == "failed"
    error = node_run(run, "call").error
    assert error["code"] == "child_failed"
    assert "division by zero" in error["message"]
    kids = Run.objects.filter(parent_run=run).order_by("parent_attempt")
    assert [(k.parent_attempt, k.status) for k in kids] == [(1, "failed"), (2, "failed")]


def test_nesting_deeper_than_the_limit_is_refused_at_run_time(workspace, settings):
    settings.ENGINE_CHILD_MAX_DEPTH = 1
    leaf = published(workspace, chain(TRIGGER, node("noop", "transform", fields={})), name="Leaf")
    middle = published(workspace, chain(TRIGGER, node("inner", "subworkflow", workflow_id=leaf.pk)), name="Middle")
    run = wait_for(start(workspace, chain(TRIGGER, node("outer", "subworkflow", workflow_id=middle.pk))))
    assert run.status == "failed"
    [kid] = Run.objects.filter(parent_run=run)
    assert node_run(kid, "inner").error["code"] == "too_deep"
    assert not Run.objects.filter(parent_run=kid).exists()


def test_more_items_than_the_limit_fail_the_node(workspace, settings):
    settings.ENGINE_FOR_EACH_MAX_ITEMS = 3
    child = upper(workspace)
    loop = node("each", "for_each", workflow_id=child.pk, items="input.names", input={"name": "{{ item }}"})
    run = wait_for(start(workspace, chain(TRIGGER, loop), {"names": ["a", "b", "c", "d"]}))
    assert node_run(run, "each").error["code"] == "too_many_items"
    assert "4 items; the limit is 3" in node_run(run, "each").error["message"]
    assert not Run.objects.filter(parent_run=run).exists()


def test_the_reaper_cancels_children_nothing_waits_for(workspace):
    child = published(workspace, chain(TRIGGER, node("wait", "delay", seconds=3600)))
    loop = node("each", "for_each", workflow_id=child.pk, items="input.items", max_concurrency=2)
    run = wait_for(start(workspace, chain(TRIGGER, loop), {"items": [{"n": n} for n in range(4)]}), {"waiting"})
    assert reaper.reap()["orphans_cancelled"] == 0
    # As if the cancels due after the round stopped were lost with the process that owed them.
    ChildRound.objects.filter(run=run).update(state="spent")
    assert reaper.reap()["orphans_cancelled"] == 2
    assert set(Run.objects.filter(parent_run=run).values_list("status", flat=True)) == {"cancelled"}


@pytest.mark.skipif(connection.vendor != "postgresql", reason="on SQLite a child is counted as it ends: none is owed")
def test_the_reaper_counts_a_child_whose_tally_was_lost(workspace):
    child = published(workspace, chain(TRIGGER, node("wait", "delay", seconds=3600)))
    loop = node("each", "for_each", workflow_id=child.pk, items="input.items", max_concurrency=2)
    run = wait_for(start(workspace, chain(TRIGGER, loop), {"items": [{"n": n} for n in range(3)]}), {"waiting"})
    kids = Run.objects.filter(parent_run=run)
    assert reaper.reap()["parents_tallied"] == 0
    # As a worker leaves it when it dies between a child's commit and the tally after it: ended, not counted.
    long_ago = timezone.now() - timedelta(hours=1)
    kids.filter(item_index=0).update(status="succeeded", output={"n": 0}, finished_at=long_ago)
    assert reaper.reap()["parents_tallied"] == 1
    ended = RunEvent.objects.filter(run=run, type="child.ended").values_list("payload__index", flat=True)
    assert list(ended) == [0]
    assert sorted(kids.values_list("item_index", flat=True)) == [0, 1, 2]  # the third item started in its place
    progress = children.progress(run.pk, "each")
    assert progress is not None
    assert (progress.succeeded, progress.running) == (1, 2)
    child_tally.tally(run.pk)
    assert reaper.reap()["parents_tallied"] == 0
    assert RunEvent.objects.filter(run=run, type="child.ended").count() == 1, "counted twice"


@pytest.mark.skipif(connection.vendor != "postgresql", reason="on SQLite a child is counted as it ends: none is owed")
def test_a_child_of_cheap_nodes_ends_at_its_start_and_is_counted_once(workspace):
    # Its nodes run in the transaction that starts it (engine/runs/child_inline.py): no worker claims them.
    shout = node("shout", "transform", fields={"upper": "{{ input.name | upper }}"})
    again = node("again", "transform", fields={"twice": "{{ nodes.shout.upper }}{{ nodes.shout.upper }}"})
    child = published(workspace, chain(TRIGGER, shout, again))
    loop = node("each", "for_each", workflow_id=child.pk, items="input.names", max_concurrency=2)
    names = [{"name": f"n{i}"} for i in range(5)]
    run = wait_for(start(workspace, chain(TRIGGER, loop), {"names": names}))
    assert run.status == "succeeded", run.error
    assert node_run(run, "each").output["results"] == [{"twice": f"N{i}N{i}"} for i in range(5)]
    for kid in Run.objects.filter(parent_run=run):
        assert (kid.status, kid.output) == ("succeeded", {"twice": f"N{kid.item_index}N{kid.item_index}"})
        ran = NodeRun.objects.filter(run=kid, node_id__in=["shout", "again"])
        assert set(ran.values_list("status", "attempt", "lease_owner")) == {("succeeded", 1, "")}
        assert NodeRun.objects.get(run=kid, node_id="shout").input == {"fields": {"upper": kid.input["name"].upper()}}
        kinds = list(RunEvent.objects.filter(run=kid).order_by("seq").values_list("type", "node_id"))
        assert kinds == [
            ("run.queued", ""),
            ("run.running", ""),
            ("node.succeeded", "start"),
            ("node.queued", "shout"),
            ("node.running", "shout"),
            ("node.succeeded", "shout"),
            ("node.queued", "again"),
            ("node.running", "again"),
            ("node.succeeded", "again"),
            ("run.succeeded", ""),
        ]
    ended = RunEvent.objects.filter(run=run, type="child.ended").values_list("payload__index", flat=True)
    assert sorted(ended) == [0, 1, 2, 3, 4]
    assert 1 < in_flight(run, "each") <= 2
