"""The embedded mode's channel layer: in-memory, but safe to publish to from worker threads.

Channels' InMemoryChannelLayer keeps one asyncio.Queue per channel. A worker thread that
publishes through async_to_sync(group_send) fills that queue from another event loop, and
the consumer awaiting it on the server's loop is not woken until that loop wakes for some
other reason, seconds later. This layer remembers the loop its consumers receive on and
hands every send from elsewhere over to that loop.
"""

import asyncio
from collections.abc import Coroutine
from typing import Any

from channels.layers import InMemoryChannelLayer


class EmbeddedChannelLayer(InMemoryChannelLayer):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.server_loop: asyncio.AbstractEventLoop | None = None

    async def receive(self, channel: str) -> Any:
        self.server_loop = asyncio.get_running_loop()
        return await super().receive(channel)

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        await self.on_server_loop(super().send(channel, message))

    async def on_server_loop(self, work: Coroutine[Any, Any, None]) -> None:
        loop = self.server_loop
        if loop is None or loop.is_closed() or loop is asyncio.get_running_loop():
            await work
            return
        await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, loop))
