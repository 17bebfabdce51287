"""engine/mcp_client.py against a real MCP server made with the official SDK: every failure is a value."""

import socket
from collections.abc import Iterator

import pytest

from accounts.models import Workspace
from engine import mcp_client
from engine.models import McpServer
from tests.factories import McpServerFactory
from tests.fake_mcp import FakeMcpServer
from tests.fakes import RecordingServer, Reply

pytestmark = pytest.mark.django_db

SECRET = "Bearer mcp-credential-8731"


@pytest.fixture(scope="module")
def outside() -> Iterator[FakeMcpServer]:
    server = FakeMcpServer()
    yield server
    server.close()


def registered(workspace: Workspace, url: str, **extra: object) -> McpServer:
    workspace.http_allowlist = ["127.0.0.1"]
    workspace.save(update_fields=["http_allowlist"])
    return McpServerFactory(workspace=workspace, name="orders", url=url, **extra)


def test_it_lists_the_tools_with_their_schemas(workspace, outside):
    listing = mcp_client.list_tools(registered(workspace, outside.url))

    assert listing.error is None
    tools = {tool.name: tool for tool in listing.tools}
    assert set(tools) == {"add", "lookup_order", "fail", "hang"}
    assert tools["lookup_order"].description == "Find an order by its id"
    assert tools["add"].input_schema["required"] == ["a", "b"]


def test_it_calls_a_tool_and_returns_its_text_and_json(workspace, outside):
    result = mcp_client.call_tool(registered(workspace, outside.url), "lookup_order", {"order_id": "A-17"})

    assert result.is_error is False
    assert result.data == {"order_id": "A-17", "status": "shipped"}
    assert '"shipped"' in result.text


def test_a_tool_that_fails_gives_an_error_result(workspace, outside):
    result = mcp_client.call_tool(registered(workspace, outside.url), "fail", {})

    assert result.is_error is True
    assert "fail" in result.text


def test_an_unknown_tool_gives_an_error_result(workspace, outside):
    result = mcp_client.call_tool(registered(workspace, outside.url), "refund_everything", {})

    assert result.is_error is True
    assert "refund_everything" in result.text


def test_a_server_that_hangs_is_cut_off_at_the_time_limit(workspace, outside):
    result = mcp_client.call_tool(registered(workspace, outside.url), "hang", {}, timeout_s=1)

    assert result == mcp_client.ToolResult(text="MCP server orders did not answer within 1 s", is_error=True)


def test_a_server_that_accepts_and_never_answers_is_cut_off(workspace):
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections wait in the backlog: connected, never answered
        mcp = registered(workspace, f"http://127.0.0.1:{silent.getsockname()[1]}/mcp")

        listing = mcp_client.list_tools(mcp, timeout_s=1)

    assert listing == mcp_client.Listing(error="MCP server orders did not answer within 1 s")


def test_a_server_that_is_down_gives_an_error_value(workspace):
    listing = mcp_client.list_tools(registered(workspace, "http://127.0.0.1:9/mcp"))

    assert listing == mcp_client.Listing(error="MCP server orders could not be reached at http://127.0.0.1:9/mcp")


@pytest.mark.parametrize(
    "reply",
    [
        Reply(body=b"<html>a login page</html>", headers={"Content-Type": "text/html"}),
        Reply(body={"hello": "world"}),
        Reply(status=500, body={"error": "boom"}),
        Reply(body=b"{not json"),
    ],
    ids=["html", "json-not-rpc", "http-500", "broken-json"],
)
def test_garbage_answers_give_an_error_value(workspace, server: RecordingServer, reply):
    server.default = reply
    mcp = registered(workspace, f"{server.url}/mcp", timeout_s=5)

    listing = mcp_client.list_tools(mcp)
    called = mcp_client.call_tool(mcp, "add", {"a": 1, "b": 2})

    assert listing.tools == []
    assert listing.error
    assert listing.error.startswith("MCP server orders")
    assert called.is_error is True
    assert called.text.startswith("MCP server orders")


@pytest.mark.parametrize("url", ["http://169.254.169.254/mcp", "http://10.0.0.7/mcp"])
def test_it_refuses_a_private_or_metadata_address_at_every_call(workspace, url):
    # Saved before the rules changed, or by a row edited elsewhere: the call checks again.
    mcp = registered(workspace, url)

    listing = mcp_client.list_tools(mcp)
    called = mcp_client.call_tool(mcp, "add", {})

    assert listing.error
    assert "is refused" in listing.error
    assert called.is_error
    assert "is refused" in called.text


def test_a_loopback_server_needs_the_allowlist(workspace, outside):
    mcp = registered(workspace, outside.url)
    Workspace.objects.filter(pk=workspace.pk).update(http_allowlist=[])

    listing = mcp_client.list_tools(mcp)

    assert listing.error is not None
    assert "loopback" in listing.error


def test_it_sends_the_stored_headers_and_never_shows_them(workspace, outside):
    mcp = registered(workspace, outside.url, headers={"Authorization": SECRET})
    before = len(outside.received_headers)

    result = mcp_client.call_tool(mcp, "add", {"a": 2, "b": 3})
    failed = mcp_client.call_tool(mcp, "fail", {})

    assert result.text == "5"
    assert {h.get("authorization") for h in outside.received_headers[before:]} == {SECRET}
    assert SECRET not in failed.text
    mcp.url = "http://127.0.0.1:9/mcp"
    down = mcp_client.list_tools(mcp)
    assert down.error is not None
    assert SECRET not in down.error


def test_headers_no_key_can_read_give_an_error_value(workspace, outside):
    mcp = registered(workspace, outside.url, headers_encrypted="gAAAAA-not-a-fernet-token")

    listing = mcp_client.list_tools(mcp)
    called = mcp_client.call_tool(mcp, "add", {"a": 1, "b": 2})

    assert listing.error is not None
    assert "stored headers cannot be read" in listing.error
    assert called.is_error is True
