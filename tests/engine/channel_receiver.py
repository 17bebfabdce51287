"""The channel layer in tests: a receiver subscribed to groups before anything is published, as a web process
has one, and the events a committed change hands to live.publish."""

import asyncio
from datetime import UTC, datetime
from typing import Any

from engine import live
from engine.event_types import EventType
from engine.models import RunEvent


def committed(*seqs: int) -> list[RunEvent]:
    """The events of one committed change, numbered `seqs`, as the engine hands them to live.publish."""
    return [
        RunEvent(seq=seq, type=EventType.NODE_RUNNING, node_id="shape", payload={}, created_at=datetime.now(UTC))
        for seq in seqs
    ]


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
