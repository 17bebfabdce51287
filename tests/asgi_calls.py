"""One HTTP request handed to an ASGI application as a server hands it over: no socket, no HTTP parsing."""

import asyncio
from collections.abc import Callable
from typing import Any


async def request(
    app: Callable[..., Any],
    method: str,
    path: str,
    headers: dict[str, str],
    body: bytes = b"",
    on_message: Callable[[dict[str, Any]], None] | None = None,
) -> list[dict[str, Any]]:
    """The ASGI messages `app` sent for the request; `on_message` sees each as it is sent, before the app goes on.

    The client stays connected until the app is done: Django cancels its wait for a disconnect
    once it has answered.
    """
    given = [(name.lower().encode(), value.encode()) for name, value in headers.items()]
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"localhost"), *given],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8000),
    }
    pending = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        if pending:
            return pending.pop()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")

    async def send(message: dict[str, Any]) -> None:
        if on_message is not None:
            on_message(message)
        sent.append(message)

    await app(scope, receive, send)
    return sent
