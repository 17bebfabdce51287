"""The agent's `mcp` tool kind in-process: a real SDK server's tools become the model's tools; failures are results."""

from collections.abc import Iterator

import pytest

from accounts.models import Workspace
from engine.models import AgentStep
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import node as node_run
from tests.engine.running import start, wait_for
from tests.factories import McpServerFactory
from tests.fake_mcp import FakeMcpServer, garbage_schema_server
from tests.fake_openai import tool_calls

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("in_process", "provider", "price")]


@pytest.fixture(scope="module")
def outside() -> Iterator[FakeMcpServer]:
    server = FakeMcpServer()
    yield server
    server.close()


def agent(*tools: dict[str, object], **more: object) -> dict[str, object]:
    params = {"provider": "fake", "model": "gpt-test", "message": "{{ input.body }}", "tools": list(tools), **more}
    return node("agent", "agent", **params)


def orders(workspace: Workspace, url: str) -> dict[str, object]:
    McpServerFactory(workspace=workspace, name="orders", url=url, headers={"Authorization": "Bearer k-77"})
    return {"name": "orders", "kind": "mcp", "server": "orders", "tools": ["lookup_order", "fail"]}


def test_the_allowed_tools_of_the_server_become_the_models_tools(workspace, fake, outside):
    fake.answers = [tool_calls(("lookup_order", {"order_id": "A-17"}), ("fail", {})), "It has shipped."]

    run = wait_for(start(workspace, chain(TRIGGER, agent(orders(workspace, outside.url))), {"body": "Where is A-17?"}))

    assert run.status == "succeeded", run.error
    offered = fake.chat_requests()[0].body["tools"]
    assert sorted(t["function"]["name"] for t in offered) == ["fail", "lookup_order"]
    lookup = next(t["function"] for t in offered if t["function"]["name"] == "lookup_order")
    assert lookup["parameters"]["required"] == ["order_id"]
    calls = {call["name"]: call for call in node_run(run, "agent").output["tool_calls"]}
    assert calls["lookup_order"]["status"] == "ok"
    assert calls["lookup_order"]["result"] == {"order_id": "A-17", "status": "shipped"}
    assert calls["fail"]["status"] == "error"
    assert "fail" in calls["fail"]["result"]["error"]
    assert AgentStep.objects.filter(run=run, kind="tool").count() == 2


def test_a_server_that_is_down_answers_the_model_with_the_error(workspace, fake):
    fake.answers = [tool_calls(("lookup_order", {"order_id": "A-17"})), "Sorry, I cannot look it up."]

    run = wait_for(start(workspace, chain(TRIGGER, agent(orders(workspace, "http://127.0.0.1:9/mcp"))), {"body": "?"}))

    assert run.status == "succeeded", run.error
    call = node_run(run, "agent").output["tool_calls"][0]
    assert call["status"] == "error"
    assert call["result"]["error"] == "MCP server orders could not be reached at http://127.0.0.1:9/mcp"
    assert "k-77" not in str(node_run(run, "agent").output)


def test_tool_choice_required_with_no_allowed_tool_on_the_server_fails_before_asking(workspace, fake, outside):
    McpServerFactory(workspace=workspace, name="orders", url=outside.url)
    spec: dict[str, object] = {"name": "orders", "kind": "mcp", "server": "orders", "tools": ["not_offered"]}

    run = wait_for(start(workspace, chain(TRIGGER, agent(spec, tool_choice="required")), {"body": "?"}))

    assert run.status == "failed"
    error = node_run(run, "agent").error
    assert error["code"] == "no_tools"
    assert "no tools to offer" in error["message"]
    assert fake.chat_requests() == []


def test_a_server_tool_whose_schema_is_not_json_schema_answers_the_model_why(workspace, fake):
    garbage = FakeMcpServer(garbage_schema_server())
    try:
        McpServerFactory(workspace=workspace, name="refunds", url=garbage.url)
        fake.answers = [tool_calls(("refund", {"amount": 5}), ("lookup_order", {"order_id": "A-1"})), "Not refunded."]

        spec: dict[str, object] = {"name": "refunds", "kind": "mcp", "server": "refunds"}
        run = wait_for(start(workspace, chain(TRIGGER, agent(spec)), {"body": "Refund A-1"}))
    finally:
        garbage.close()

    assert run.status == "succeeded", run.error
    offered = {t["function"]["name"]: t["function"] for t in fake.chat_requests()[0].body["tools"]}
    assert offered["refund"]["parameters"] == {"type": "object", "properties": {}}
    assert offered["refund"]["description"].startswith("Refund an order (unusable: its arguments schema is not a valid")
    calls = {call["name"]: call for call in node_run(run, "agent").output["tool_calls"]}
    assert calls["refund"]["status"] == "error"
    assert calls["refund"]["result"]["error"] == (
        "The tool 'refund' cannot be called: its arguments schema is not a valid JSON Schema: "
        "'none' is not of type 'number'"
    )
    assert calls["lookup_order"]["status"] == "ok"
