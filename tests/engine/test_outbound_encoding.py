"""Compressed answers are capped on the bytes that arrive and on the bytes they inflate to."""

import contextlib
import gzip
import threading
import tracemalloc
import zlib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from engine.errors import NonRetryableError
from engine.outbound import request

MB = 1_000_000


class EncodedServer:
    """Answers every GET with `body` sent as is, labelled with `encoding`, whatever the client asked for."""

    def __init__(self) -> None:
        self.body, self.encoding = b"", ""
        self.accept_encoding: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.accept_encoding.append(self.headers.get("Accept-Encoding", ""))
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                if owner.encoding:
                    self.send_header("Content-Encoding", owner.encoding)
                self.send_header("Content-Length", str(len(owner.body)))
                self.end_headers()
                with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # the client refused the body
                    self.wfile.write(owner.body)

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def answer(self, body: bytes, encoding: str) -> None:
        self.body, self.encoding = body, encoding

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def encoded() -> Iterator[EncodedServer]:
    server = EncodedServer()
    yield server
    server.close()


def get(server: EncodedServer, max_bytes: int = 5 * MB) -> bytes:
    return request("GET", server.url, allowlist=["127.0.0.1"], max_bytes=max_bytes).body


def test_it_refuses_a_gzip_bomb_without_inflating_it(encoded):
    bomb = gzip.compress(b"\0" * (500 * MB), compresslevel=9)
    assert len(bomb) < MB
    encoded.answer(bomb, "gzip")
    tracemalloc.start()
    try:
        with pytest.raises(NonRetryableError, match="sent more than 5000000 bytes") as refused:
            get(encoded)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert refused.value.code == "response_too_large"
    assert peak < 20 * MB
    assert encoded.accept_encoding == ["identity"]


def test_it_refuses_a_bomb_wrapped_twice(encoded):
    encoded.answer(gzip.compress(gzip.compress(b"\0" * (100 * MB))), "gzip, gzip")
    with pytest.raises(NonRetryableError, match="sent more than"):
        get(encoded)


def test_it_caps_the_compressed_bytes_too(encoded):
    encoded.answer(gzip.compress(bytes(range(256)) * 20_000, compresslevel=0), "gzip")
    with pytest.raises(NonRetryableError, match="sent more than 1000000 bytes"):
        get(encoded, max_bytes=MB)


def raw_deflate(data: bytes) -> bytes:
    squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return squeezer.compress(data) + squeezer.flush()


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [("gzip", gzip.compress), ("x-gzip", gzip.compress), ("deflate", zlib.compress), ("deflate", raw_deflate)],
    ids=["gzip", "x-gzip", "zlib-deflate", "raw-deflate"],
)
def test_it_inflates_a_compressed_answer_within_the_limit(encoded, encoding, compress):
    text = b"Refunds within 14 days. " * 10_000
    encoded.answer(compress(text), encoding)
    assert get(encoded) == text


def test_it_refuses_a_broken_gzip_body(encoded):
    encoded.answer(b"this is not gzip at all", "gzip")
    with pytest.raises(NonRetryableError, match="sent a broken gzip body") as refused:
        get(encoded)
    assert refused.value.code == "bad_response"


def test_it_passes_an_unknown_encoding_through_as_it_came(encoded):
    encoded.answer(b"opaque bytes", "br")
    assert get(encoded) == b"opaque bytes"
