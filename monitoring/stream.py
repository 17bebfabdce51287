"""A run as Server-Sent Events (docs/observability.md, "Following a run"): its events, replayed
from the database after a seq and then followed, and its nodes' text deltas as they come.

The stream waits on the run's channel-layer group, as the run socket does: a prompt wakes it
to read the new events from the database (the truth; prompts may be lost), a text delta is
forwarded as it came. It holds no thread and no database connection while it waits; when no
prompt comes for KEEPALIVE_S it sends a comment (proxies close silent connections) and reads
the database once, in case the prompt of the run's last events was dropped.
"""

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse

from engine.event_types import LiveMessage
from engine.live import as_message, run_group
from engine.models import ENDED_RUN, Run, RunEvent

BATCH = 500
KEEPALIVE_S = 15.0


def frame(kind: str, data: dict[str, Any], event_id: int | None = None) -> bytes:
    """One SSE message; its data is one line of JSON (JSON escapes every line break)."""
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {kind}\ndata: {json.dumps(data, cls=DjangoJSONEncoder)}\n\n".encode()


def last_event_id(raw: str | None) -> int:
    """The seq a reconnecting client saw last (its Last-Event-ID); 0 for none or nonsense."""
    try:
        return max(0, int(raw or 0))
    except ValueError:
        return 0


@database_sync_to_async
def _read(run_id: int, after: int) -> tuple[list[dict[str, Any]], str, int]:
    """Events after `after` (a batch at most), with the run's status and last seq read before them."""
    status, last_seq = Run.objects.filter(pk=run_id).values_list("status", "last_seq").get()
    events = RunEvent.objects.filter(run_id=run_id, seq__gt=after).order_by("seq")[:BATCH]
    return [as_message(event) for event in events], status, last_seq


async def follow(run_id: int, after: int) -> AsyncIterator[bytes]:
    """Every event of the run after seq `after` and every text delta from now on, until the run ends."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    # Joined before the first read: nothing committed after that read can go unannounced.
    await layer.group_add(run_group(run_id), channel)
    try:
        sent = after
        while True:
            events, status, last_seq = await _read(run_id, sent)
            for event in events:
                yield frame("event", event, event["seq"])
                sent = event["seq"]
            if len(events) == BATCH:
                continue
            if status in ENDED_RUN and sent >= last_seq:
                yield frame("end", {"status": status, "last_seq": sent})
                return
            # Until a prompt of events not sent yet (or a quiet spell) calls for a read.
            while True:
                try:
                    message = await asyncio.wait_for(layer.receive(channel), KEEPALIVE_S)
                except TimeoutError:
                    yield b": keep-alive\n\n"
                    break
                if message.get("type") == LiveMessage.TEXT_DELTA:
                    yield frame(LiveMessage.TEXT_DELTA, message)
                elif message.get("type") == LiveMessage.RUN_HINT and message.get("seq", 0) > sent:
                    break
    finally:
        await layer.group_discard(run_group(run_id), channel)


def response(run_id: int, after: int) -> StreamingHttpResponse:
    """The stream as an HTTP response; served by the ASGI server, it iterates on the server's loop."""
    streamed = StreamingHttpResponse(follow(run_id, after), content_type="text/event-stream")
    streamed["Cache-Control"] = "no-cache"
    # nginx would otherwise buffer the stream and deliver it in lumps.
    streamed["X-Accel-Buffering"] = "no"
    return streamed
