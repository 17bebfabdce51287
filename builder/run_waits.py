"""Waiting for a run's end on the channel layer (`wait=true` on the trigger, MCP tool calls), holding no thread
and no connection.

The engine prompts the run's group after each commit (engine/live.py). A waiting call joins that
group with a channel of its own, reads the run once after joining (a run that ended before the
join sends no further prompt), then reads it again only when a prompt may mean the end: one that
carries a run-ending event, or one too large to carry its events. Prompts are lossy (a full
channel, a Redis reconnect), so it also reads every RUN_WAIT_RECHECK_SECONDS and once at the
deadline: a lost prompt costs latency, never a wrong answer.
"""

import asyncio
import json
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from ninja import Status

from engine.event_types import RUN_STATUS_AFTER
from engine.live import run_group
from engine.models import ENDED_RUN, Run, RunStatus

T = TypeVar("T")

# The web process connects per request unless it has a pool, and the calls waiting on runs that
# end together (a batch, a burst of triggers) would all read at once, each on a connection of
# its own, past PostgreSQL's max_connections: at most this many read at a time, per event loop.
READERS = 8
_readers: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Semaphore]" = weakref.WeakKeyDictionary()


class WaitingAnswer(HttpResponse):
    """What a sync API operation returns to answer once a run has ended: `result()`, awaited on the event loop
    (config/waiting_answers.py), gives the operation's result then, which the API renders as the operation
    would have. No thread is held meanwhile. The placeholder itself is never sent.

    The trigger is a sync operation so that its token check, its start and its answer go to the
    request's thread in one hand-off: as an async one it took two (docs/benchmarks.md).
    """

    def __init__(self, result: Callable[[], Awaitable[Status[Any]]]) -> None:
        super().__init__(status=202)
        self.result = result


async def ended(run_id: int, timeout_s: float) -> bool:
    """True once the run has ended, False if it had not after `timeout_s`; the run keeps going either way."""
    return await reached(run_id, ENDED_RUN, timeout_s)


async def settled(run_id: int, timeout_s: float) -> bool:
    """True once the run has ended or waits (for a person, a timer, its child runs); False after `timeout_s`."""
    return await reached(run_id, ENDED_RUN | {RunStatus.WAITING}, timeout_s)


async def reached(run_id: int, statuses: frozenset[str], timeout_s: float) -> bool:
    """True once the run's status is one of `statuses` or the run is gone (deleted: nothing more to wait for),
    False if neither after `timeout_s`."""
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("wait=true needs a channel layer (CHANNEL_LAYERS)")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    group = run_group(run_id)
    channel = await layer.new_channel("run-wait.")
    await layer.group_add(group, channel)
    # One receive at a time, never cancelled by a timeout: channels_redis's pub/sub layer
    # unsubscribes a channel whose receive is cancelled.
    prompt: asyncio.Future[Any] | None = None
    try:
        look = True
        while True:
            if look and await read(_is_in, run_id, statuses):
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            if prompt is None:
                prompt = asyncio.ensure_future(layer.receive(channel))
            done, _ = await asyncio.wait({prompt}, timeout=min(remaining, settings.RUN_WAIT_RECHECK_SECONDS))
            look = not done or loop.time() >= deadline or _may_reach(prompt.result(), statuses)
            if done:
                prompt = None
    finally:
        if prompt is not None:
            prompt.cancel()
        await layer.group_discard(group, channel)


def _may_reach(message: dict[str, Any], statuses: frozenset[str]) -> bool:
    carried = message.get("events") if message.get("type") == "run.hint" else None
    if not carried:
        return True
    return any(RUN_STATUS_AFTER.get(json.loads(event)["event"]) in statuses for event in carried)


def _is_in(run_id: int, statuses: frozenset[str]) -> bool:
    return not Run.objects.filter(pk=run_id).exclude(status__in=statuses).exists()


async def read(function: Callable[..., T], *args: Any) -> T:
    """`function(*args)` on the request's thread, one of at most READERS at a time; its connection closed after."""
    loop = asyncio.get_running_loop()
    readers = _readers.get(loop)
    if readers is None:
        readers = _readers[loop] = asyncio.Semaphore(READERS)
    async with readers:
        return await sync_to_async(_closing)(function, *args)


def _closing(function: Callable[..., T], *args: Any) -> T:
    try:
        return function(*args)
    finally:
        # Between reads the call holds no connection, so hundreds of waits cost no backends.
        # Inside a transaction (a test's) the connection is the transaction's and stays.
        if not connection.in_atomic_block:
            connection.close()
