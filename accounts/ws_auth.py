"""Websocket authentication for programs: an API token in the Authorization header.

Browsers cannot set headers on a websocket, so a bearer token cannot be a cross-site
request; such connections may omit Origin. Everything else must pass the origin check.
"""

from typing import Any

from channels.db import database_sync_to_async
from channels.security.websocket import AllowedHostsOriginValidator

from accounts import tokens


def bearer(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"authorization" and value[:7].lower() == b"bearer ":
            return value[7:].decode("latin1").strip()
    return None


class TokenAuthMiddleware:
    """After the session middleware: a valid bearer token sets the user when no session did."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        raw = bearer(scope)
        if raw and not getattr(scope.get("user"), "is_authenticated", False):
            token = await database_sync_to_async(tokens.authenticate)(raw)
            if token is not None:
                scope = {**scope, "user": token.user}
        return await self.app(scope, receive, send)


class OriginOrTokenValidator:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.checked = AllowedHostsOriginValidator(app)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        has_origin = any(name == b"origin" for name, _ in scope.get("headers", []))
        if not has_origin and bearer(scope):
            return await self.app(scope, receive, send)
        return await self.checked(scope, receive, send)
