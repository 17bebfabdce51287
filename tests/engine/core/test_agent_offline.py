"""The agent node on the built-in provider's tool-use mode: offline, deterministic, on PostgreSQL and SQLite."""

from engine.models import AgentStep
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import node as node_run
from tests.engine.running import start, wait_for
from tests.fakes import Reply

PASSAGES = {"passages": [{"text": "Parcels ship within two days of the order.", "title": "Shipping"}]}


def test_it_searches_looks_up_and_answers_citing_the_passages(workspace, server):
    server.default = Reply(body=PASSAGES)
    query = {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}
    order = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
    # Its `reason` appears on no labelled line of the message: not called.
    reason = {"type": "object", "properties": {"reason": {"type": "string"}}, "required": ["reason"]}
    tools = [
        {"name": "search", "kind": "http", "parameters": query, "url": server.url + "/search?q={{ args.query }}"},
        {
            "name": "lookup_order",
            "kind": "http",
            "parameters": order,
            "url": server.url + "/orders/{{ args.order_id }}",
        },
        {
            "name": "never",
            "kind": "http",
            "parameters": reason,
            "url": server.url,
        },
    ]
    agent = node("agent", "agent", message="{{ input.body }}", tools=tools)
    run = wait_for(start(workspace, chain(TRIGGER, agent), {"body": "Order: 42\nWhen does my parcel ship?"}))
    assert run.status == "succeeded", run.error
    output = node_run(run, "agent").output
    assert output["provider"] == "builtin"
    assert [call["name"] for call in output["tool_calls"]] == ["search", "lookup_order"], output["tool_calls"]
    assert sorted(r.path.split("?")[0] for r in server.requests()) == ["/orders/42", "/search"]
    assert output["text"].startswith("[Built-in offline agent: deterministic tool use, no model]")
    assert "Parcels ship within two days of the order. [1]" in output["text"]
    assert "[1] Shipping" in output["text"]
    assert AgentStep.objects.filter(run=run, kind="model").count() == 2


def test_without_tools_it_answers_at_once_and_says_so(workspace):
    agent = node("agent", "agent", message="{{ input.body }}", instructions="Look the order up with your tools.")
    run = wait_for(start(workspace, chain(TRIGGER, agent), {"body": "Customer: Ada\nWhere is my parcel?"}))
    assert run.status == "succeeded", run.error
    output = node_run(run, "agent").output
    assert output["text"].startswith(
        "[Built-in offline agent: deterministic tool use, no model] This agent has no tools, so it answers without "
        "calling any.\nHello Ada, thank you for contacting us."
    )
    assert (output["turns"], output["tool_calls"]) == (1, [])
