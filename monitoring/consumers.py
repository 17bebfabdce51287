"""The live sockets: a run's events (replayed from the database after a given seq, then followed),
and the workspace's prompts to its open lists (runs, review inbox, knowledge bases, budget alerts)."""

import asyncio
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.consumers import CLOSE_FORBIDDEN, AccessCheckedConsumer
from accounts.middleware import SESSION_KEY
from accounts.models import Scope
from accounts.permissions import Action, get_for, require
from engine.event_types import LiveMessage
from engine.live import as_message, run_group, workspace_group
from engine.models import Run, RunEvent

CLOSE_NO_SUCH_RUN = 4404
BATCH = 500
QUIET_CHECK_S = 0.25


def _after(raw: Any) -> int:
    try:
        return max(0, int(raw))
    except (TypeError, ValueError):
        return 0


class RunConsumer(AccessCheckedConsumer):
    """Protocol (docs/websocket.md): connect with ?after=SEQ; receive hello, then every event
    with a higher seq, in order, exactly once; send {"type": "resume", "after": SEQ} to be sent
    everything after SEQ again. Channel-layer messages only prompt a read of the database,
    except text deltas, which are forwarded as they come.
    """

    token_scope = Scope.RUNS_READ
    run_id: int
    last_seq = 0
    sent: int = 0
    check: asyncio.TimerHandle | None = None
    # A hint's reads go through events_after; a text delta is forwarded as it came.
    without_database = AccessCheckedConsumer.without_database | {"run.hint", LiveMessage.TEXT_DELTA.value}

    async def authorize(self) -> int | None:
        self.run_id = int(self.scope["url_route"]["kwargs"]["run_id"])
        try:
            run = await database_sync_to_async(get_for)(self.scope["user"], Run, Action.VIEW, pk=self.run_id)
        except Http404:
            return CLOSE_NO_SUCH_RUN
        except PermissionDenied:
            return CLOSE_FORBIDDEN
        self.last_seq = run.last_seq
        return None

    async def opened(self) -> None:
        self.sending = asyncio.Lock()
        self.behind = False
        await self.join(run_group(self.run_id))
        await self.accept()
        query = parse_qs(self.scope.get("query_string", b"").decode())
        self.sent = _after(query.get("after", ["0"])[0])
        await self.send_json({"type": "hello", "run": self.run_id, "last_seq": self.last_seq})
        await self.catch_up()

    async def disconnect(self, code: int) -> None:
        if self.check is not None:
            self.check.cancel()
        await super().disconnect(code)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if isinstance(content, dict) and content.get("type") == "resume":
            async with self.sending:
                self.sent = _after(content.get("after"))
            await self.catch_up()

    async def run_hint(self, message: dict[str, Any]) -> None:
        """Send the events the prompt carries when they follow on from what was sent; else read the database."""
        if message.get("seq", 0) <= self.sent:
            return
        carried = message.get("events") or []
        follows = message.get("first") == self.sent + 1
        if carried and follows and not self.sending.locked():
            async with self.sending:
                if message.get("first") == self.sent + 1:
                    for text in carried:
                        await self.send(text_data=text)
                    self.sent = message["seq"]
                    self.check_soon()
                    return
        await self.catch_up()

    async def text_delta(self, message: dict[str, Any]) -> None:
        """A running node's answer as it is written (engine.live.TextStream): never stored, so never replayed."""
        await self.send_json(message)

    def check_soon(self) -> None:
        """Read the database once things go quiet: a full channel drops prompts silently, and
        the last ones of a burst may be among them. Each new prompt pushes the check back."""
        if self.check is not None:
            self.check.cancel()
        self.check = asyncio.get_running_loop().call_later(
            QUIET_CHECK_S, lambda: asyncio.ensure_future(self.catch_up())
        )

    async def catch_up(self) -> None:
        """Send every stored event after the last one sent. Hints arriving meanwhile coalesce into one more pass."""
        self.behind = True
        if self.sending.locked():
            return
        async with self.sending:
            while self.behind:
                self.behind = False
                while batch := await self.events_after(self.sent):
                    for event in batch:
                        await self.send_json(event)
                    self.sent = batch[-1]["seq"]

    @database_sync_to_async
    def events_after(self, seq: int) -> list[dict[str, Any]]:
        return [as_message(e) for e in RunEvent.objects.filter(run_id=self.run_id, seq__gt=seq).order_by("seq")[:BATCH]]


class WorkspaceConsumer(AccessCheckedConsumer):
    """Joins the group of the session's current workspace (a token's own workspace) after checking membership.

    Publishers send {"type": "workspace.event", "payload": {...}} to `workspace_group(id)`;
    the payload is forwarded as JSON. Closes with 4401 when not signed in, 4403 otherwise refused.
    """

    token_scope = Scope.RUNS_READ
    workspace_id: int | None = None
    without_database = AccessCheckedConsumer.without_database | {"workspace.event"}

    async def authorize(self) -> int | None:
        if self.workspace_id is None:
            user = self.scope["user"]
            # An API token works in its own workspace; a browser in the one chosen in its session.
            self.workspace_id = getattr(user, "token_workspace_id", None) or self.scope["session"].get(SESSION_KEY) or 0
        try:
            await database_sync_to_async(require)(self.scope["user"], self.workspace_id or 0, Action.VIEW)
        except (Http404, PermissionDenied):
            return CLOSE_FORBIDDEN
        return None

    async def opened(self) -> None:
        await self.join(workspace_group(self.workspace_id or 0))
        await self.accept()
        await self.send_json({"type": "subscribed", "workspace": self.workspace_id})

    async def workspace_event(self, event: dict[str, Any]) -> None:
        await self.send_json(event["payload"])
