"""The `mcp` tool kind: the tools of an MCP server registered in the workspace (engine/mcp_client.py).

One spec names a server and, optionally, an allowlist of its tool names; the server's tools (those
allowed) become the model's tools under their own names, with the server's descriptions and input
schemas, listed again at each attempt of the node. An MCP failure (server down, refused, too slow,
not MCP, the tool's own error) is the tool's result for the model. A call may change things on the
server, so it goes through the effect ledger: a recorded call is never sent again.
"""

import logging
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from engine import mcp_client
from engine.agent.tools import ANY_OBJECT, TOOL_NAME, ToolCall, ToolFailed, ToolKind, ToolSpec, register_kind
from engine.errors import NodeError
from engine.models import McpServer

log = logging.getLogger(__name__)


class McpFields(BaseModel):
    model_config = ConfigDict(extra="forbid")
    server: str = Field(description="the MCP server's name in Settings → MCP servers")
    tools: list[str] = Field(
        default_factory=list, max_length=64, description="the server's tools the agent may call; empty: every one"
    )
    timeout_s: float | None = Field(None, gt=0, le=300, description="per call; the server's time limit by default")


def _server(workspace_id: int, name: str) -> McpServer | None:
    return McpServer.objects.filter(workspace_id=workspace_id, name=name).first()


@register_kind
class McpTool(ToolKind):
    """Output for the model: the tool's structured content (JSON) when it has some, else its text."""

    kind = "mcp"
    Fields = McpFields

    @classmethod
    def side_effect(cls, fields: McpFields) -> bool:
        return True

    @classmethod
    def workspace_problems(cls, fields: McpFields, workspace_id: int) -> Iterator[tuple[str, str]]:
        if _server(workspace_id, fields.server) is None:
            yield "server", f"there is no MCP server {fields.server!r} in this workspace"

    @classmethod
    def offered(cls, spec: ToolSpec, fields: McpFields, workspace_id: int) -> list[tuple[ToolSpec, dict[str, Any]]]:
        server = _server(workspace_id, fields.server)
        if server is None:
            raise NodeError(f"there is no MCP server {fields.server!r} in this workspace", code="mcp_server_missing")
        listing = mcp_client.list_tools(server, fields.timeout_s)
        allowed = set(fields.tools)
        if listing.error is not None:
            if not allowed:
                # Nothing to offer the model: the node's retry policy decides what happens next.
                raise NodeError(listing.error, code="mcp_unavailable")
            # The allowed tools are offered anyway: calling one answers the model with the server's error.
            unavailable = f"{spec.description} (currently unavailable: {listing.error})".strip()
            return [(_named(spec, name, unavailable), ANY_OBJECT) for name in fields.tools]
        offered = []
        for tool in listing.tools:
            if (allowed and tool.name not in allowed) or not TOOL_NAME.match(tool.name):
                continue
            schema = tool.input_schema if tool.input_schema.get("type") == "object" else ANY_OBJECT
            offered.append((_named(spec, tool.name, tool.description or spec.description), schema))
        return offered

    @classmethod
    def call(cls, call: ToolCall) -> Any:
        fields: McpFields = call.fields
        ctx = call.ctx

        def send() -> dict[str, Any]:
            server = _server(ctx.workspace_id, fields.server)
            if server is None:
                return {"error": f"there is no MCP server {fields.server!r} in this workspace"}
            limit = min(fields.timeout_s or server.timeout_s, max(1.0, ctx.seconds_left()))
            result = mcp_client.call_tool(server, call.spec.name, call.arguments, limit)
            if result.is_error:
                return {"error": result.text or f"the MCP tool {call.spec.name} failed"}
            return {"result": result.data if result.data is not None else result.text}

        answered = ctx.once(call.key, send)
        if "error" in answered:
            raise ToolFailed(answered["error"])
        return answered["result"]


def _named(spec: ToolSpec, name: str, description: str) -> ToolSpec:
    return spec.model_copy(update={"name": name, "description": description[:4000], "parameters": None})
