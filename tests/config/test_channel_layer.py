"""The channel layers (config/channel_layer.py): the embedded one on a real event loop and a real worker thread,
the production one's name space on the real Redis server."""

import asyncio
import selectors
import threading
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils.module_loading import import_string
from redis.connection import parse_url

from config.channel_layer import EmbeddedChannelLayer, redis_prefix


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


@pytest.mark.skipif(settings.EMBEDDED, reason="the Redis channel layer is the production mode's")
def test_deployments_on_two_databases_of_one_redis_server_do_not_hear_each_other():
    """Redis pub/sub ignores the database number, so the layer's names carry it."""
    deployed: dict[str, Any] = settings.CHANNEL_LAYERS["default"]
    assert deployed["CONFIG"]["prefix"] == redis_prefix(settings.REDIS_URL)
    layer_class, server = import_string(deployed["BACKEND"]), parse_url(settings.REDIS_URL)

    async def hear() -> list[str]:
        ours, theirs = (
            layer_class(hosts=[{"address": url}], prefix=redis_prefix(url))
            for url in (f"redis://{server['host']}:{server['port']}/{db}" for db in (2, 3))
        )
        channel = await ours.new_channel()
        await ours.group_add("run-7", channel)
        await theirs.group_send("run-7", {"type": "run.hint", "from": "db 3"})
        await ours.group_send("run-7", {"type": "run.hint", "from": "db 2"})
        # Redis delivers the two publishes in the order it took them: a leaked one would come first.
        first = await asyncio.wait_for(ours.receive(channel), 10)
        await ours.flush()
        await theirs.flush()
        return [first["from"]]

    assert asyncio.run(hear()) == ["db 2"]
