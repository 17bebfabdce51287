"""The workspace MCP endpoint: published workflows as tools over streamable HTTP (config/asgi.py mounts it at /mcp).

An ASGI app in front of the official SDK's session manager. It answers 401 without a valid API
token and 403 when the token lacks the `mcp` scope, then hands the request to the SDK with the
token in the ASGI scope, where the tool handlers read it. The SDK runs stateless, answering in
JSON: each POST stands alone, so any web process behind a load balancer can answer any call,
and a tool call that waits for its run holds no session. The manager needs a running task group
(its "lifespan"); the ASGI servers here run without lifespan events (the Channels router takes
none), so the first request of each event loop starts one.
"""

import asyncio
import json
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import mcp_types as types
from asgiref.sync import sync_to_async
from django.conf import settings
from django.db import close_old_connections
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import Server
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager

from accounts import tokens
from accounts.models import ApiToken, Scope
from builder import mcp_tools, run_waits

PATHS = frozenset({"/mcp", "/mcp/"})
CALLER_KEY = "switchyard.mcp_token"
T = TypeVar("T")


def _token(ctx: ServerRequestContext[Any, Any]) -> ApiToken:
    token: ApiToken = ctx.request.scope[CALLER_KEY]  # type: ignore[union-attr]
    return token


def _with_fresh_connections(work: Callable[..., T]) -> Callable[..., Any]:
    """`work` on Django's thread for sync code, with database connections handled as a request's would be."""

    def fresh(*args: Any) -> T:
        close_old_connections()
        try:
            return work(*args)
        finally:
            close_old_connections()

    return sync_to_async(fresh)


async def _list_tools(
    ctx: ServerRequestContext[Any, Any], params: types.PaginatedRequestParams | None
) -> types.ListToolsResult:
    found = await _with_fresh_connections(mcp_tools.tools)(_token(ctx))
    listed = [types.Tool(name=t.name, description=t.description, input_schema=t.input_schema) for t in found]
    return types.ListToolsResult(tools=listed)


async def _call_tool(ctx: ServerRequestContext[Any, Any], params: types.CallToolRequestParams) -> types.CallToolResult:
    try:
        run = await _with_fresh_connections(mcp_tools.start)(_token(ctx), params.name, params.arguments or {})
    except mcp_tools.CallRefused as refused:
        return types.CallToolResult(content=[types.TextContent(text=str(refused))], is_error=True)
    await run_waits.settled(run.pk, settings.MCP_CALL_WAIT_SECONDS)
    found = await _with_fresh_connections(mcp_tools.answer)(run)
    return types.CallToolResult(
        content=[types.TextContent(text=found.text)], structured_content=found.data, is_error=found.is_error
    )


def _server() -> Server[Any]:
    return Server(
        "switchyard",
        instructions="Published Switchyard workflows of one workspace; each call starts a run and returns its output.",
        on_list_tools=_list_tools,
        on_call_tool=_call_tool,
    )


async def _refuse(send: Any, status: int, code: str, message: str) -> None:
    body = json.dumps({"error": {"code": code, "message": message, "details": {}}}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 401:
        headers.append((b"www-authenticate", b'Bearer realm="switchyard"'))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _bearer(scope: dict[str, Any]) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            kind, _, raw = value.decode("latin-1").partition(" ")
            return raw.strip() if kind.lower() == "bearer" and raw.strip() else None
    return None


def _authenticate(raw: str) -> ApiToken | None:
    close_old_connections()
    try:
        return tokens.authenticate(raw)
    finally:
        close_old_connections()


class McpEndpoint:
    """The ASGI app: authentication, then the SDK's session manager of the running event loop."""

    def __init__(self) -> None:
        self._managers: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, tuple[StreamableHTTPSessionManager, asyncio.Event]
        ] = weakref.WeakKeyDictionary()
        self._tasks: set[asyncio.Task[None]] = set()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        raw = _bearer(scope)
        token = await sync_to_async(_authenticate)(raw) if raw else None
        if token is None:
            await _refuse(send, 401, "not_authenticated", "Send an API token: Authorization: Bearer sy_…")
            return
        if Scope.MCP not in token.scopes:
            await _refuse(send, 403, "forbidden", f"This API token lacks the {Scope.MCP.value} scope")
            return
        manager = await self._manager()
        await manager.handle_request({**scope, CALLER_KEY: token}, receive, send)

    async def _manager(self) -> StreamableHTTPSessionManager:
        loop = asyncio.get_running_loop()
        if loop not in self._managers:
            # Stateless, JSON answers; no DNS-rebinding settings: the endpoint takes bearer tokens, never cookies.
            manager = StreamableHTTPSessionManager(app=_server(), stateless=True, json_response=True)
            self._managers[loop] = (manager, asyncio.Event())
            task = loop.create_task(self._serve(manager, self._managers[loop][1]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        manager, started = self._managers[loop]
        await started.wait()
        return manager

    @staticmethod
    async def _serve(manager: StreamableHTTPSessionManager, started: asyncio.Event) -> None:
        async with manager.run():
            started.set()
            await asyncio.Event().wait()  # until the loop ends and cancels this task


endpoint = McpEndpoint()
