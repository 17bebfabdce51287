"""The workspace MCP endpoint driven by the official SDK client through the production ASGI stack."""

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import httpx
import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent

from accounts import tokens
from accounts.models import Membership, Scope
from builder.models import Workflow
from engine.models import Run, RunStatus
from tests.engine.graphs import chain, node
from tests.factories import WorkflowFactory, WorkflowVersionFactory

pytestmark = pytest.mark.usefixtures("in_process")
T = TypeVar("T")

ORDER_SCHEMA = {"type": "object", "properties": {"order_id": {"type": "string"}}, "required": ["order_id"]}
LOOKUP = chain(
    node("start", "trigger", input_schema=ORDER_SCHEMA),
    node("answer", "reply", answer="order {{ input.order_id }} has shipped"),
)


def exposed(member: Membership, name: str, graph: dict[str, Any], *, mcp_tool: bool = True) -> Workflow:
    workflow = WorkflowFactory(workspace=member.workspace, name=name, draft=graph, mcp_tool=mcp_tool)
    WorkflowVersionFactory(workflow=workflow, graph=graph)
    return workflow


def token(member: Membership, *scopes: str) -> str:
    return tokens.issue(member.workspace, member.user, "claude", list(scopes), None).secret


def text_of(result: CallToolResult) -> str:
    block = result.content[0]
    assert isinstance(block, TextContent)
    return block.text


def over_mcp(base: str, secret: str, work: Callable[[Client], Awaitable[T]]) -> T:
    async def session() -> T:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {secret}"}, timeout=30)
        async with http, Client(streamable_http_client(f"{base}/mcp/", http_client=http)) as client:
            return await work(client)

    return asyncio.run(session())


def test_a_scoped_token_lists_the_exposed_workflows_and_calls_one(owner, asgi_server):
    lookup = exposed(owner, "Order lookup", LOOKUP)
    exposed(owner, "Internal report", LOOKUP, mcp_tool=False)
    WorkflowFactory(workspace=owner.workspace, name="Never published", mcp_tool=True)
    secret = token(owner, Scope.MCP)

    async def work(client: Client) -> Any:
        listed = await client.list_tools()
        return listed, await client.call_tool(f"order_lookup_{lookup.pk}", {"order_id": "A-17"})

    listed, called = over_mcp(asgi_server, secret, work)

    assert [(t.name, t.input_schema) for t in listed.tools] == [(f"order_lookup_{lookup.pk}", ORDER_SCHEMA)]
    assert called.is_error is False
    assert called.structured_content == {"answer": "order A-17 has shipped"}
    run = Run.objects.get(workflow_id=lookup.pk)
    assert (run.status, run.input, run.created_by_id) == (RunStatus.SUCCEEDED, {"order_id": "A-17"}, owner.user_id)


def test_arguments_that_fail_the_trigger_schema_are_an_error_result(owner, asgi_server):
    lookup = exposed(owner, "Order lookup", LOOKUP)

    called = over_mcp(
        asgi_server, token(owner, Scope.MCP), lambda c: c.call_tool(f"order_lookup_{lookup.pk}", {"order_id": 17})
    )

    assert called.is_error is True
    assert "input.order_id" in text_of(called)
    assert not Run.objects.exists()


def test_a_run_that_waits_answers_with_its_id_and_status(owner, asgi_server):
    # A timer parks the run exactly as an approval does (status waiting), without the approval's set-up.
    refund = exposed(
        owner, "Refund", chain(node("start", "trigger", input_schema=ORDER_SCHEMA), node("hold", "delay", seconds=3600))
    )

    called = over_mcp(
        asgi_server, token(owner, Scope.MCP), lambda c: c.call_tool(f"refund_{refund.pk}", {"order_id": "A-17"})
    )

    run = Run.objects.get(workflow_id=refund.pk)
    assert called.is_error is False
    assert called.structured_content["run_id"] == run.pk
    assert called.structured_content["status"] == RunStatus.WAITING


def test_another_workspaces_workflows_are_invisible(owner, outsider, asgi_server):
    theirs = exposed(outsider, "Their lookup", LOOKUP)
    secret = token(owner, Scope.MCP)

    async def work(client: Client) -> Any:
        return await client.list_tools(), await client.call_tool(f"their_lookup_{theirs.pk}", {"order_id": "A-1"})

    listed, called = over_mcp(asgi_server, secret, work)

    assert listed.tools == []
    assert called.is_error is True
    assert "no tool" in text_of(called)
    assert not Run.objects.exists()


INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


@pytest.mark.parametrize("authorization", [None, "Bearer sy_nope_nope", "Basic b2xpdmlhOnB3"])
def test_it_refuses_a_request_without_a_valid_token(owner, asgi_server, authorization):
    exposed(owner, "Order lookup", LOOKUP)
    headers = {"Accept": "application/json, text/event-stream"}
    if authorization:
        headers["Authorization"] = authorization

    response = httpx.post(f"{asgi_server}/mcp/", json=INITIALIZE, headers=headers)

    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "Order lookup" not in response.text


def test_it_refuses_a_token_without_the_mcp_scope(owner, asgi_server):
    exposed(owner, "Order lookup", LOOKUP)
    secret = token(owner, *(scope for scope in Scope.values if scope != Scope.MCP))

    response = httpx.post(
        f"{asgi_server}/mcp/",
        json=INITIALIZE,
        headers={"Authorization": f"Bearer {secret}", "Accept": "application/json, text/event-stream"},
    )

    assert response.status_code == 403
    assert "mcp scope" in response.json()["error"]["message"]
