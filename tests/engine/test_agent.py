"""The agent node in-process: tool calls through the OpenAI SDK against the fake server, recorded steps, guards."""

import json

import pytest

from engine.models import AgentStep, CostEntry, RunEvent
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import node as node_run
from tests.engine.running import start, wait_for
from tests.fake_openai import tool_calls
from tests.fakes import Reply

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_process", "provider", "price")]

ORDER_SCHEMA = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}


def lookup(server, **fields):
    return {
        "name": "lookup_order",
        "description": "Finds an order by id",
        "kind": "http",
        "parameters": ORDER_SCHEMA,
        "url": server.url + "/orders/{{ args.order_id }}",
        **fields,
    }


def note(server, **fields):
    return {
        "name": "add_note",
        "description": "Adds a note to an order",
        "kind": "http",
        "method": "POST",
        "parameters": {**ORDER_SCHEMA, "properties": {**ORDER_SCHEMA["properties"], "text": {"type": "string"}}},
        "url": server.url + "/notes",
        "body": {"order": "{{ args.order_id }}", "text": "{{ args.text }}"},
        **fields,
    }


def agent(*tools, **params):
    return node(
        "agent",
        "agent",
        **{
            "provider": "fake",
            "model": "gpt-test",
            "instructions": "You help customers.",
            "message": "{{ input.body }}",
            "tools": list(tools),
            **params,
        },
    )


def test_it_calls_two_tools_side_by_side_then_answers(workspace, server, fake):
    server.default = Reply(body={"status": "shipped"})
    fake.answers = [
        tool_calls(("lookup_order", {"order_id": "A 1"}), ("add_note", {"order_id": "A 1", "text": "asked"})),
        "Your order has shipped.",
    ]
    run = wait_for(start(workspace, chain(TRIGGER, agent(lookup(server), note(server))), {"body": "Where is A 1?"}))
    assert run.status == "succeeded", run.error
    output = node_run(run, "agent").output
    assert output["text"] == "Your order has shipped."
    assert output["turns"] == 2
    assert [(call["name"], call["status"]) for call in output["tool_calls"]] == [
        ("lookup_order", "ok"),
        ("add_note", "ok"),
    ]
    assert output["tool_calls"][0]["result"] == {"status": 200, "body": {"status": "shipped"}}
    assert [r.path for r in server.requests() if r.method == "GET"] == ["/orders/A%201"]
    posted = server.requests("/notes")
    assert len(posted) == 1
    assert json.loads(posted[0].body) == {"order": "A 1", "text": "asked"}
    assert posted[0].headers["Idempotency-Key"] == f"switchyard-{run.pk}-agent-agent:1:2"
    second = fake.chat_requests()[1].body
    assert [m["role"] for m in second["messages"]] == ["system", "user", "assistant", "tool", "tool"]
    assert {t["function"]["name"] for t in second["tools"]} == {"lookup_order", "add_note"}
    assert second["messages"][3]["tool_call_id"] == "call_1_0"
    steps = list(AgentStep.objects.filter(run=run).order_by("seq").values_list("seq", "kind", "status"))
    assert steps == [(0, "model", "ok"), (1, "tool", "ok"), (2, "tool", "ok"), (3, "model", "ok")]
    events = RunEvent.objects.filter(run=run, type="agent.step").order_by("seq")
    # The two calls ran side by side: their steps are recorded in the order they finished.
    recorded = [(e.payload["seq"], e.payload["kind"]) for e in events]
    assert recorded[0] == (0, "model")
    assert recorded[-1] == (3, "model")
    assert sorted(recorded[1:3]) == [(1, "tool"), (2, "tool")]
    assert CostEntry.objects.filter(run=run).count() == 2
    assert output["input_tokens"] == 2000
    assert output["output_tokens"] == 1000
