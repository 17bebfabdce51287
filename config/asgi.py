"""ASGI entry point: HTTP through Django (and /mcp through the MCP SDK), websockets through Channels with origin,
session and token checks."""

import os
from typing import Any

import django

from config import startup_heap, tracing

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Before Django loads its middleware, which the Django instrumentation adds to.
tracing.configure()
django.setup(set_prefix=False)  # as django.core.asgi.get_asgi_application() does, before its handler

from config.middleware import ASGIHandler  # noqa: E402  (imports Django's middleware, which needs the app registry)

# Django's, with its middleware on the event loop (config/middleware.py).
django_asgi_app = ASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402  (needs the app registry loaded above)
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from accounts.ws_auth import OriginValidator, TokenAuthMiddleware  # noqa: E402
from builder.mcp_endpoint import PATHS as MCP_PATHS  # noqa: E402
from builder.mcp_endpoint import endpoint as mcp_endpoint  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402


async def http(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The MCP endpoint speaks ASGI to the official SDK; every other path is Django's."""
    if scope["path"] in MCP_PATHS:
        await mcp_endpoint(scope, receive, send)
    else:
        await django_asgi_app(scope, receive, send)


application = ProtocolTypeRouter(
    {
        "http": http,
        "websocket": OriginValidator(AuthMiddlewareStack(TokenAuthMiddleware(URLRouter(websocket_urlpatterns)))),
    }
)

# Last, once everything a request needs is loaded: full collections then skip it (config/startup_heap.py).
startup_heap.freeze_web()
