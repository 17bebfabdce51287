"""Websocket consumers' shared machinery: token scopes, and live re-checks of access."""

import asyncio
from typing import Any, ClassVar

from channels.auth import get_user
from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.utils.module_loading import import_string

from accounts import live_access, tokens
from engine import json_input, metrics

CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


class PromptedConsumer(AsyncJsonWebsocketConsumer):
    """A consumer whose channel-layer handlers named in `without_database` skip Channels'
    per-message close_old_connections.

    Channels runs close_old_connections on its one database thread before every handler: with
    a hundred sockets open, that is a hundred thread hops per published message, which were a
    quarter of the web process's CPU (docs/benchmarks.md). Handlers listed here use no database
    connection, or only through database_sync_to_async, which closes stale ones itself.
    """

    without_database: frozenset[str] = frozenset()

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        """A frame that is not JSON, or nested too deep for json.loads (RecursionError), is ignored
        rather than ending the consumer with an error."""
        try:
            return json_input.parse(text_data)
        except json_input.JsonRefused:
            return None

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") in self.without_database:
            await getattr(self, get_handler_name(message))(message)
        else:
            await super().dispatch(message)


def _session_store(session_key: str) -> Any:
    return import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key)


class AccessCheckedConsumer(PromptedConsumer):
    """A socket that keeps checking that its user may still see what it streams.

    Subclasses declare `token_scope` (a Scope value, or "session-only"; None, the default,
    refuses every API token) and implement `authorize` (None when allowed, else a close code)
    and `opened` (join the stream's group with `join`, accept, greet). The socket joins the
    access groups of its user, token and session before it is authorized, so no change can
    fall between the check and the join; a prompt there makes it check again (membership,
    role, session, token) or close. Closes with 4401 when its session or token ended, 4403
    when its user lost access.
    """

    token_scope: ClassVar[str | None] = None
    without_database = frozenset({"access.changed", "access.revoked"})  # database work goes through sync_to_async
    joined: list[str]
    stopped = False  # access lost or socket closed: nothing more is sent, no more checks
    counted = False  # in switchyard_websocket_connections, from opened until disconnect
    recheck: asyncio.TimerHandle | None = None
    rechecking: "asyncio.Task[None] | None" = None

    async def authorize(self) -> int | None:
        raise NotImplementedError

    async def opened(self) -> None:
        raise NotImplementedError

    async def connect(self) -> None:
        self.joined = []
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        token = self.scope.get("api_token")
        if token is not None:
            try:
                tokens.check_scope(token, self.token_scope)
            except PermissionDenied:
                await self.close(code=CLOSE_FORBIDDEN)
                return
            await self.join(live_access.token_group(token.pk))
        elif session_key := self.session_key():
            await self.join(live_access.session_group(session_key))
        await self.join(live_access.user_group(user.pk))
        code = await self.authorize()
        if code is not None:
            await self.leave()
            await self.close(code=code)
            return
        metrics.websocket_connections.labels(type(self).__name__).inc()
        self.counted = True
        await self.opened()
        self.schedule_recheck()

    async def join(self, group: str) -> None:
        await self.channel_layer.group_add(group, self.channel_name)
        self.joined.append(group)

    async def leave(self) -> None:
        joined, self.joined = self.joined, []
        for group in joined:
            await self.channel_layer.group_discard(group, self.channel_name)

    async def disconnect(self, code: int) -> None:
        self.stopped = True
        if self.counted:
            metrics.websocket_connections.labels(type(self).__name__).dec()
            self.counted = False
        if self.recheck is not None:
            self.recheck.cancel()
        await self.leave()

    async def access_changed(self, message: dict[str, Any]) -> None:
        await self.check_access()

    async def access_revoked(self, message: dict[str, Any]) -> None:
        await self.lose_access(CLOSE_NOT_AUTHENTICATED)

    async def check_access(self) -> None:
        if self.stopped:
            return
        if not await self.still_signed_in():
            await self.lose_access(CLOSE_NOT_AUTHENTICATED)
        elif await self.authorize() is not None:
            await self.lose_access(CLOSE_FORBIDDEN)

    async def still_signed_in(self) -> bool:
        token = self.scope.get("api_token")
        if token is not None:
            return bool(await database_sync_to_async(tokens.is_live)(token.pk))
        session_key = self.session_key()
        if not session_key:
            return False
        # A fresh read of the session: the one in the scope was loaded when the socket connected.
        user = await get_user({"session": _session_store(session_key)})
        return bool(user.is_authenticated and user.pk == self.scope["user"].pk)

    def session_key(self) -> str | None:
        return getattr(self.scope.get("session"), "session_key", None)

    async def lose_access(self, code: int) -> None:
        if self.stopped:
            return
        self.stopped = True
        await self.leave()
        await self.close(code=code)

    def schedule_recheck(self) -> None:
        # A backstop for prompts the channel layer dropped; the prompts themselves close sockets within moments.
        self.recheck = asyncio.get_running_loop().call_later(settings.WS_ACCESS_RECHECK_SECONDS, self._start_recheck)

    def _start_recheck(self) -> None:
        self.rechecking = asyncio.ensure_future(self._recheck())

    async def _recheck(self) -> None:
        try:
            await self.check_access()
        finally:
            if not self.stopped:
                self.schedule_recheck()

    async def send(self, text_data: str | None = None, bytes_data: bytes | None = None, close: bool = False) -> None:
        if not self.stopped:
            await super().send(text_data, bytes_data, close)

    async def send_json(self, content: Any, close: bool = False) -> None:
        if not self.stopped:
            await super().send_json(content, close)
