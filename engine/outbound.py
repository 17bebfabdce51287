"""The one outbound HTTP client for nodes. It refuses server-side request forgery.

Every hop is checked before any socket opens: http(s) only, ports 80/443 unless allowlisted, and every address
the host resolves to must be globally routable or allowlisted. The connection then goes to that checked address,
so a second DNS answer (rebinding) cannot redirect it.
"""

import functools
import ipaddress
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import Message
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings

from engine import json_input
from engine.errors import NodeError, NonRetryableError

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Reply = tuple[int, dict[str, str], bytes]

DEFAULT_PORTS = {"http": 80, "https": 443}
REDIRECTS = frozenset({301, 302, 303, 307, 308})
WBITS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
# Metadata endpoints hand out cloud credentials, so only an allowlist entry naming the exact address admits one.
_METADATA = ("169.254.169.254", "169.254.170.2", "169.254.170.23", "100.100.100.200", "fd00:ec2::254", "fd00:ec2::23")
METADATA = frozenset(map(ipaddress.ip_address, _METADATA))
CGNAT, THIS_NETWORK = ipaddress.ip_network("100.64.0.0/10"), ipaddress.ip_network("0.0.0.0/8")
NAT64 = ipaddress.ip_network("64:ff9b::/96")
CREDENTIAL_HEADERS = ("authorization", "cookie", "proxy-authorization")
_HOSTNAME = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*")


_tls_once = threading.Lock()


def default_tls() -> ssl.SSLContext:
    """httpx's default verification plus OUTBOUND_CA_BUNDLE, built once per process for every
    client: a client that loads the CA bundle itself spends 50 to 75 ms of CPU on it. The lock
    keeps the first fan-out's threads from each building it at once."""
    with _tls_once:
        return _tls(settings.OUTBOUND_CA_BUNDLE)


@functools.cache
def _tls(extra_cas: str) -> ssl.SSLContext:
    context = httpx.create_ssl_context()
    if extra_cas:
        context.load_verify_locations(cafile=extra_cas)
    return context


class BlockedDestination(NonRetryableError):
    code = "blocked_destination"


@dataclass(frozen=True)
class AllowEntry:
    host: str | None
    network: Network | None
    port: int | None  # None admits every port

    def admits_port(self, port: int) -> bool:
        return self.port is None or self.port == port


@dataclass(frozen=True)
class OutboundResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    url: str

    def text(self) -> str:
        message = Message()
        message["content-type"] = self.headers.get("content-type", "")
        try:
            return self.body.decode(message.get_content_charset() or "utf-8", errors="replace")
        except LookupError:
            return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """Raises ValueError (JsonRefused) when the body is not JSON or nests too deep to parse safely."""
        return json_input.parse(self.body)


@dataclass(frozen=True)
class _Target:
    url: str
    scheme: str
    host: str  # ASCII (IDNA) form: the Host header, the TLS name and the name in messages
    port: int
    userinfo: str
    path: str
    addresses: list[Address]

    def pinned_url(self, address: Address) -> str:
        literal = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{self.userinfo}{literal}:{self.port}{self.path}"

    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if DEFAULT_PORTS[self.scheme] == self.port else f"{host}:{self.port}"


def _parse_entry(text: str) -> AllowEntry:
    bracketed = re.fullmatch(r"\[([^\]]*)\](?::(.*))?", text)
    host, port_text = bracketed.groups() if bracketed else text.split(":") if text.count(":") == 1 else (text, None)
    port = None
    if port_text is not None:
        if not port_text.isdigit() or not 1 <= int(port_text) <= 65535:
            raise ValueError("the port must be a number from 1 to 65535")
        port = int(port_text)
    try:
        return AllowEntry(None, ipaddress.ip_network(host), port)
    except ValueError:
        if "/" in host:
            raise
    host = host.lower().rstrip(".").encode("idna").decode("ascii")
    # A numeric last label is shorthand for an IP (127.1, 0x7f000001); as a name it would dodge the address rules.
    if not _HOSTNAME.fullmatch(host) or re.fullmatch(r"0x[0-9a-f]*|[0-9]+", host.rsplit(".", 1)[-1]):
        raise ValueError("expected a hostname, an IP address or a CIDR range, optionally with :port")
    return AllowEntry(host, None, port)


def parse_allowlist(entries: Sequence[str]) -> list[AllowEntry]:
    """Parse workspace allowlist entries; raise ValueError naming the first malformed one."""
    parsed = []
    for raw in entries:
        try:
            parsed.append(_parse_entry(raw.strip()))
        except (ValueError, UnicodeError) as error:
            raise ValueError(f"allowlist entry {raw!r} is invalid: {error}") from None
    return parsed


def _embedded_v4(address: Address) -> ipaddress.IPv4Address | None:
    if isinstance(address, ipaddress.IPv4Address):
        return None
    if address.teredo:
        return address.teredo[1]
    nat64 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF) if address in NAT64 else None
    return address.ipv4_mapped or address.sixtofour or nat64


