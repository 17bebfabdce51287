"""The outside world, faked with real HTTP servers on 127.0.0.1 that record what they get."""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    status: int = 200
    body: Any = field(default_factory=lambda: {"ok": True})
    delay_s: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    # When given, the answer waits until the test sets it (then for delay_s): a call held in flight
    # for as long as the test needs, with no guess at how long that is.
    held_until: threading.Event | None = None


@dataclass
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class BurstServer(ThreadingHTTPServer):
    """A threaded HTTP server whose listen queue takes a burst of connections.

    socketserver's default queue of 5 lets the kernel drop the rest of a burst of connects
    (a fan-out of calls), which the clients only retry a second later.
    """

    request_queue_size = 512
    daemon_threads = True


class RecordingServer:
    """Answers with queued replies (then the default one) and records every request."""

    def __init__(self, default: Reply | None = None) -> None:
        self.default = default or Reply()
        self.queue: list[Reply] = []
        self.received: list[Received] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                with owner.lock:
                    owner.received.append(Received(self.command, self.path, dict(self.headers), body))
                    reply = owner.queue.pop(0) if owner.queue else owner.default
                if reply.held_until is not None:
                    reply.held_until.wait()
                time.sleep(reply.delay_s)
                payload = reply.body if isinstance(reply.body, bytes) else json.dumps(reply.body).encode()
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test); nothing to tell it

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, *args: Any) -> None:
                """Quiet: tests read what the server recorded, not its log."""

        self.server = BurstServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        # serve_forever looks for shutdown() between polls: at its default 0.5 s, closing waits that long.
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()

    def then(self, *replies: Reply) -> "RecordingServer":
        with self.lock:
            self.queue.extend(replies)
        return self

    def requests(self, path: str | None = None) -> list[Received]:
        with self.lock:
            return [r for r in self.received if path is None or r.path == path]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
