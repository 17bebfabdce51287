"""An open-loop load generator: requests sent at a fixed offered rate, latency from each one's scheduled time.

wrk keeps every connection busy (a closed loop): with c connections always in flight, the mean
latency is c / throughput whatever the server does, so a latency bound at c connections is a
throughput bound in disguise. Here the requests are scheduled at a fixed rate (request i at
start + i / rate) and the connections take the next scheduled request when they are free, as
wrk2 -R does. A request sent late because every connection was still busy counts its latency
from when it should have been sent, so a server that falls behind shows it in the percentiles
instead of slowing the generator down (coordinated omission, corrected as wrk2 corrects it).

Plain HTTP/1.1 keep-alive over asyncio streams, one coroutine per connection, the request's
bytes built once: the generator's own CPU is measured and printed (time.process_time of this
process during the load, which does nothing else meanwhile).
"""

import asyncio
import math
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

TIMEOUT_S = 10.0  # as wrk's --timeout in bench/api_trigger.py


@dataclass(frozen=True)
class Paced:
    """What one paced load measured."""

    offered_per_s: float
    latencies_ms: list[float]  # of the 2xx answers, from their scheduled send times
    non_2xx: int
    socket_errors: int
    seconds: float  # from the first scheduled send to the last answer
    generator_cpu_s: float

    @property
    def requests(self) -> int:
        return len(self.latencies_ms) + self.non_2xx

    def percentile(self, share: float) -> float:
        """The nearest-rank percentile of the 2xx latencies (0 when there were none)."""
        ordered = sorted(self.latencies_ms)
        if not ordered:
            return 0.0
        return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def request_bytes(url: str, body: bytes, headers: dict[str, str]) -> bytes:
    parts = urlsplit(url)
    lines = [
        f"POST {parts.path or '/'} HTTP/1.1",
        f"Host: {parts.netloc}",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_response(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 response (Content-Length or chunked body); its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    fields = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        fields[name.strip().lower()] = value.strip()
    if "content-length" in fields:
        await reader.readexactly(int(fields["content-length"]))
    elif fields.get("transfer-encoding", "").lower() == "chunked":
        while size := int((await reader.readuntil(b"\r\n")).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readuntil(b"\r\n")  # the last chunk's empty trailer
    return status


async def _paced(url: str, request: bytes, connections: int, rate: float, seconds: float) -> Paced:
    parts = urlsplit(url)
    total = int(rate * seconds)
    next_index = 0
    latencies: list[float] = []
    counts = {"non_2xx": 0, "errors": 0}
    last_answer = 0.0
    start = time.perf_counter() + 0.05  # every connection is open by then

    async def connection() -> None:
        nonlocal next_index, last_answer
        reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
        try:
            while next_index < total:
                scheduled = start + next_index / rate
                next_index += 1
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                writer.write(request)
                try:
                    status = await asyncio.wait_for(read_response(reader), TIMEOUT_S)
                except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError):
                    counts["errors"] += 1
                    writer.close()  # the connection's state is unknown: start a new one
                    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
                    continue
                last_answer = time.perf_counter()
                if 200 <= status < 300:
                    latencies.append((last_answer - scheduled) * 1000)
                else:
                    counts["non_2xx"] += 1
        finally:
            writer.close()

    cpu_before = time.process_time()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return Paced(
        offered_per_s=rate,
        latencies_ms=latencies,
        non_2xx=counts["non_2xx"],
        socket_errors=counts["errors"],
        seconds=max(last_answer - start, 1e-9),
        generator_cpu_s=time.process_time() - cpu_before,
    )


def paced(url: str, body: bytes, headers: dict[str, str], connections: int, rate: float, seconds: float) -> Paced:
    """POST `body` to `url` at `rate` requests/s for `seconds` over `connections` kept-alive connections."""
    return asyncio.run(_paced(url, request_bytes(url, body, headers), connections, rate, seconds))
