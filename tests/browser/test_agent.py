"""An agent in the browser (Chromium at 1400x900): two tools configured in the designer's Tools editor (a
knowledge search and an HTTP lookup on a fake shop on 127.0.0.1), a test run on the built-in offline
provider, its trace live in the Last run tab and, after a reload, on the run page."""

import json

import pytest
from playwright.sync_api import Page, expect

from engine.graph import validate
from engine.models import Run
from knowledge.demo import HELP_CENTRE, seed_help_centre
from tests.browser.test_designer import canvas_node, open_designer, status_of
from tests.engine.graphs import chain, node
from tests.eventually import eventually
from tests.factories import McpServerFactory, WorkflowFactory
from tests.fake_mcp import FakeMcpServer
from tests.fakes import Reply

WINDOW = {"width": 1400, "height": 900}
ORDER_SCHEMA = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
TICKET = {"body": "Order: 1001\nMy <b>lamp</b> has not arrived. Where is it?"}


@pytest.fixture
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": WINDOW}


def add_tool(panel, kind: str) -> None:
    panel.get_by_label("Kind of tool to add").select_option(label=kind)
    panel.get_by_role("button", name="Add tool").click()


@pytest.mark.usefixtures("celery_worker")
def test_an_agent_configured_with_two_tools_runs_offline_and_its_trace_reads(
    asgi_server, owner, server, page: Page, console_errors
):
    workspace = owner.workspace
    workspace.http_allowlist = ["127.0.0.1"]
    workspace.save(update_fields=["http_allowlist"])
    seed_help_centre(workspace)
    server.queue.append(Reply(body={"order": "1001", "status": "<i>shipped</i>"}))
    flow = WorkflowFactory(
        workspace=workspace,
        name="Ask the agent",
        draft=chain(node("start", "trigger"), node("agent", "agent", message="{{ input.body }}")),
    )
    open_designer(page, asgi_server, flow)
    expect(canvas_node(page, "agent")).to_contain_text("0 tools")
    canvas_node(page, "agent").click()
    panel = page.get_by_role("complementary", name="Node settings")

    add_tool(panel, "Knowledge base search")
    panel.locator("#agent_tool_0_knowledge_base").select_option(label=HELP_CENTRE)
    add_tool(panel, "HTTP request")
    panel.locator("#agent_tool_1_name").fill("lookup order")
    expect(panel.get_by_text("Use letters, digits, _ and - (1 to 64).")).to_be_visible()
    panel.locator("#agent_tool_1_name").fill("lookup_order")
    panel.locator("#agent_tool_1_url").fill(server.url + "/orders/{{ args.order_id }}")
    schema = panel.locator("#agent_tool_1_parameters")
    schema.fill('{"type": "string"}')
    expect(panel.get_by_text('the schema needs "type": "object"')).to_be_visible()
    schema.fill(json.dumps(ORDER_SCHEMA))
    expect(canvas_node(page, "agent")).to_contain_text("2 tools")
    page.keyboard.press("Control+s")
    expect(page.locator("[data-save-state]")).to_have_attribute("data-save-state", "saved", timeout=10_000)
    flow.refresh_from_db()
    tools = next(n for n in flow.draft["nodes"] if n["id"] == "agent")["params"]["tools"]
    assert [(t["name"], t["kind"]) for t in tools] == [("search", "knowledge"), ("lookup_order", "http")]
    assert tools[1]["parameters"] == ORDER_SCHEMA

    page.get_by_role("button", name="Sample input").click()
    page.get_by_label("Sample input (JSON)").fill(json.dumps(TICKET))
    page.get_by_role("button", name="Test run").click()
    run = eventually(lambda: Run.objects.filter(workflow_id=flow.pk).first())
    page.get_by_role("tab", name="Last run").click()
    trace = panel.get_by_role("region", name="Agent trace")
    expect(trace.locator('[data-agent-turn="2"]')).to_contain_text("final answer", timeout=20_000)
    assert [r.path for r in server.requests()] == ["/orders/1001"]

    page.goto(f"{asgi_server}/runs/{run.pk}/")
    canvas_node(page, "agent").click()
    trace = page.get_by_role("complementary", name="Node inspector").get_by_role("region", name="Agent trace")
    first = trace.locator('[data-agent-turn="1"]')
    expect(first).to_contain_text("asks for 2 tool calls")
    expect(first.locator('[data-agent-result="search"]')).to_contain_text('"passages"')
    expect(first.locator('[data-agent-arguments="lookup_order"]')).to_contain_text('"order_id": "1001"')
    expect(first.locator('[data-agent-result="lookup_order"]')).to_contain_text("<i>shipped</i>")
    expect(first.locator('[data-agent-call="lookup_order"]')).to_have_attribute("data-agent-status", "ok")
    expect(trace.locator('[data-agent-turn="2"]')).to_contain_text("[Built-in offline agent")
    expect(trace.locator("i, b")).to_have_count(0)
    assert console_errors == []


