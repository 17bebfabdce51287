"""A run as Server-Sent Events (docs/observability.md, "Following a run"): its events, replayed
from the database after a seq and then followed, and its nodes' text deltas as they come.

The stream waits on the run's channel-layer group, as the run socket does: a prompt wakes it
to read the new events from the database (the truth; prompts may be lost), a text delta is
forwarded as it came. It holds no thread and no database connection while it waits; when no
prompt comes for KEEPALIVE_S it sends a comment (proxies close silent connections) and reads
the database once, in case the prompt of the run's last events was dropped.

Like the sockets (accounts/consumers.py), a stream keeps checking that its caller may still see
the run: at every read of the database, and at once when the caller's user, token or session
group says their access changed (accounts/live_access.py). A stream whose caller lost access
ends with an `end` message whose status is `forbidden`.
"""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpRequest, StreamingHttpResponse

from accounts import live_access, tokens
from accounts.models import ApiToken
from accounts.permissions import Action, can
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


@dataclass(frozen=True)
class Access:
    """Who follows a stream: `allowed` says whether they still may, `groups` announce a change of that."""

    allowed: Callable[[], bool]
    groups: tuple[str, ...]


def access_of(request: HttpRequest, workspace_id: int) -> Access:
    """The caller of `request` as a stream checks them again: their token still live, still a member."""
    user = request.user
    token = getattr(request, "auth", None)
    token_id = token.pk if isinstance(token, ApiToken) else None
    groups = [live_access.user_group(user.pk)] if user.pk is not None else []
    if token_id is not None:
        groups.append(live_access.token_group(token_id))
    elif session_key := getattr(getattr(request, "session", None), "session_key", None):
        groups.append(live_access.session_group(session_key))

    def allowed() -> bool:
        return (token_id is None or tokens.is_live(token_id)) and can(user, workspace_id, Action.VIEW)

    return Access(allowed, tuple(groups))


@database_sync_to_async
def _read(run_id: int, after: int, access: Access) -> tuple[list[dict[str, Any]], str, int] | None:
    """Events after `after` (a batch at most), with the run's status and last seq read before them;
    None when the caller may no longer see the run."""
    if not access.allowed():
        return None
    status, last_seq = Run.objects.filter(pk=run_id).values_list("status", "last_seq").get()
    events = RunEvent.objects.filter(run_id=run_id, seq__gt=after).order_by("seq")[:BATCH]
    return [as_message(event) for event in events], status, last_seq


async def follow(run_id: int, after: int, access: Access) -> AsyncIterator[bytes]:
    """Every event of the run after seq `after` and every text delta from now on, until the run ends
    (or the caller loses access to it)."""
    layer = get_channel_layer()
    channel = await layer.new_channel()
    groups = (run_group(run_id), *access.groups)
    # Joined before the first read: nothing committed after that read can go unannounced.
    for group in groups:
        await layer.group_add(group, channel)
    try:
        sent = after
        while True:
            read = await _read(run_id, sent, access)
            if read is None:
                yield frame("end", {"status": "forbidden", "last_seq": sent})
                return
            events, status, last_seq = read
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
                elif message.get("type") in (live_access.CHECK_AGAIN, live_access.REVOKED):
                    break  # the next read checks access again
    finally:
        for group in groups:
            await layer.group_discard(group, channel)


def response(run_id: int, after: int, access: Access) -> StreamingHttpResponse:
    """The stream as an HTTP response; served by the ASGI server, it iterates on the server's loop."""
    streamed = StreamingHttpResponse(follow(run_id, after, access), content_type="text/event-stream")
    streamed["Cache-Control"] = "no-cache"
    # nginx would otherwise buffer the stream and deliver it in lumps.
    streamed["X-Accel-Buffering"] = "no"
    return streamed
