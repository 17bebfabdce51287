"""Checking and saving MCP server registrations; headers are encrypted here and never read back out but to call."""

import json
import re
from typing import Any
from urllib.parse import urlsplit

from accounts.models import Workspace
from engine import outbound, secrets
from engine.errors import NodeError
from engine.models import McpServer

# An HTTP field name (RFC 9110 token); the value one line, since it goes into a header as it is.
HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}")
# Set by the transport or the SDK: a stored value would break the protocol or steer the request elsewhere.
RESERVED_HEADERS = frozenset(
    {
        "host",
        "content-length",
        "content-type",
        "accept",
        "accept-encoding",
        "connection",
        "transfer-encoding",
        "mcp-session-id",
        "mcp-protocol-version",
        "upgrade",
        "te",
        "trailer",
        "keep-alive",
        "proxy-connection",
    }
)
MAX_HEADERS = 20
MAX_HEADER_VALUE = 8000
# Where stored headers are sent: changing it without entering them again removes them.
HEADER_BOUND_FIELDS = ("url",)


class ServerInvalid(ValueError):
    """A value is unacceptable; `field` names it for the form or the API's error."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def check(workspace_id: int, values: dict[str, Any], server: McpServer | None = None) -> None:
    """Raises ServerInvalid for the first bad value among name and url."""
    name = values.get("name")
    if name is not None:
        taken = McpServer.objects.filter(workspace_id=workspace_id, name=name)
        if server is not None:
            taken = taken.exclude(pk=server.pk)
        if taken.exists():
            raise ServerInvalid("name", f"this workspace already has an MCP server named {name!r}")
    url = values.get("url")
    if url is not None:
        check_url(workspace_id, url)


def check_url(workspace_id: int, url: str) -> None:
    """The outbound guard's answer now, at save; every call checks again (DNS may change)."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ServerInvalid("url", "must be an http:// or https:// URL, e.g. https://mcp.example.com/mcp")
    allowlist = Workspace.objects.filter(pk=workspace_id).values_list("http_allowlist", flat=True).first() or []
    try:
        outbound.check_destination(url, allowlist)
    except outbound.BlockedDestination as error:
        raise ServerInvalid("url", str(error)) from None
    except NodeError:
        pass  # a name that does not resolve here yet (internal DNS): each call is checked when it is made


def check_headers(headers: dict[str, str]) -> None:
    if len(headers) > MAX_HEADERS:
        raise ServerInvalid("headers", f"at most {MAX_HEADERS}")
    for name, value in headers.items():
        if not HEADER_NAME.fullmatch(name) or name.lower() in RESERVED_HEADERS:
            raise ServerInvalid("headers", f"{name!r} is not a header name an MCP server may be sent")
        if len(value) > MAX_HEADER_VALUE or any(ch in value for ch in "\r\n\x00"):
            # The value itself is never quoted back: it is usually a credential.
            raise ServerInvalid("headers", f"the value of {name} must be one line of at most {MAX_HEADER_VALUE}")


def save(
    workspace_id: int, values: dict[str, Any], headers: dict[str, str] | None, server: McpServer | None = None
) -> McpServer:
    """Create or update; `headers` None keeps the stored ones, {} removes them, anything else replaces them.

    A new URL with no headers entered again removes the stored ones: whoever may edit a server
    must not be able to point its credentials at a server of theirs.
    """
    check(workspace_id, values, server)
    if headers is not None:
        check_headers(headers)
    moved = server is not None and any(f in values and values[f] != getattr(server, f) for f in HEADER_BOUND_FIELDS)
    if moved and headers is None:
        headers = {}
    server = server or McpServer(workspace_id=workspace_id)
    for field, value in values.items():
        setattr(server, field, value)
    if headers is not None:
        server.header_names = sorted(headers)
        server.headers_encrypted = secrets.encrypt(json.dumps(headers)) if headers else ""
    server.save()
    return server


def headers_of(server: McpServer) -> dict[str, str]:
    """The stored headers in clear, only to send them."""
    if not server.headers_encrypted:
        return {}
    found: dict[str, str] = json.loads(secrets.decrypt(server.headers_encrypted))
    return found


def rotate_all() -> int:
    """Re-encrypt every server's headers under the first CREDENTIAL_KEYS key; how many were rewritten."""
    rotated = 0
    for server in McpServer.objects.exclude(headers_encrypted="").only("pk", "headers_encrypted"):
        McpServer.objects.filter(pk=server.pk).update(headers_encrypted=secrets.rotate(server.headers_encrypted))
        rotated += 1
    return rotated
