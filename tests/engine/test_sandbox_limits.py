"""Expressions cannot hold a worker or fill the database: runs on a real worker fail such nodes cleanly."""

import time

import pytest
from django.db.models import TextField
from django.db.models.functions import Cast, Coalesce, Length

from engine import registry
from engine.errors import NonRetryableError
from engine.graph import GraphNode
from engine.models import NodeRun
from engine.output_limits import MAX_ANSWER_BYTES
from engine.runner import resolve_params
from tests.engine.graphs import TRIGGER, chain, edge, graph, node
from tests.engine.running import history, start, wait_for
from tests.engine.running import node as node_run

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]

HUGE_INTEGER = "(2**63)**64 * (2**63)**64 * (2**63)**64 * (2**63)**64"


def stored_bytes(run) -> int:
    """The largest input plus output any node of the run stored, as PostgreSQL holds them."""
    sizes = NodeRun.objects.filter(run=run).annotate(
        size=Coalesce(Length(Cast("input", TextField())), 0) + Coalesce(Length(Cast("output", TextField())), 0)
    )
    return max(sizes.values_list("size", flat=True))


def branching(kind: str, **params) -> dict:
    handles = ["true", "false"] if kind == "condition" else ["default"]
    return graph(
        TRIGGER,
        node("gate", kind, **params),
        *(node(f"after_{h}", "transform", fields={"ok": 1}) for h in handles),
        edges=[edge("start", "gate"), *(edge("gate", f"after_{h}", h) for h in handles)],
    )


@pytest.mark.parametrize(
    ("data", "failing", "message"),
    [
        (chain(TRIGGER, node("shape", "transform", fields={"v": "{{ " + HUGE_INTEGER + " }}"})), "shape", "4096 bits"),
        (branching("condition", expression=HUGE_INTEGER + " > 1"), "gate", "4096 bits"),
        (branching("switch", value=HUGE_INTEGER, cases=["a"]), "gate", "4096 bits"),
        (branching("condition", expression="input.n / 0 > 1"), "gate", "division by zero"),
        (branching("switch", value="input.n.x + 1", cases=["a"]), "gate", "is not defined"),
    ],
)
def test_it_fails_a_node_whose_expression_is_too_big_or_broken_at_once_and_cleanly(workspace, data, failing, message):
    run = wait_for(start(workspace, data, {"n": 1}))
    assert run.status == "failed"
    failed = node_run(run, failing)
    assert (failed.error["code"], failed.attempt, failed.crashes) == ("expression_error", 1, 0)
    assert failed.error["message"].startswith("An expression failed: ")
    assert message in failed.error["message"]
    assert failed.error["traceback"] == ""
    assert "Traceback" not in failed.error["message"]
    assert history(run, failing) == ["pending", "running", "failed"]


def test_a_hundred_large_templates_fail_the_node_before_anything_is_stored(workspace):
    fields = {f"f{i}": "{{ 'a' * 199999 }}" for i in range(100)}
    data = chain(
        TRIGGER, node("shape", "transform", fields=fields), node("answer", "reply", answer="{{ nodes.shape }}")
    )
    run = wait_for(start(workspace, data))
    assert run.status == "failed"
    shape = node_run(run, "shape")
    assert shape.error["code"] == "expression_error"
    assert "characters in all" in shape.error["message"]
    assert (shape.input, shape.output, run.output) == (None, None, None)
    assert stored_bytes(run) < 1_000


def test_an_answer_over_the_cap_fails_the_reply_and_is_not_stored(workspace):
    # Within what a node's templates may render to (1,000,000 characters), but over the answer's cap once encoded.
    answer = ["{{ 'a' * 199999 }}"] * 5
    run = wait_for(start(workspace, chain(TRIGGER, node("answer", "reply", answer=answer))))
    assert run.status == "failed"
    reply = node_run(run, "answer")
    assert reply.error["code"] == "output_too_large"
    assert reply.error["details"]["limit"] == MAX_ANSWER_BYTES
    assert (reply.output, run.output) == (None, None)
    assert stored_bytes(run) < 1_100_000  # the rendered params, kept to show what was asked, once


def test_rendering_a_nodes_params_stops_at_the_nodes_deadline():
    shape = GraphNode(id="shape", type="transform", params={"fields": {"v": "{{ input.n }}"}})
    kind = registry.get("transform")
    assert kind is not None
    scope = {"input": {"n": 1}, "nodes": {}}
    with pytest.raises(NonRetryableError, match="does too much work") as refused:
        resolve_params(kind, shape, scope, deadline=time.monotonic() - 1)
    assert refused.value.code == "expression_error"
    assert resolve_params(kind, shape, scope, deadline=time.monotonic() + 60).fields == {"v": 1}
