"""The channel layers: the embedded mode's, in-memory but safe to publish to from worker threads, and the name
space of the production mode's on Redis.

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
from redis.connection import parse_url


def redis_prefix(redis_url: str) -> str:
    """The prefix of every channel and group name on the Redis server of `redis_url`, one per database number.

    Redis pub/sub ignores the database number: every client of the server shares one space of
    channel names. Two deployments (or test sessions) on databases 1 and 2 of one server would
    otherwise get each other's prompts for runs and workspaces of the same id, with their events.
    """
    return f"switchyard.db{parse_url(redis_url).get('db', 0)}."


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