def _why_blocked(address: Address) -> str | None:
    # The embedded IPv4 address (mapped, 6to4, Teredo, NAT64) is where the packets end up, so it is judged first.
    for ip in [candidate for candidate in (_embedded_v4(address), address) if candidate is not None]:
        reasons = [
            (ip in METADATA, "a cloud metadata address"),
            (ip.is_loopback, "a loopback address"),
            (ip.is_unspecified or ip in THIS_NETWORK, "an unspecified ('this network') address"),
            (ip.is_link_local, "a link-local address"),
            (ip.is_multicast, "a multicast address"),
            (ip in CGNAT, "a carrier-grade NAT (shared) address"),
            (ip.is_private or (isinstance(ip, ipaddress.IPv6Address) and ip.is_site_local), "a private address"),
            (ip.is_reserved, "a reserved address"),
            (not ip.is_global, "not a globally routable address"),
        ]
        for failed, reason in reasons:
            if failed:
                return reason
    return None


def _admitted(address: Address, entry: AllowEntry, port: int) -> bool:
    if entry.network is None or not entry.admits_port(port):
        return False
    inner = _embedded_v4(address) or address
    if inner in METADATA:
        return entry.network.num_addresses == 1 and inner == entry.network.network_address
    return address in entry.network or inner in entry.network


def _check(url: str, rules: Sequence[AllowEntry]) -> _Target:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise BlockedDestination(f"the {scheme or 'missing'} scheme is not allowed; only http and https are")
    try:
        port = parts.port or DEFAULT_PORTS[scheme]
        host = (parts.hostname or "").rstrip(".").encode("idna").decode("ascii")
    except (ValueError, UnicodeError):
        raise BlockedDestination("the URL has an invalid host or port") from None
    if not host:
        raise BlockedDestination("the URL has no host")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        transient = error.errno == socket.EAI_AGAIN
        raise NodeError(f"could not resolve {host}", code="dns_error", retryable=transient) from None
    addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in infos))
    by_name = any(entry.host == host and entry.admits_port(port) for entry in rules)
    for address in addresses:
        reason = _why_blocked(address)
        if reason is None or any(_admitted(address, entry, port) for entry in rules):
            continue
        metadata = "metadata" in reason
        if by_name and not metadata:
            continue
        shown = host if host == str(address) else f"{host} ({address})"
        remedy = f"an exact allowlist entry for {address}" if metadata else "the workspace allowlist"
        raise BlockedDestination(f"{shown} is {reason}; add it to {remedy} to allow it")
    admitted = by_name or all(any(_admitted(address, entry, port) for entry in rules) for address in addresses)
    if port not in DEFAULT_PORTS.values() and not admitted:
        raise BlockedDestination(f"port {port} on {host} is not allowed; allowlist {host}:{port} to allow it")
    userinfo = parts.netloc.rpartition("@")[0]
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return _Target(url, scheme, host, port, f"{userinfo}@" if userinfo else "", path, addresses)


def checked_destination(url: str, rules: Sequence[AllowEntry]) -> "_Target":
    """Where a client that opens its own connections (a model SDK's, engine/guarded_transport.py) may
    connect for `url`: the checked host, port and addresses. Raises BlockedDestination as `request` does."""
    return _check(url, rules)


def check_destination(url: str, allowlist: Sequence[str] = ()) -> list[Address]:
    """Validate scheme, host and port, resolve once and return the addresses a request may connect to."""
    return _check(url, parse_allowlist(allowlist)).addresses


def _read(response: httpx.Response, target: _Target, deadline: float, max_bytes: int) -> Reply:
    found = dict(response.headers.items())
    if response.status_code in REDIRECTS and "location" in found:
        return response.status_code, found, b""  # a redirect's own body is never used
    too_large = NonRetryableError(f"{target.host} sent more than {max_bytes} bytes", code="response_too_large")
    if found.get("content-length", "").isdigit() and int(found["content-length"]) > max_bytes:
        raise too_large
    inflater = _Inflater(found.get("content-encoding", ""), max_bytes, too_large, target)
    chunks, size = [], 0
    # Raw bytes: httpx's own decoding would inflate a whole chunk before any size check could see it.
    for raw in response.iter_raw():
        size += len(raw)
        if size > max_bytes:
            raise too_large
        # httpx's timeouts are per operation, so a server dripping bytes is stopped by the overall deadline here.
        if time.monotonic() > deadline:
            raise _timed_out(target)
        chunks.append(inflater.feed(raw))
    chunks.append(inflater.finish())
    return response.status_code, found, b"".join(chunks)


@dataclass
class _Layer:
    encoding: str
    inflate: Any  # zlib's decompression object
    produced: int = 0
    raw_deflate: bool = False


