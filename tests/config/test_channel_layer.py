"""The embedded channel layer (config/channel_layer.py) on a real event loop and a real worker thread."""

import asyncio
import selectors
import threading
from typing import Any

from asgiref.sync import async_to_sync

from config.channel_layer import EmbeddedChannelLayer


def test_it_wakes_a_consumer_on_the_server_loop_when_a_worker_thread_publishes():
    """The embedded trap: a send from another thread's loop must wake the server loop at once.

    The server loop here has no timers and no other work, so once it is parked, nothing but the send
    can wake it: without the hand-over the message is never delivered, not merely late.
    """
    layer = EmbeddedChannelLayer()
    received: dict[str, str] = {}
    subscribed = threading.Event()
    parked = threading.Event()

    class Watched(selectors.DefaultSelector):  # the platform's best selector
        def select(self, timeout: float | None = None) -> Any:
            # No timeout means the loop has nothing left to run: it sleeps until a file descriptor wakes it.
            if timeout is None and subscribed.is_set():
                parked.set()
            return super().select(timeout)

    loop = asyncio.SelectorEventLoop(Watched())

    async def consume() -> None:
        channel = await layer.new_channel()
        await layer.group_add("workspace-1", channel)
        subscribed.set()
        message = await layer.receive(channel)
        received["text"] = message["text"]

    server = threading.Thread(target=lambda: loop.run_until_complete(consume()), daemon=True)
    server.start()
    assert parked.wait(5), "the server loop never went idle in receive()"
    worker = threading.Thread(
        target=lambda: async_to_sync(layer.group_send)("workspace-1", {"type": "x", "text": "hi"})
    )
    worker.start()
    worker.join(5)
    server.join(5)
    assert received == {"text": "hi"}, "the parked server loop was not woken by the send"
    loop.close()
