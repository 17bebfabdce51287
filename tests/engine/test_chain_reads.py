"""A chain of cheap nodes in one transaction: the next node's inputs and row read with the last one's record."""

from typing import Any

import pytest
from django.db import connection
from psycopg.pq import TransactionStatus

from builder.models import WorkflowVersion
from builder.versions import run_version
from engine import runner
from engine.models import NodeRun, Run
from engine.runs import Options
from tests.engine.graphs import TRIGGER, chain, edge, graph, node
from tests.engine.running import history, sent_at_start, start, statuses
from tests.engine.running import node as node_run
from tests.fakes import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("without_worker")]


class RoundTrips:
    """Counts what this thread's connection sends and waits for: each query string, and psycopg's own BEGINs;
    and the prepared statements those strings run (engine.sql.script: `EXECUTE name(…)`, one result each)."""

    def __init__(self) -> None:
        self.count = 0
        self.statements = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        django_connection = context["connection"]
        idle = django_connection.connection.info.transaction_status == TransactionStatus.IDLE
        opening = django_connection.in_atomic_block and idle
        self.count += 2 if opening and not sql.lstrip().upper().startswith("BEGIN") else 1
        self.statements += sum(part.startswith("EXECUTE ") for part in sql.split("; "))
        return execute(sql, params, many, context)


def started_twice(workspace, data: dict[str, Any], input: dict[str, Any]) -> Run:
    """A second run of the same version, the first one run: what this process reads once per version is read."""
    first = start(workspace, data, input)
    runner.execute(sent_at_start(first))
    return run_version(WorkflowVersion.objects.get(pk=first.version_id), input, Options())


def execute_counting(run: Run) -> RoundTrips:
    """Run the node its start sent, and what it claims next, as the worker's task would; what it sent."""
    trips = RoundTrips()
    with connection.execute_wrapper(trips):
        runner.execute(sent_at_start(run))
    return trips


def shapes(count: int) -> list[dict[str, Any]]:
    return [node(f"shape{i}", "transform", fields={"i": i, "n": "{{ input.n }}"}) for i in range(count)]


def test_each_cheap_node_of_a_chain_adds_one_round_trip(workspace):
    answer = node("answer", "reply", answer="{{ input.n }}")
    short = started_twice(workspace, chain(TRIGGER, *shapes(1), answer), {"n": 1})
    long = started_twice(workspace, chain(TRIGGER, *shapes(3), answer), {"n": 2})

    short_trips, long_trips = execute_counting(short), execute_counting(long)

    assert long_trips.count - short_trips.count == 2, "its record, with its successor's claim and reads"
    # Its claim, its record, and one read of its successor's row, its successor's inputs' outputs and what
    # readiness reads (the run's facts read once, by the chain's first claim).
    assert long_trips.statements - short_trips.statements == 2 * 3
    for run, n in ((short, 1), (long, 2)):
        run.refresh_from_db()
        assert run.status == "succeeded"
        assert run.output == {"answer": n}
    assert set(statuses(long).values()) == {"succeeded"}
    for node_id in ("shape0", "shape1", "shape2", "answer"):
        assert history(long, node_id) == ["pending", "running", "succeeded"]
        assert node_run(long, node_id).attempt == 1


def test_a_node_read_ahead_reads_its_inputs_as_one_read_after_the_claim_would(workspace):
    """The same reply, once as the only successor of its input (read ahead) and once as a join (read when claimed):
    the upstream output as PostgreSQL stored it (its keys reordered, its numbers as written), in both."""
    fields = {"long_key": 1.50, "k": "{{ input.text }}", "nested": {"zz": [1, 2.0], "a": None}}
    said = "{{ nodes.shape.k }}|{{ nodes.shape.long_key }}|{{ nodes.shape.nested }}|{{ nodes.shape }}"
    pair = chain(TRIGGER, node("shape", "transform", fields=fields), node("say", "reply", answer=said))
    ahead = start(workspace, pair, {"text": "ünïcode 'quoted'"})
    # `say` has two inputs here, the trigger and `shape`: it is not read ahead with `shape`'s record.
    joined_graph = graph(
        TRIGGER,
        node("shape", "transform", fields=fields),
        node("say", "reply", answer=said),
        edges=[edge("start", "shape"), edge("start", "say"), edge("shape", "say")],
    )
    joined = start(workspace, joined_graph, {"text": "ünïcode 'quoted'"})

    runner.execute(sent_at_start(ahead))
    runner.execute(sent_at_start(joined))
    for run in (ahead, joined):
        run.refresh_from_db()
        assert run.status == "succeeded", statuses(run)

    assert node_run(ahead, "say").input == node_run(joined, "say").input
    assert ahead.output == joined.output
    assert ahead.output["answer"].startswith("ünïcode 'quoted'|1.5|")


@pytest.mark.parametrize(("urgent", "expected"), [(True, "succeeded"), (False, "skipped")])
def test_a_successor_read_ahead_runs_or_is_skipped_by_its_only_input(workspace, urgent, expected):
    data = graph(
        TRIGGER,
        node("route", "condition", expression="input.urgent"),
        node("page", "transform", fields={"paged": True}),
        edges=[edge("start", "route"), edge("route", "page", "true")],
    )
    run = start(workspace, data, {"urgent": urgent})

    runner.execute(sent_at_start(run))

    run.refresh_from_db()
    assert run.status == "succeeded"
    assert statuses(run) == {"start": "succeeded", "route": "succeeded", "page": expected}
    assert node_run(run, "page").attempt == (1 if urgent else 0)


def test_a_node_read_ahead_that_is_not_cheap_runs_after_the_chain_commits(workspace, server):
    server.then(Reply(body={"ok": True}))
    data = chain(
        TRIGGER,
        node("shape", "transform", fields={"q": "{{ input.q }}"}),
        node("call", "http_request", url=server.url + "/lookup?q={{ nodes.shape.q }}"),
        node("answer", "reply", answer="{{ nodes.call.status }}"),
    )
    run = start(workspace, data, {"q": "tea"})

    runner.execute(sent_at_start(run))

    run.refresh_from_db()
    assert run.status == "succeeded", statuses(run)
    assert run.output == {"answer": 200}
    assert [request.path for request in server.requests()] == ["/lookup?q=tea"]
    call = NodeRun.objects.get(run=run, node_id="call")
    assert (call.attempt, call.status) == (1, "succeeded")
    assert history(run, "call") == ["pending", "running", "succeeded"]
