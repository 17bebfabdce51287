"""The paced load generator of bench/api_trigger.py (bench/paced_load.py) against a real server on 127.0.0.1."""

import asyncio
import threading
from collections.abc import Iterator

import pytest

from bench.paced_load import paced

ANSWER_S = 0.02  # how long the server takes per request: one connection serves at most 50/s


@pytest.fixture
def slow_server() -> Iterator[tuple[str, list[int]]]:
    """An HTTP/1.1 keep-alive server that answers each request after ANSWER_S, in turn: 202 with a Content-Length,
    then 200 chunked, then 500; the URL and the number of requests it answered."""
    answered: list[int] = []
    started = threading.Event()
    loop = asyncio.new_event_loop()
    answers = [
        b"HTTP/1.1 202 Accepted\r\nContent-Length: 2\r\n\r\n{}",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
        b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n\r\n",
    ]

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except (asyncio.IncompleteReadError, ConnectionError):
                break
            length = next(int(x.split(b":")[1]) for x in head.split(b"\r\n") if x.lower().startswith(b"content-length"))
            await reader.readexactly(length)
            await asyncio.sleep(ANSWER_S)
            answered.append(1)  # before the answer: the client, on another thread, may count it at once
            writer.write(answers[(len(answered) - 1) % len(answers)])
            await writer.drain()
        writer.close()

    async def main() -> None:
        stops.append(asyncio.Event())
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        urls.append(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/runs")
        started.set()
        async with server:
            await stops[0].wait()

    urls: list[str] = []
    stops: list[asyncio.Event] = []
    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    started.wait(10)
    yield urls[0], answered
    loop.call_soon_threadsafe(stops[0].set)
    thread.join(10)
    loop.close()


def test_latency_counts_from_the_scheduled_send_when_the_server_falls_behind(slow_server):
    url, answered = slow_server
    # 100/s offered on one connection to a server that serves 50/s: the 50th request is sent about 0.5 s late.
    got = paced(url, b"{}", {"Content-Type": "application/json"}, connections=1, rate=100, seconds=0.5)
    assert len(answered) == 50
    assert got.requests == 50
    assert got.socket_errors == 0
    assert got.non_2xx == 16  # every third answer is a 500; the 202s and the chunked 200s count as answered
    assert got.percentile(0.99) > 0.4 * 1000, "a closed-loop measure would say about 20 ms"
    assert got.percentile(0.50) > 0.15 * 1000
    assert got.seconds >= 0.9


def test_a_server_that_keeps_up_shows_its_own_latency(slow_server):
    url, answered = slow_server
    # 20/s offered on four connections: each request finds a free connection and waits only for its answer.
    got = paced(url, b"{}", {}, connections=4, rate=20, seconds=1)
    assert got.requests == len(answered) == 20
    # Loose above: a machine busy with other tests delays every answer, but not by half the phase's second.
    assert ANSWER_S * 1000 <= got.percentile(0.50) < 0.5 * 1000
