"""httpx transports that put SDK clients (model providers, MCP servers) behind the outbound guard.

The openai SDK opens its own connections, with httpx2 (httpx's successor, same API); given
this transport, every request it sends is checked by engine/outbound.py first (scheme, port,
every resolved address against the workspace allowlist) and connects to the checked address,
so a second DNS answer cannot redirect it. The client around it must not follow redirects or read proxy variables
(`guarded_client`): a redirect would carry the API key to wherever the server points.
"""

from collections.abc import AsyncIterator, Iterator, Sequence

import anyio
import httpx2

from engine import outbound
from engine.errors import NonRetryableError

# A model's answer is JSON of a few hundred kilobytes at most; more is a server misbehaving.
MAX_RESPONSE_BYTES = 20_000_000


class ResponseTooLarge(NonRetryableError):
    code = "response_too_large"


class _CappedStream(httpx2.SyncByteStream):
    """The body as it arrives, cut off with an error once it passes `limit` bytes."""

    def __init__(self, inner: httpx2.SyncByteStream, host: str, limit: int) -> None:
        self._inner = inner
        self._host = host
        self._limit = limit

    def __iter__(self) -> Iterator[bytes]:
        size = 0
        for chunk in self._inner:
            size += len(chunk)
            if size > self._limit:
                raise ResponseTooLarge(f"{self._host} sent more than {self._limit} bytes")
            yield chunk

    def close(self) -> None:
        self._inner.close()


class GuardedTransport(httpx2.BaseTransport):
    """Checks each request's destination, pins the checked address, refuses compressed answers."""

    def __init__(self, allowlist: Sequence[str], max_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self._rules = outbound.parse_allowlist(allowlist)
        self._max_bytes = max_bytes
        # trust_env=False: HTTP(S)_PROXY would send the request (and its key) somewhere never checked.
        self._inner = httpx2.HTTPTransport(verify=outbound.default_tls(), trust_env=False)

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        target = outbound.checked_destination(str(request.url), self._rules)
        # Asked for identity, a server that compresses anyway could inflate past any cap above this layer.
        request.headers["Accept-Encoding"] = "identity"
        request.headers["Host"] = target.host_header()
        # TLS sends and verifies the name asked for, not the pinned address.
        request.extensions = {**request.extensions, "sni_hostname": target.host}
        for index, address in enumerate(target.addresses):
            request.url = httpx2.URL(target.pinned_url(address))
            try:
                response = self._inner.handle_request(request)
            except httpx2.ConnectError:
                if index + 1 < len(target.addresses):
                    continue  # another checked address of the host may answer
                raise
            return self._capped(response, target.host)
        raise AssertionError("a resolved host always has an address")

    def _capped(self, response: httpx2.Response, host: str) -> httpx2.Response:
        if refused := _refusal(response, host, self._max_bytes):
            response.close()
            raise refused
        assert isinstance(response.stream, httpx2.SyncByteStream)
        return httpx2.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_CappedStream(response.stream, host, self._max_bytes),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._inner.close()


def guarded_client(allowlist: Sequence[str], timeout_s: float) -> httpx2.Client:
    """A client for an SDK: the guarded transport, no redirects followed, no proxy variables read."""
    return httpx2.Client(
        transport=GuardedTransport(allowlist), follow_redirects=False, trust_env=False, timeout=timeout_s
    )


class _AsyncCappedStream(httpx2.AsyncByteStream):
    """The body as it arrives, cut off with an error once it passes `limit` bytes."""

    def __init__(self, inner: httpx2.AsyncByteStream, host: str, limit: int) -> None:
        self._inner = inner
        self._host = host
        self._limit = limit

    async def __aiter__(self) -> AsyncIterator[bytes]:
        size = 0
        async for chunk in self._inner:
            size += len(chunk)
            if size > self._limit:
                raise ResponseTooLarge(f"{self._host} sent more than {self._limit} bytes")
            yield chunk

    async def aclose(self) -> None:
        await self._inner.aclose()


class AsyncGuardedTransport(httpx2.AsyncBaseTransport):
    """GuardedTransport for async SDK clients (the MCP SDK's): the same checks, the same pinning."""

    def __init__(self, allowlist: Sequence[str], max_bytes: int = MAX_RESPONSE_BYTES) -> None:
        self._rules = outbound.parse_allowlist(allowlist)
        self._max_bytes = max_bytes
        self._inner = httpx2.AsyncHTTPTransport(verify=outbound.default_tls(), trust_env=False)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        # The check resolves the host, which blocks: on a thread, so the event loop keeps serving.
        target = await anyio.to_thread.run_sync(outbound.checked_destination, str(request.url), self._rules)
        request.headers["Accept-Encoding"] = "identity"
        request.headers["Host"] = target.host_header()
        request.extensions = {**request.extensions, "sni_hostname": target.host}
        for index, address in enumerate(target.addresses):
            request.url = httpx2.URL(target.pinned_url(address))
            try:
                response = await self._inner.handle_async_request(request)
            except httpx2.ConnectError:
                if index + 1 < len(target.addresses):
                    continue
                raise
            return await self._capped(response, target.host)
        raise AssertionError("a resolved host always has an address")

    async def _capped(self, response: httpx2.Response, host: str) -> httpx2.Response:
        if refused := _refusal(response, host, self._max_bytes):
            await response.aclose()
            raise refused
        assert isinstance(response.stream, httpx2.AsyncByteStream)
        return httpx2.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_AsyncCappedStream(response.stream, host, self._max_bytes),
            extensions=response.extensions,
        )

    async def aclose(self) -> None:
        await self._inner.aclose()


def guarded_async_client(
    allowlist: Sequence[str], timeout_s: float, headers: dict[str, str], max_bytes: int = MAX_RESPONSE_BYTES
) -> httpx2.AsyncClient:
    """An async client for an SDK: the guarded transport, no redirects followed, no proxy variables read."""
    return httpx2.AsyncClient(
        transport=AsyncGuardedTransport(allowlist, max_bytes),
        follow_redirects=False,
        trust_env=False,
        timeout=timeout_s,
        headers=headers,
    )


def _refusal(response: httpx2.Response, host: str, max_bytes: int) -> Exception | None:
    """Why an answer is refused from its headers alone (compressed, or longer than allowed), or None."""
    encoding = response.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in {"", "identity"}:
        return NonRetryableError(f"{host} sent a {encoding}-compressed answer", code="bad_response")
    length = response.headers.get("content-length", "")
    if length.isdigit() and int(length) > max_bytes:
        return ResponseTooLarge(f"{host} sent more than {max_bytes} bytes")
    return None
