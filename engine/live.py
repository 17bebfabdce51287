"""Prompts on the channel layer after a run changes: "look again", never the data itself;
and the text deltas of a model answer being written, which are never stored.

Channels over Redis drops messages when a channel is full and groups expire, so consumers
treat these as hints and read the events from the database, which is the truth. A lost text
delta costs a viewer part of a draft that the node's stored output replaces when it ends.
"""

import asyncio
import json
import logging
import os
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any

import uvloop
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder

from engine.event_types import LiveMessage
from engine.models import RunEvent

# Prompts stay small: a transaction with more events than this sends only "look again".
MAX_CARRIED = 50
# A send that takes longer is abandoned (and logged) so that the sends queued behind it go on;
# one to a Redis on 127.0.0.1 takes well under a millisecond.
SEND_TIMEOUT_S = 2.0
# Far above any burst (a worker publishes a few hundred changes a second; 16,000 from 8 threads at
# once queued fine in bench/publisher.py), so the queue fills only while sends time out (each is
# logged); it then forgets its oldest prompts, hints the database can replace, rather than grow
# without bound.
MAX_QUEUED = 100_000

Send = Callable[[], Awaitable[None]]

log = logging.getLogger(__name__)


def run_group(run_id: int) -> str:
    """The channel-layer group of a run's viewers (monitoring.consumers.RunConsumer)."""
    return f"run-{run_id}"


def workspace_group(workspace_id: int) -> str:
    """The channel-layer group of a workspace's open lists (monitoring.consumers.WorkspaceConsumer).

    Named here, by the publisher, so that the consumers in the web layer import the engine and
    never the other way round."""
    return f"workspace-{workspace_id}"


def as_message(event: RunEvent) -> dict[str, Any]:
    """An event as the run websocket sends it (docs/websocket.md)."""
    return {
        "type": "event",
        "seq": event.seq,
        "event": event.type,
        "node_id": event.node_id,
        "payload": event.payload,
        "at": event.created_at.isoformat(),
    }


class Publisher:
    """One event loop per process, on its own thread, for every channel-layer send.

    async_to_sync would start a new loop (and channels_redis a new Redis connection) for
    each send, which cost several milliseconds per node; this loop keeps its connections.
    Sends are fire-and-forget: the engine never waits for a prompt.

    Node threads append sends to a queue that one long-lived coroutine on the loop drains in
    order. Handing each send over with run_coroutine_threadsafe cost a lock, a future, a
    wake-up of the loop and a task per change, about a sixth of a draining worker's samples
    under py-spy; now the loop is woken once per burst, when it has gone idle.

    The sends run one after the other, each bounded by SEND_TIMEOUT_S. Running them
    concurrently would buy nothing: channels_redis's pub/sub layer holds a lock around each
    PUBLISH, so they were serialised already, and one hung PUBLISH held every send behind it
    for good. In order, the deltas of a text stream leave in the order they were taken.

    The loop is uvloop's: its socket transports and wake-ups are C, and the publisher's thread
    spent 15 % less CPU per change than on asyncio's own loop (bench/publisher.py).
    """

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.pid = 0
        self.starting = threading.Lock()
        self.queue: deque[Send] = deque(maxlen=MAX_QUEUED)
        self.idle = False
        self.wake_up = asyncio.Event()
        self.drainer: asyncio.Task[None] | None = None  # held: the loop keeps only a weak reference to its tasks

    def submit(self, send: Send, after: float = 0.0) -> None:
        """Queue `send()` to run on the publisher's loop (`after` seconds from when its turn comes)."""
        if self.pid != os.getpid():  # a forked worker child starts its own loop
            self._start()
        self.queue.append(send if not after else self._later(after, send))
        # The drainer sets idle before it looks at the queue a last time, and this reads idle after
        # appending: either the drainer sees the send or this sees it idle, so no send is left waiting.
        if self.idle:
            self.idle = False
            loop = self.loop
            assert loop is not None  # started above
            loop.call_soon_threadsafe(self.wake_up.set)

    def _start(self) -> None:
        with self.starting:
            if self.pid == os.getpid():
                return
            loop = uvloop.new_event_loop()
            # Sends queued by the parent before the fork are the parent's to make.
            self.queue, self.idle, self.wake_up = deque(maxlen=MAX_QUEUED), False, asyncio.Event()
            self.drainer = loop.create_task(self._drain())
            self.loop, self.pid = loop, os.getpid()
            threading.Thread(target=loop.run_forever, name="channel-publisher", daemon=True).start()

    async def _drain(self) -> None:
        while True:
            while self.queue:
                send = self.queue.popleft()
                limit = asyncio.timeout(SEND_TIMEOUT_S)
                try:
                    async with limit:
                        await send()
                except Exception as error:  # noqa: BLE001  (a lost prompt costs latency only: readers catch up)
                    why = f"no answer within {SEND_TIMEOUT_S} s" if limit.expired() else error
                    log.warning("could not publish to the channel layer: %s", why)
            self.idle = True
            if self.queue:
                self.idle = False
                continue
            await self.wake_up.wait()
            self.wake_up.clear()

    def _later(self, after: float, send: Send) -> Send:
        async def wait_elsewhere() -> None:
            # A timer, not a sleep, so that the sends queued behind this one do not wait with it.
            asyncio.get_running_loop().call_later(after, self.submit, send)

        return wait_elsewhere


publisher = Publisher()


@dataclass
class _Prompt:
    """The prompts of one run's changes, held to go as one (see `held`)."""

    workspace_id: int
    events: list[RunEvent]
    status: str | None


class _Holding(threading.local):
    """The prompts this thread holds, by run, while it is in a `held` block; None outside one."""

    runs: dict[int, _Prompt] | None = None


