import asyncio
import threading
import time

from asgiref.sync import async_to_sync

from config.channel_layer import EmbeddedChannelLayer


def test_it_wakes_a_consumer_on_the_server_loop_when_a_worker_thread_publishes():
    """The embedded trap: a send from another thread's loop must wake the server loop at once."""
    layer = EmbeddedChannelLayer()
    received: dict[str, float] = {}
    ready = threading.Event()
    loop = asyncio.new_event_loop()

    async def consume() -> None:
        channel = await layer.new_channel()
        await layer.group_add("workspace-1", channel)
        ready.set()
        message = await layer.receive(channel)
        received["at"] = time.monotonic()
        received["text"] = message["text"]

    server = threading.Thread(target=lambda: loop.run_until_complete(consume()), daemon=True)
    server.start()
    assert ready.wait(5)
    time.sleep(0.2)  # the server loop is now idle, parked in receive()
    sent_at = time.monotonic()
    worker = threading.Thread(
        target=lambda: async_to_sync(layer.group_send)("workspace-1", {"type": "x", "text": "hi"})
    )
    worker.start()
    worker.join(5)
    server.join(5)
    loop.close()
    assert received["text"] == "hi"
    assert received["at"] - sent_at < 0.25, f"delivered after {received['at'] - sent_at:.3f}s"
