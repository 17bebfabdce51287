"""Calling the tools of a workspace's MCP servers with the official SDK, every request through the outbound guard.

`list_tools` and `call_tool` never raise for what the server does: a server that is down,
refused by the SSRF guard, too slow, answering garbage or failing the tool gives an error
value (`Listing.error`, `ToolResult.is_error`) whose text says what went wrong. The stored
headers are sent and never appear in an error or a log line.
"""

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import anyio
import httpx2
from asgiref.sync import async_to_sync

from accounts.models import Workspace
from engine import guarded_transport, mcp_servers, outbound, secrets
from engine.errors import NodeError
from engine.models import McpServer

if TYPE_CHECKING:
    # The SDK (its client and its types) costs a process almost a second of CPU to import: every worker
    # imports this module at start (the agent node's tools), few ever call an MCP server, and a
    # worker restarted after a crash takes no node until it is up. Imported on first use instead.
    import mcp_types
    from mcp import Client

log = logging.getLogger(__name__)
T = TypeVar("T")
# A tool listing or a tool's answer is JSON of some kilobytes; more is a server misbehaving.
MAX_RESPONSE_BYTES = 5_000_000
MAX_PAGES = 20


@dataclass(frozen=True)
class McpTool:
    name: str
    description: str
    input_schema: dict[str, Any]


@dataclass(frozen=True)
class Listing:
    """The server's tools, or why they could not be listed."""

    tools: list[McpTool] = field(default_factory=list)
    error: str | None = None


@dataclass(frozen=True)
class ToolResult:
    """A tool's answer: its text content, its structured content (JSON) if any, and whether it failed.

    A failure of the server or the connection is a result too, with `is_error` set and the reason as text."""

    text: str
    data: Any = None
    is_error: bool = False


@dataclass(frozen=True)
class Connection:
    """What a call needs, read from the database before any I/O: the headers in clear stay in memory only."""

    name: str
    url: str
    headers: dict[str, str]
    allowlist: list[str]
    timeout_s: float


def connection_of(server: McpServer) -> Connection:
    allowlist = Workspace.objects.filter(pk=server.workspace_id).values_list("http_allowlist", flat=True).first()
    return Connection(
        name=server.name,
        url=server.url,
        headers=mcp_servers.headers_of(server),
        allowlist=list(allowlist or []),
        timeout_s=float(server.timeout_s),
    )


def list_tools(server: McpServer, timeout_s: float | None = None) -> Listing:
    """Connect, list every tool (following pages), disconnect; all within `timeout_s` (the server's by default)."""
    try:
        connection = connection_of(server)
    except secrets.UnreadableSecret as error:
        return Listing(error=f"MCP server {server.name}: its stored headers cannot be read ({error})")
    return async_to_sync(alist_tools)(connection, timeout_s)


def call_tool(server: McpServer, name: str, arguments: dict[str, Any], timeout_s: float | None = None) -> ToolResult:
    """Connect, call one tool, disconnect; all within `timeout_s` (the server's by default)."""
    try:
        connection = connection_of(server)
    except secrets.UnreadableSecret as error:
        return ToolResult(text=f"MCP server {server.name}: its stored headers cannot be read ({error})", is_error=True)
    return async_to_sync(acall_tool)(connection, name, arguments, timeout_s)


async def alist_tools(connection: Connection, timeout_s: float | None = None) -> Listing:
    async def listed(client: "Client") -> Listing:
        tools, cursor = [], None
        for _ in range(MAX_PAGES):
            page = await client.list_tools(cursor=cursor)
            tools += [McpTool(t.name, t.description or "", dict(t.input_schema)) for t in page.tools]
            cursor = page.next_cursor
            if cursor is None:
                break
        return Listing(tools=tools)

    try:
        return await _session(connection, timeout_s, listed)
    except Exception as error:  # noqa: BLE001  (every failure of the server becomes the listing's error)
        return Listing(error=_describe(connection, error, timeout_s))


async def acall_tool(
    connection: Connection, name: str, arguments: dict[str, Any], timeout_s: float | None = None
) -> ToolResult:
    async def called(client: "Client") -> ToolResult:
        return _result(await client.call_tool(name, arguments))

    try:
        return await _session(connection, timeout_s, called)
    except Exception as error:  # noqa: BLE001  (every failure of the server becomes the tool's result)
        return ToolResult(text=_describe(connection, error, timeout_s), is_error=True)


async def _session(connection: Connection, timeout_s: float | None, work: Callable[["Client"], Awaitable[T]]) -> T:
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    limit = timeout_s or connection.timeout_s
    http = guarded_transport.guarded_async_client(connection.allowlist, limit, connection.headers, MAX_RESPONSE_BYTES)
    # One deadline for connecting, the handshake and the call: a server that accepts and then
    # never answers (or answers a byte a minute) is cut off here, not by a per-read timeout.
    with anyio.fail_after(limit):
        async with http:
            transport = streamable_http_client(connection.url, http_client=http)
            async with Client(transport, read_timeout_seconds=limit, cache=None) as client:
                return await work(client)


def _result(answer: "mcp_types.CallToolResult") -> ToolResult:
    import mcp_types

    parts = []
    for block in answer.content:
        if isinstance(block, mcp_types.TextContent):
            parts.append(block.text)
        else:
            parts.append(f"[{block.type} content]")
    text = "\n".join(parts)
    if not text and answer.structured_content is not None:
        text = json.dumps(answer.structured_content)
    return ToolResult(text=text, data=answer.structured_content, is_error=answer.is_error)


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _describe(connection: Connection, error: Exception, timeout_s: float | None) -> str:
    """What went wrong, for a person or a model to read: never the headers, never a traceback."""
    from mcp.shared.exceptions import MCPError

    where = f"MCP server {connection.name}"
    leaves = _leaves(error)
    # The SDK wraps its transport's failure in task-group exceptions; the first cause that says something wins.
    for leaf in leaves:
        cause: BaseException | None = leaf
        while cause is not None:
            if isinstance(cause, outbound.BlockedDestination):
                return f"{where} is refused: {cause}"
            if isinstance(cause, TimeoutError | httpx2.TimeoutException):
                return f"{where} did not answer within {timeout_s or connection.timeout_s:g} s"
            if isinstance(cause, NodeError):
                return f"{where}: {cause}"
            if isinstance(cause, httpx2.ConnectError):
                return f"{where} could not be reached at {connection.url}"
            if isinstance(cause, MCPError):
                return f"{where} answered with an error: {_short(cause.error.message)}"
            if isinstance(cause, httpx2.HTTPStatusError):
                return f"{where} answered HTTP {cause.response.status_code}"
            cause = cause.__cause__
    log.info("MCP call failed", extra={"mcp_server": connection.name, "error_type": type(leaves[0]).__name__})
    return f"{where} gave an answer that is not MCP ({type(leaves[0]).__name__}: {_short(leaves[0])})"


def _short(error: BaseException | str) -> str:
    text = (str(error).splitlines() or [""])[0]
    return text if len(text) <= 300 else text[:300] + "…"