_holding = _Holding()


@contextmanager
def held() -> Iterator[None]:
    """Hold the prompts of this thread's changes until the block ends (or `release()`), each run's sent as one.

    A worker claims a node and, when it is cheap, runs the chain that follows in the next
    transaction a few milliseconds later: the claim's prompt ("running") and the chain's go
    as one instead of two, the run's viewers see the same events, and the workspace's lists
    only the status the run ended in. Whoever starts work that takes long (a node thread, a
    wait) releases first, so that a viewer never waits on it for "running".
    """
    if _holding.runs is not None:  # the outer block sends
        yield
        return
    _holding.runs = {}
    try:
        yield
    finally:
        release()
        _holding.runs = None


def release() -> None:
    """Send the prompts held so far (none outside a `held` block); holding goes on until the block ends."""
    prompts = _holding.runs
    if not prompts:
        return
    _holding.runs = {}
    for run_id, prompt in prompts.items():
        _send(run_id, prompt.workspace_id, prompt.events, prompt.status)


def publish(run_id: int, workspace_id: int, events: list[RunEvent], run_status: str | None) -> None:
    """Tell the run's viewers what was just committed; tell the workspace when the run's status moved.

    The events ride along so that viewers already up to date need not each query the database;
    a viewer that missed a prompt notices the gap and reads the database instead. Inside a
    `held` block the prompt waits, joined to the run's held one when its events follow on.
    """
    prompts = _holding.runs
    if prompts is None or not events:
        _send(run_id, workspace_id, events, run_status)
        return
    earlier = prompts.pop(run_id, None)
    if earlier is not None and earlier.events[-1].seq + 1 == events[0].seq:
        # Carried events must run on from `first` without a gap: viewers send them as they come.
        earlier.events.extend(events)
        earlier.status = run_status or earlier.status
        prompts[run_id] = earlier
        return
    if earlier is not None:
        _send(run_id, earlier.workspace_id, earlier.events, earlier.status)
    prompts[run_id] = _Prompt(workspace_id, list(events), run_status)


def _send(run_id: int, workspace_id: int, events: list[RunEvent], run_status: str | None) -> None:
    layer = get_channel_layer()
    if layer is None or not events:
        return
    last_seq = events[-1].seq
    # Encoded once here rather than once per viewer: with a hundred viewers that is most of the work.
    carried = (
        [json.dumps(as_message(event), cls=DjangoJSONEncoder) for event in events] if len(events) <= MAX_CARRIED else []
    )
    hint = {"type": "run.hint", "first": events[0].seq, "seq": last_seq, "events": carried}
    moved = {"type": "run.updated", "run": run_id, "status": run_status, "seq": last_seq}

    # Both prompts of a change in one hand-off to the publisher's loop: the loop's work around the
    # sends (wake-ups, tasks, futures) was about 40 % of its thread's samples under py-spy.
    async def send() -> None:
        try:
            await layer.group_send(run_group(run_id), hint)
        finally:
            if run_status is not None:
                await layer.group_send(workspace_group(workspace_id), _workspace_event(moved))

    publisher.submit(send)


def _workspace_event(payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": "workspace.event", "payload": payload}


def to_workspace(workspace_id: int, payload: dict[str, Any]) -> None:
    """A prompt to every open list of the workspace (runs list, review inbox)."""
    layer = get_channel_layer()
    if layer is not None:
        publisher.submit(partial(layer.group_send, workspace_group(workspace_id), _workspace_event(payload)))


# Deltas of a streamed answer closer together than this travel as one message.
DELTA_INTERVAL_S = 0.05


class TextStream:
    """A running node's answer as it is written, sent to the run's viewers as `text.delta` messages.

    Never stored: the node's output holds the final text. Pieces are coalesced so that at most
    one message leaves per DELTA_INTERVAL_S: the first at once (the time to first token), the
    next when the interval is over, with whatever was written meanwhile. Each message carries
    the offset of its text in the answer; `restart` begins a new answer (a retried or fallback
    call) at offset 0, which tells viewers to drop the old draft. Written from the node's
    thread, sent from the publisher's loop.
    """

    def __init__(self, run_id: int, node_id: str, attempt: int) -> None:
        self.run_id = run_id
        self.node_id = node_id
        self.attempt = attempt
        self.offset = 0
        self.pending = ""
        self.sent_at = float("-inf")
        self.scheduled = False
        self.lock = threading.Lock()

    def restart(self) -> None:
        with self.lock:
            self.offset = 0
            self.pending = ""

    def write(self, piece: str) -> None:
        with self.lock:
            self.pending += piece
            if self.scheduled:
                return
            self.scheduled = True
            wait = max(0.0, self.sent_at + DELTA_INTERVAL_S - time.monotonic())
        self._submit(wait)

    def flush(self) -> None:
        """Send what is written now: the answer is complete, or the call failed."""
        with self.lock:
            if not self.pending:
                return
        self._submit(0.0)

    def _submit(self, wait: float) -> None:
        layer = get_channel_layer()
        if layer is None:
            return

        async def send() -> None:
            with self.lock:
                self.scheduled = False
                message = self._take()
            # The publisher sends in order, so the deltas of this stream leave in the order taken.
            if message is not None:
                await layer.group_send(run_group(self.run_id), message)

        publisher.submit(send, after=wait)

    def _take(self) -> dict[str, Any] | None:
        if not self.pending:
            return None
        message = {
            "type": LiveMessage.TEXT_DELTA.value,
            "node_id": self.node_id,
            "attempt": self.attempt,
            "offset": self.offset,
            "text": self.pending,
        }
        self.offset += len(self.pending)
        self.pending = ""
        self.sent_at = time.monotonic()
        return message