class _Inflater:
    """Undoes gzip and deflate content encodings a chunk at a time, each layer stopped as soon as its
    output would pass `limit` in all: a 10 kB gzip bomb never becomes the 10 GB it claims to be.
    Encodings it does not know (we ask for identity) pass through as they came, as httpx's did."""

    def __init__(self, header: str, limit: int, too_large: Exception, target: "_Target") -> None:
        names = [name.strip().lower() for name in header.split(",") if name.strip()]
        # Listed in the order they were applied, so undone last first.
        self.layers = [_Layer(name, zlib.decompressobj(WBITS[name])) for name in reversed(names) if name in WBITS]
        self.limit, self.too_large, self.target = limit, too_large, target

    def feed(self, data: bytes) -> bytes:
        for layer in self.layers:
            data = self._step(layer, data)
        return data

    def finish(self) -> bytes:
        data = b""
        for layer in self.layers:
            data = self._step(layer, data) + self._counted(layer, layer.inflate.flush())
        return data

    def _step(self, layer: _Layer, data: bytes) -> bytes:
        try:
            return self._counted(layer, layer.inflate.decompress(data, self.limit - layer.produced + 1))
        except zlib.error as error:
            if layer.encoding == "deflate" and not layer.produced and not layer.raw_deflate:
                # Servers send "deflate" raw as often as zlib-wrapped; httpx accepts both, so this does.
                layer.inflate, layer.raw_deflate = zlib.decompressobj(-zlib.MAX_WBITS), True
                return self._step(layer, data)
            message = f"{self.target.host} sent a broken {layer.encoding} body ({error})"
            raise NonRetryableError(message, code="bad_response") from None

    def _counted(self, layer: _Layer, out: bytes) -> bytes:
        layer.produced += len(out)
        if layer.produced > self.limit:
            raise self.too_large
        return out


def _timed_out(target: _Target) -> NodeError:
    return NodeError(f"{target.host} did not answer within the time limit", code="timeout")


def _fetch(
    method: str, target: _Target, headers: dict[str, str], body: bytes | None, deadline: float, max_bytes: int
) -> Reply:
    headers = {**headers, "Host": target.host_header()}
    extensions = {"sni_hostname": target.host}  # TLS sends and verifies the name asked for, not the pinned IP
    for index, address in enumerate(target.addresses):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _timed_out(target)
        url = target.pinned_url(address)
        try:
            # A client per hop: a pooled TLS connection must never be reused under another hostname.
            with (
                httpx.Client(verify=default_tls(), trust_env=False, timeout=remaining) as client,
                client.stream(method, url, headers=headers, content=body, extensions=extensions) as response,
            ):
                return _read(response, target, deadline, max_bytes)
        except httpx.ConnectError as error:
            if index + 1 < len(target.addresses):
                continue  # another checked address of the host may answer (IPv4 when IPv6 is unreachable)
            raise NodeError(f"could not connect to {target.host}: {error}", code="connection_error") from error
        except httpx.TimeoutException as error:
            raise _timed_out(target) from error
        except httpx.LocalProtocolError as error:
            raise NonRetryableError(f"bad request to {target.host}: {error}", code="bad_request") from error
        except httpx.TransportError as error:
            raise NodeError(f"the connection to {target.host} failed: {error}", code="connection_error") from error
    raise AssertionError("a resolved host always has an address")


def _without(headers: dict[str, str], names: Sequence[str]) -> dict[str, str]:
    return {name: value for name, value in headers.items() if name.lower() not in names}


def request(
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    body: bytes | str | None = None,
    allowlist: Sequence[str] = (),
    timeout_s: float = 30.0,
    max_bytes: int = 5_000_000,
    max_redirects: int = 5,
    secret_headers: Sequence[str] = (),
) -> OutboundResponse:
    """Send a request, following redirects by hand and checking each hop's destination before connecting.

    4xx and 5xx answers are returned, not raised: the caller decides what a status means.
    `secret_headers` (names) are dropped, like Authorization and Cookie, on a redirect to another origin.
    """
    deadline = time.monotonic() + timeout_s
    method = method.upper()
    if not re.fullmatch(r"[A-Z]{1,20}", method):
        raise NonRetryableError("the HTTP method is invalid", code="bad_request")
    try:
        rules = parse_allowlist(allowlist)
    except ValueError as error:
        raise NonRetryableError(f"the workspace allowlist is invalid: {error}", code="invalid_allowlist") from None
    # A caller's Host header could reach another virtual host behind the checked address.
    sent = _without(dict(headers or {}), ("host",))
    if not any(name.lower() == "accept-encoding" for name in sent):
        sent["Accept-Encoding"] = "identity"  # a compressed chunk could expand far past max_bytes at once
    content = body.encode() if isinstance(body, str) else body
    target = _check(url, rules)
    for hop in range(max_redirects + 1):
        status, found, data = _fetch(method, target, sent, content, deadline, max_bytes)
        if status not in REDIRECTS or "location" not in found:
            return OutboundResponse(status, found, data, target.url)
        if hop == max_redirects:
            break
        following = _check(urljoin(target.url, found["location"]), rules)
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method, content = "GET", None
            sent = _without(sent, ("content-type", "content-length"))
        upgrade = (target.scheme, target.port, following.scheme, following.port) == ("http", 80, "https", 443)
        if following.host != target.host or (following.port != target.port and not upgrade):
            sent = _without(sent, (*CREDENTIAL_HEADERS, *(name.lower() for name in secret_headers)))
        target = following
    raise NonRetryableError(f"{target.host} redirected more than {max_redirects} times", code="too_many_redirects")
