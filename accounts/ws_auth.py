"""Websocket admission: the Origin check (as strict as Django's CSRF check) and API tokens for programs.

A connection that carries cookies is a browser's, whatever else it sends: its Origin must be
the site's own (the scheme, host and port the socket was opened on, the host being in
ALLOWED_HOSTS) or one of CSRF_TRUSTED_ORIGINS. A program that sends only a bearer token, no
cookie and no Origin, cannot be a cross-site page (browsers cannot set headers on a
websocket) and skips the check.
"""

from typing import Any
from urllib.parse import urlsplit

from channels.db import database_sync_to_async
from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import is_same_domain

from accounts import tokens

DEFAULT_PORTS = {"http": 80, "https": 443}
Origin = tuple[str, str, int]


def header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin1"))
    return None


def bearer(scope: dict[str, Any]) -> str | None:
    value = header(scope, b"authorization")
    if value is not None and value[:7].lower() == "bearer ":
        return value[7:].strip()
    return None


def _origin(url: str) -> Origin | None:
    """(scheme, host, port) with the default port filled in; None for anything that is not an http(s) origin."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname or parts.path not in ("", "/"):
        return None
    return parts.scheme, parts.hostname.lower(), port or DEFAULT_PORTS[parts.scheme]


def _is_secure(scope: dict[str, Any]) -> bool:
    if scope.get("scheme") in ("wss", "https"):
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if proxy:
        name, secure_value = proxy
        sent = header(scope, name.removeprefix("HTTP_").lower().replace("_", "-").encode())
        return sent is not None and sent.split(",", 1)[0].strip() == secure_value
    return False


def _own_origin(scope: dict[str, Any]) -> Origin | None:
    """The origin of the page that may open this socket: its scheme, and the Host it was opened on, if allowed."""
    host = header(scope, b"x-forwarded-host") if settings.USE_X_FORWARDED_HOST else None
    host = host or header(scope, b"host")
    if not host:
        return None
    domain, _ = split_domain_port(host)
    if not domain or not validate_host(domain, settings.ALLOWED_HOSTS):
        return None
    return _origin(f"{'https' if _is_secure(scope) else 'http'}://{host}")


def _trusted(origin: Origin) -> bool:
    for pattern in settings.CSRF_TRUSTED_ORIGINS:
        if "://*." in pattern:  # Django's wildcard, https://*.example.com: the domain and its subdomains
            scheme, rest = pattern.split("://*.", 1)
            allowed = _origin(f"{scheme}://{rest}")
            if allowed is not None and allowed[::2] == origin[::2] and is_same_domain(origin[1], "." + allowed[1]):
                return True
        elif _origin(pattern) == origin:
            return True
    return False


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Whether the socket's Origin matches, in scheme, host and port, the site itself or a trusted origin."""
    sent = header(scope, b"origin")
    origin = _origin(sent) if sent else None
    if origin is None:
        return False
    return origin == _own_origin(scope) or _trusted(origin)


def is_token_client(scope: dict[str, Any]) -> bool:
    """A program: a bearer token, and nothing a browser would send (cookies, Origin)."""
    return bearer(scope) is not None and header(scope, b"cookie") is None and header(scope, b"origin") is None


class OriginValidator:
    """Outermost: refuses a socket whose Origin is not allowed, unless it is a pure token client."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not is_token_client(scope) and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)


class TokenAuthMiddleware:
    """After the session middleware: a valid bearer token sets the user (and scope["api_token"]) when no session did.

    The token's scopes are checked by the consumer, against the scope its route declares.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        raw = bearer(scope)
        if raw and not getattr(scope.get("user"), "is_authenticated", False):
            token = await database_sync_to_async(tokens.authenticate)(raw)
            if token is not None:
                scope = {**scope, "user": token.user, "api_token": token}
        return await self.app(scope, receive, send)