def test_an_mcp_tool_is_configured_with_a_server_and_an_allowlist_without_json(
    asgi_server, owner, page: Page, console_errors
):
    """The server is picked from the workspace's, its tools listed from the server (the outside world) and ticked."""
    workspace = owner.workspace
    workspace.http_allowlist = ["127.0.0.1"]
    workspace.save(update_fields=["http_allowlist"])
    outside = FakeMcpServer()
    try:
        McpServerFactory(workspace=workspace, name="orders", url=outside.url)
        flow = WorkflowFactory(
            workspace=workspace,
            name="Ask the agent",
            draft=chain(node("start", "trigger"), node("agent", "agent", message="{{ input.body }}")),
        )
        open_designer(page, asgi_server, flow)
        canvas_node(page, "agent").click()
        panel = page.get_by_role("complementary", name="Node settings")

        add_tool(panel, "MCP server tools")
        expect(panel.get_by_text("Choose an MCP server.")).to_be_visible()
        expect(panel.locator("#agent_tool_0_fields")).to_have_count(0)
        expect(panel.locator("#agent_tool_0_parameters")).to_have_count(0)
        panel.locator("#agent_tool_0_server").select_option(label="orders")
        allowlist = panel.locator("#agent_tool_0_tools")
        expect(allowlist.get_by_text("Find an order by its id")).to_be_visible(timeout=15_000)
        panel.locator("#agent_tool_0_allow_lookup_order").check()
        panel.locator("#agent_tool_0_allow_add").check()
        expect(panel.get_by_text("Choose an MCP server.")).to_have_count(0)
        page.keyboard.press("Control+s")
        expect(page.locator("[data-save-state]")).to_have_attribute("data-save-state", "saved", timeout=10_000)
    finally:
        outside.close()
    flow.refresh_from_db()
    [tool] = next(n for n in flow.draft["nodes"] if n["id"] == "agent")["params"]["tools"]
    expected = {"name": "mcp_server", "description": "", "kind": "mcp", "server": "orders"}
    assert tool == {**expected, "tools": ["add", "lookup_order"]}
    assert validate(flow.draft, workspace_id=workspace.pk) == []
    assert console_errors == []


def test_tool_choice_required_on_an_agent_without_tools_shows_on_that_field(asgi_server, owner, page: Page):
    flow = WorkflowFactory(
        workspace=owner.workspace,
        name="No tools",
        draft=chain(node("start", "trigger"), node("agent", "agent", message="{{ input.body }}")),
    )
    open_designer(page, asgi_server, flow)
    expect(status_of(page, "agent")).to_have_attribute("data-problems", "0")
    canvas_node(page, "agent").click()
    panel = page.get_by_role("complementary", name="Node settings")

    panel.locator("#root_tool_choice").select_option(label="required")

    expect(status_of(page, "agent")).to_have_attribute("data-problems", "1", timeout=10_000)
    expect(panel.locator("#root_tool_choice__error")).to_contain_text(
        "'required' makes the model call a tool, and this agent has none: add a tool, or use auto"
    )
    panel.locator("#root_tool_choice").select_option(label="auto")
    expect(status_of(page, "agent")).to_have_attribute("data-problems", "0", timeout=10_000)
