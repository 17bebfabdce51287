"""MCP servers over the API: signed-in owners add, change, remove and test them; headers are write-only."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest
from ninja import Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from accounts.api_auth import session_only
from accounts.audit import record
from accounts.permissions import Action, get_for, require
from engine import mcp_client, mcp_servers
from engine.models import McpServer
from engine.partial_update import PartialUpdate

router = Router(tags=["mcp servers"])


class McpServerOut(Schema):
    id: int
    name: str
    url: str
    timeout_s: int
    header_names: list[str] = Field(description="the values are never returned")
    updated_at: datetime


class McpServerPatch(PartialUpdate):
    nullable = frozenset({"headers", "workspace_id"})
    name: str | None = Field(None, pattern=r"^[-a-zA-Z0-9_]{1,100}$")
    url: str | None = Field(None, max_length=500)
    timeout_s: int | None = Field(None, ge=1, le=300)
    headers: dict[str, str] | None = Field(
        None, description="write-only: omit to keep, {} to remove; a new url without them removes them"
    )


class McpServerIn(McpServerPatch):
    name: str = Field(pattern=r"^[-a-zA-Z0-9_]{1,100}$")
    url: str = Field(max_length=500)
    workspace_id: int | None = None


class McpToolOut(Schema):
    name: str
    description: str
    input_schema: dict[str, Any]


class McpTestOut(Schema):
    ok: bool
    tools: list[McpToolOut]
    error: str | None = Field(description="why the tools could not be listed")


def _workspace_id(request: HttpRequest, chosen: int | None) -> int:
    workspace = chosen or getattr(request, "workspace", None)
    workspace_id = getattr(workspace, "pk", workspace)
    if not workspace_id:
        raise HttpError(422, "workspace_id: say which workspace")
    return int(workspace_id)


def _save(workspace_id: int, body: McpServerPatch, server: McpServer | None) -> McpServer:
    values: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"headers", "workspace_id"})
    try:
        return mcp_servers.save(workspace_id, values, body.headers, server)
    except mcp_servers.ServerInvalid as error:
        raise HttpError(422, f"body.{error.field}: {error.message}") from None


@router.get("/mcp-servers", response=list[McpServerOut], summary="MCP servers, without header values")
@session_only
def list_servers(request: HttpRequest, workspace_id: int | None = None) -> list[McpServer]:
    chosen = _workspace_id(request, workspace_id)
    require(request.user, chosen, Action.MANAGE)
    return list(McpServer.objects.filter(workspace_id=chosen))


class McpServerName(Schema):
    id: int
    name: str


@router.get("/mcp-servers/names", response=list[McpServerName], summary="MCP servers an agent may name (editors)")
@session_only
def server_names(request: HttpRequest, workspace_id: int | None = None) -> list[McpServer]:
    """Names only, for the designer's Tools editor: editors pick a server without seeing its URL or headers."""
    chosen = _workspace_id(request, workspace_id)
    require(request.user, chosen, Action.EDIT)
    return list(McpServer.objects.filter(workspace_id=chosen).order_by("name"))


@router.post("/mcp-servers", response={201: McpServerOut}, summary="Add an MCP server; its headers are write-only")
@session_only
def create_server(request: HttpRequest, body: McpServerIn) -> Status[McpServer]:
    membership = require(request.user, _workspace_id(request, body.workspace_id), Action.MANAGE)
    server = _save(membership.workspace_id, body, None)
    record(request.user, "mcp_server.created", workspace=membership.workspace, target=server, name=server.name)
    return Status(201, server)


@router.patch("/mcp-servers/{server_id}", response=McpServerOut, summary="Change an MCP server")
@session_only
def update_server(request: HttpRequest, server_id: int, body: McpServerPatch) -> McpServer:
    server = get_for(request.user, McpServer, Action.MANAGE, pk=server_id)
    server = _save(server.workspace_id, body, server)
    changed = sorted(body.model_dump(exclude_unset=True))
    record(request.user, "mcp_server.changed", workspace=server.workspace, target=server, fields=changed)
    return server


@router.delete("/mcp-servers/{server_id}", response={204: None}, summary="Remove an MCP server and its headers")
@session_only
def delete_server(request: HttpRequest, server_id: int) -> Status[None]:
    server = get_for(request.user, McpServer, Action.MANAGE, pk=server_id)
    record(request.user, "mcp_server.deleted", workspace=server.workspace, target=server, name=server.name)
    server.delete()
    return Status(204, None)


@router.post("/mcp-servers/{server_id}/test", response=McpTestOut, summary="Connect and list the server's tools")
@session_only
def test_server(request: HttpRequest, server_id: int) -> McpTestOut:
    """200 either way: `ok` false and `error` say why a server that is down, refused, slow or not MCP failed."""
    return _listed(get_for(request.user, McpServer, Action.MANAGE, pk=server_id))


def _listed(server: McpServer) -> McpTestOut:
    listing = mcp_client.list_tools(server)
    tools = [McpToolOut(name=t.name, description=t.description, input_schema=t.input_schema) for t in listing.tools]
    return McpTestOut(ok=listing.error is None, tools=tools, error=listing.error)


@router.get("/mcp-servers/{server_id}/tools", response=McpTestOut, summary="The tools an agent may be allowed")
@session_only
def server_tools(request: HttpRequest, server_id: int) -> McpTestOut:
    """As `test`, for editors (the designer lists the tools an agent may be allowed): 200 either way."""
    server = get_for(request.user, McpServer, Action.EDIT, pk=server_id)
    return _listed(server)
