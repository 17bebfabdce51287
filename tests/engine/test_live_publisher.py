"""The channel-layer publisher (engine.live): prompts from many node threads, over the real channel layer.

Each node thread hands its prompts to the publisher's one loop, which sends them in turn: every
prompt must arrive, in the order each run's changes were published, and a send that fails or
hangs (a Redis of the test's own, stopped or frozen) must be logged and leave the others going.
"""

import asyncio
import logging
import signal
import threading
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import uvloop
from asgiref.sync import async_to_sync
from channels.layers import channel_layers
from django.conf import settings
from django.utils.module_loading import import_string

from engine import live
from tests.engine.channel_receiver import committed, subscribed
from tests.private_services import RedisServer

pytestmark = pytest.mark.skipif(settings.EMBEDDED, reason="the Redis channel layer; the embedded mode has its own test")

THREADS = 8  # as many as a worker's node threads (docs/deploy.md)
CHANGES = 150  # per thread, each its own run's next event
RECEIVE_S = 10  # a bound for a stuck test, never a measurement


def receive_hints(counts: dict[int, int], publish: Callable[[], None]) -> dict[int, list[int]]:
    """The seqs of the run prompts that arrive for each run once `publish()` is called, `counts[run]` of them."""

    async def scenario() -> dict[int, list[int]]:
        layer = channel_layers.make_backend("default")  # a receiver of its own, as a web process has
        channels = {run_id: await subscribed(layer, live.run_group(run_id)) for run_id in counts}
        publish()

        async def hints(run_id: int) -> list[int]:
            seqs: list[int] = []
            while len(seqs) < counts[run_id]:
                message = await asyncio.wait_for(layer.receive(channels[run_id]), RECEIVE_S)
                if message["type"] == "run.hint":
                    seqs.append(message["seq"])
            await layer.group_discard(live.run_group(run_id), channels[run_id])
            return seqs

        received = await asyncio.gather(*(hints(run_id) for run_id in counts))
        return dict(zip(counts, received, strict=True))

    return async_to_sync(scenario)()


def test_every_prompt_from_many_threads_arrives_in_order_for_each_run():
    runs = range(1_000_001, 1_000_001 + THREADS)
    start = threading.Barrier(THREADS)

    def node_thread(run_id: int) -> None:
        start.wait()  # all at once, so that their prompts interleave in the queue
        for seq in range(1, CHANGES + 1):
            live.publish(run_id, 0, committed(seq), None)

    def publish() -> None:
        for run_id in runs:
            threading.Thread(target=node_thread, args=(run_id,), daemon=True).start()

    received = receive_hints(dict.fromkeys(runs, CHANGES), publish)

    assert received == {run_id: list(range(1, CHANGES + 1)) for run_id in runs}


@pytest.fixture
def private_layer(private_redis: RedisServer) -> Any:
    """The configured channel layer, but on the test's own Redis, which the test may stop or freeze."""
    layer = import_string(str(settings.CHANNEL_LAYERS["default"]["BACKEND"]))(hosts=[private_redis.url])
    sent = threading.Event()

    async def first() -> None:
        await layer.group_send("somewhere", {"type": "ping"})
        sent.set()

    live.publisher.submit(first)  # its connection is open before the test breaks it
    assert sent.wait(RECEIVE_S)
    return layer


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "engine.live" and r.levelno == logging.WARNING]


def to_private(layer: Any) -> Callable[[], Awaitable[None]]:
    return lambda: layer.group_send("somewhere", {"type": "ping"})


def test_a_failing_send_is_logged_and_the_sends_after_it_go_on(private_redis, private_layer, caplog):
    caplog.set_level(logging.WARNING, logger="engine.live")
    private_redis.stop()

    def publish() -> None:
        live.publisher.submit(to_private(private_layer))
        live.publish(1_000_101, 0, committed(1), None)

    assert receive_hints({1_000_101: 1}, publish) == {1_000_101: [1]}
    [warning] = warnings_logged(caplog)
    assert warning.startswith("could not publish to the channel layer: ")


def test_a_send_that_hangs_is_given_up_and_the_sends_behind_it_go_on(private_redis, private_layer, caplog):
    caplog.set_level(logging.WARNING, logger="engine.live")
    assert private_redis.process is not None
    private_redis.process.send_signal(signal.SIGSTOP)  # it keeps its connections and answers nothing

    def publish() -> None:
        live.publisher.submit(to_private(private_layer))
        live.publish(1_000_201, 0, committed(1), None)

    try:
        assert receive_hints({1_000_201: 1}, publish) == {1_000_201: [1]}
    finally:
        private_redis.process.send_signal(signal.SIGCONT)

    assert warnings_logged(caplog) == [
        f"could not publish to the channel layer: no answer within {live.SEND_TIMEOUT_S} s"
    ]


def test_the_publisher_sends_from_a_uvloop_loop():
    """Its sends cost the publisher's thread 15 % less CPU there than on asyncio's own loop (bench/publisher.py)."""
    live.to_workspace(0, {"type": "loop check"})
    assert isinstance(live.publisher.loop, uvloop.Loop)
