"""The workspace websocket: a signed-in member receives events published to their current workspace."""

from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.middleware import SESSION_KEY
from accounts.permissions import Action, require

CLOSE_NOT_AUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403


def workspace_group(workspace_id: int) -> str:
    return f"workspace-{workspace_id}"


class PromptedConsumer(AsyncJsonWebsocketConsumer):
    """A consumer whose channel-layer handlers named in `without_database` skip Channels'
    per-message close_old_connections.

    Channels runs close_old_connections on its one database thread before every handler: with
    a hundred sockets open, that is a hundred thread hops per published message, which were a
    quarter of the web process's CPU (docs/benchmarks.md). Handlers listed here use no database
    connection, or only through database_sync_to_async, which closes stale ones itself.
    """

    without_database: frozenset[str] = frozenset()

    async def dispatch(self, message: dict[str, Any]) -> None:
        if message.get("type") in self.without_database:
            await getattr(self, get_handler_name(message))(message)
        else:
            await super().dispatch(message)


class WorkspaceConsumer(PromptedConsumer):
    """Joins the group of the session's current workspace after checking membership.

    Publishers send {"type": "workspace.event", "payload": {...}} to `workspace_group(id)`;
    the payload is forwarded as JSON. Closes with 4401 when not signed in, 4403 otherwise refused.
    """

    group: str | None = None
    without_database = frozenset({"workspace.event"})

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_NOT_AUTHENTICATED)
            return
        # An API token works in its own workspace; a browser in the one chosen in its session.
        workspace_id = getattr(user, "token_workspace_id", None) or self.scope["session"].get(SESSION_KEY)
        try:
            await database_sync_to_async(require)(user, workspace_id or 0, Action.VIEW)
        except (Http404, PermissionDenied):
            await self.close(code=CLOSE_FORBIDDEN)
            return
        self.group = workspace_group(workspace_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self.send_json({"type": "subscribed", "workspace": workspace_id})

    async def disconnect(self, code: int) -> None:
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def workspace_event(self, event: dict[str, Any]) -> None:
        await self.send_json(event["payload"])
