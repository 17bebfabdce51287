"""A receiver on the channel layer, as a web process has one: subscribed to groups before anything is published."""

import asyncio
from typing import Any

from engine import live


async def subscribed(layer: Any, *groups: str) -> str:
    """A channel in `groups`, once the publisher's prompts reach it (a subscription takes effect asynchronously).

    Redis applies one connection's subscriptions in order: once a prompt to a group joined after
    them arrives, they hold too.
    """
    channel: str = await layer.new_channel()
    for group in groups:
        await layer.group_add(group, channel)
    await layer.group_add(live.workspace_group(0), channel)
    while True:
        live.to_workspace(0, {"type": "ready"})
        try:
            message = await asyncio.wait_for(layer.receive(channel), 0.2)
        except TimeoutError:
            continue
        if message.get("payload") == {"type": "ready"}:
            await layer.group_discard(live.workspace_group(0), channel)
            return channel
