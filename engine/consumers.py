"""The run websocket: replay a run's events from the database after a given seq, then follow it live."""

import asyncio
from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.consumers import CLOSE_FORBIDDEN, AccessCheckedConsumer
from accounts.models import Scope
from accounts.permissions import Action, get_for
from engine.live import as_message, run_group
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
    everything after SEQ again. Channel-layer messages only prompt a read of the database.
    """

    token_scope = Scope.RUNS_READ
    run_id: int
    last_seq = 0
    sent: int = 0
    check: asyncio.TimerHandle | None = None
    without_database = AccessCheckedConsumer.without_database | {"run.hint"}  # its reads go through events_after

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
