"""An MCP server of the outside world, made with the official SDK and served on 127.0.0.1 for the test."""

import threading
from typing import Annotated, Any

import anyio
import uvicorn
from mcp.server.mcpserver import MCPServer
from pydantic import Field

from tests.eventually import eventually

HANG_S = 30


def tools_server() -> MCPServer:
    server = MCPServer("orders")

    @server.tool(description="Add two numbers")
    def add(a: int, b: int) -> int:
        return a + b

    @server.tool(description="Find an order by its id")
    def lookup_order(order_id: str) -> dict[str, Any]:
        return {"order_id": order_id, "status": "shipped"}

    @server.tool(description="Always fails")
    def fail() -> str:
        raise ValueError("the order system is down")

    @server.tool(description="Never answers in time")
    async def hang() -> str:
        await anyio.sleep(HANG_S)
        return "too late"

    return server


def garbage_schema_server() -> MCPServer:
    """A server whose `refund` tool declares an input schema that is not valid JSON Schema (a minimum that is text)."""
    server = MCPServer("refunds")

    @server.tool(description="Refund an order")
    def refund(amount: Annotated[int, Field(json_schema_extra={"minimum": "none"})]) -> str:
        return f"refunded {amount}"

    @server.tool(description="Find an order by its id")
    def lookup_order(order_id: str) -> dict[str, Any]:
        return {"order_id": order_id, "status": "shipped"}

    return server


class FakeMcpServer:
    """Serves `server` (`tools_server()` by default) over streamable HTTP at `url`, recording each request's headers."""

    def __init__(self, server: MCPServer | None = None) -> None:
        self.received_headers: list[dict[str, str]] = []
        inner = (server or tools_server()).streamable_http_app()

        async def recording(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                self.received_headers.append({k.decode().lower(): v.decode() for k, v in scope["headers"]})
            await inner(scope, receive, send)

        config = uvicorn.Config(recording, host="127.0.0.1", port=0, log_level="warning", timeout_graceful_shutdown=1)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True, name="fake-mcp-server")
        self.thread.start()
        eventually(lambda: self.server.started, timeout=10, message="the fake MCP server did not start")
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/mcp"

    def close(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
