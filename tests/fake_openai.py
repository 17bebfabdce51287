"""A fake OpenAI-compatible server on 127.0.0.1: chat completions and embeddings with usage,
adjustable latency (for all requests or per request), injected failures (429 with Retry-After,
500, 400), streamed answers (server-sent chunks, word by word), tool calls, recording every request."""

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any

from tests.fakes import BurstServer


@dataclass
class Failure:
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "injected failure"


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]
    at: float


def tool_calls(*calls: tuple[str, dict[str, Any]], text: str = "") -> dict[str, Any]:
    """An answer asking for tool calls: (name, arguments) each, in one turn (parallel calls when several)."""
    return {"text": text, "tool_calls": [{"name": name, "arguments": arguments} for name, arguments in calls]}


class FakeOpenAI:
    """Answers `answers` in order (then `default_answer`); `failures` are served before answers.

    An answer is text, or `tool_calls(...)`: a message asking for those calls, with ids
    `call_<request>_<n>` and finish_reason "tool_calls".

    `delays` are the latencies of the next requests, in order; then every request takes `latency_s`.
    With `gather` set, requests are held until that many are in flight at once (or 10 s pass):
    a test of concurrent calls then sees them overlap however slowly a busy machine starts them.

    A request with `stream: true` is answered as server-sent chunks, one per word, `chunk_delay_s`
    apart, then (when asked with stream_options.include_usage) a last chunk with the usage. With
    `gate` set, each word waits for a release of that semaphore (10 s at most):
    a test then paces the stream by what it has received, without timing anything. `cuts`
    break the next streamed answers off after that many chunks, as a server that fails mid-answer.
    `raw_streams` are the bodies of the next streamed answers, sent as they are: each a list of
    writes (one HTTP chunk each), so a test chooses the bytes and where they are split.
    """

    def __init__(self, latency_s: float = 0.0, tokens_in: int = 100, tokens_out: int = 20) -> None:
        self.latency_s = latency_s
        self.tokens_in = tokens_in
        self.tokens_out = tokens_out
        self.default_answer = "Thanks for writing in. Here is what to do next."
        self.answers: list[str | dict[str, Any]] = []
        self.failures: list[Failure] = []
        self.delays: list[float] = []
        self.json_schema_supported = True
        self.seen: list[Seen] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.gather = 0
        self.chunk_delay_s = 0.0
        self.gate: threading.Semaphore | None = None
        # When each streamed chunk was written (time.time()), for latency measurements.
        self.chunk_sent_at: list[float] = []
        # For the next streamed answers, in order: close the connection after this many chunks.
        self.cuts: list[int] = []
        self.raw_streams: list[list[bytes]] = []
        self.lock = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                status, headers, payload = owner.answer(
                    self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                if status == 200 and body.get("stream"):
                    self.stream(body, payload)
                    return
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    for name, value in {**headers, "Content-Type": "application/json"}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a timeout test)

            def stream(self, body: dict[str, Any], completion: dict[str, Any]) -> None:
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    with owner.lock:
                        cut = owner.cuts.pop(0) if owner.cuts else None
                        raw = owner.raw_streams.pop(0) if owner.raw_streams else None
                    if raw is not None:
                        for data in raw:
                            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                            self.wfile.flush()
                        self.wfile.write(b"0\r\n\r\n")
                        return
                    for number, chunk in enumerate(owner.chunks(body, completion)):
                        if number == cut:
                            self.close_connection = True  # the body ends unfinished
                            return
                        data = f"data: {json.dumps(chunk)}\n\n".encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                        self.wfile.flush()
                        owner.chunk_sent_at.append(time.time())
                    self.wfile.write(b"%x\r\n%s\r\n0\r\n\r\n" % (len(b"data: [DONE]\n\n"), b"data: [DONE]\n\n"))
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def log_message(self, *args: Any) -> None:
                """Quiet: tests read `seen`, not a log."""

        self.server = BurstServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        # serve_forever looks for shutdown() between polls: at its default 0.5 s, closing waits that long.
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()

    def answer(self, path: str, headers: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.seen.append(Seen(path, headers, body, time.monotonic()))
            failure = self.failures.pop(0) if self.failures else None
            asks_schema = body.get("response_format", {}).get("type") == "json_schema"
            if failure is None and asks_schema and not self.json_schema_supported:
                failure = Failure(400, message="response_format json_schema is not supported by this server")
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
            if self.gather and self.in_flight >= self.gather:
                self.gather = 0
                self.lock.notify_all()
            elif self.gather:
                self.lock.wait_for(lambda: not self.gather, timeout=10)
            content = (
                self.answers.pop(0) if self.answers and failure is None and path.endswith("/chat/completions") else None
            )
            delay = self.delays.pop(0) if self.delays else self.latency_s
        time.sleep(delay)
        with self.lock:
            self.in_flight -= 1
        if failure is not None:
            return failure.status, failure.headers, {"error": {"message": failure.message, "type": "fake"}}
        if path.endswith("/embeddings"):
            texts = body["input"] if isinstance(body["input"], list) else [body["input"]]
            vectors = [
                {"object": "embedding", "index": i, "embedding": [0.1, 0.2, float(i)]} for i in range(len(texts))
            ]
            usage = {"prompt_tokens": self.tokens_in, "total_tokens": self.tokens_in}
            return 200, {}, {"object": "list", "data": vectors, "model": body["model"], "usage": usage}
        if path.endswith("/chat/completions"):
            return 200, {}, self._completion(body, content if content is not None else self.default_answer)
        return 404, {}, {"error": {"message": f"no route {path}"}}

    def _completion(self, body: dict[str, Any], content: str | dict[str, Any]) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content}
        finish = "stop"
        if isinstance(content, dict):
            calls = [
                {
                    "id": f"call_{len(self.seen)}_{number}",
                    "type": "function",
                    "function": {"name": call["name"], "arguments": json.dumps(call["arguments"])},
                }
                for number, call in enumerate(content["tool_calls"])
            ]
            message = {"role": "assistant", "content": content.get("text") or None, "tool_calls": calls}
            finish = "tool_calls"
        return {
            "id": f"chatcmpl-{len(self.seen)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {
                "prompt_tokens": self.tokens_in,
                "completion_tokens": self.tokens_out,
                "total_tokens": self.tokens_in + self.tokens_out,
            },
        }

    def chunks(self, body: dict[str, Any], completion: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """The completion as streamed chunks, one per word, paced by `chunk_delay_s` and `gate`."""
        words = re.findall(r"\S+\s*|\s+", completion["choices"][0]["message"]["content"])
        base = {"id": completion["id"], "object": "chat.completion.chunk", "created": completion["created"]}
        base["model"] = completion["model"]
        for number, word in enumerate(words):
            if number:
                time.sleep(self.chunk_delay_s)
            if self.gate is not None:
                self.gate.acquire(timeout=10)
            yield {**base, "choices": [{"index": 0, "delta": {"content": word}, "finish_reason": None}]}
        yield {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
        if (body.get("stream_options") or {}).get("include_usage"):
            yield {**base, "choices": [], "usage": completion["usage"]}

    def chat_requests(self) -> list[Seen]:
        with self.lock:
            return [seen for seen in self.seen if seen.path.endswith("/chat/completions")]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
