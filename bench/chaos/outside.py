"""The outside world of the chaos benchmark, as real HTTP servers on 127.0.0.1 that record what they get.

The model server answers chat completions and notes, per ticket and node, which calls it
answered (the client was still there to read the answer: a provider would bill those) and
which were cut off (the client went away while it waited). The receiver takes the workflow's
POSTs and callbacks and the completion webhooks, noting each one's Idempotency-Key (or event
id) and which worker process sent it, so that a repeat can be told from a repeat after a
known answer.
"""

import json
import re
import select
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

from tests.fakes import BurstServer

OK = b'{"ok": true}'


class Server(BurstServer):
    """A client killed mid-request is what the benchmark does on purpose: no traceback for it."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


TICKET = re.compile(r"\bnode (\w+) ticket (\S+)")


def client_gone(connection: socket.socket) -> bool:
    """Whether the peer closed its end (a killed process's socket is closed by the kernel: EOF here)."""
    readable, _, _ = select.select([connection], [], [], 0)
    if not readable:
        return False
    try:
        return connection.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


def socket_owner(client_port: int, server_port: int, candidates: Iterable[int]) -> int | None:
    """Which of the `candidates` pids holds the TCP connection from `client_port` to `server_port` (Linux /proc)."""
    inode = None
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        fields = line.split()
        local, remote = int(fields[1].rsplit(":", 1)[1], 16), int(fields[2].rsplit(":", 1)[1], 16)
        if local == client_port and remote == server_port:
            inode = fields[9]
            break
    if inode is None:
        return None
    wanted = f"socket:[{inode}]"
    for pid in candidates:
        fd_dir = Path(f"/proc/{pid}/fd")
        try:
            for fd in fd_dir.iterdir():
                try:
                    if fd.readlink().as_posix() == wanted:
                        return pid
                except OSError:
                    continue
        except OSError:
            continue
    return None


@dataclass
class ModelCall:
    ticket: str
    node: str
    answered: bool


class ModelServer:
    """An OpenAI-compatible chat endpoint; prompts name their node and ticket ("node a ticket chaos-17")."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.calls: list[ModelCall] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                prompt = " ".join(str(message.get("content", "")) for message in body.get("messages", []))
                found = TICKET.search(prompt)
                time.sleep(owner.latency_s)
                answered = not client_gone(self.connection)
                with owner.lock:
                    owner.calls.append(ModelCall(found[2] if found else "", found[1] if found else "", answered))
                if not answered:
                    self.close_connection = True
                    return
                data = json.dumps(completion(body.get("model", ""))).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client went away between the check and the answer

            def log_message(self, *args: Any) -> None:
                """Quiet: the benchmark reads `calls`."""

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def completion(model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Try again."}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70},
    }


@dataclass
class Delivery:
    """One request to the receiver: an effect (keyed by Idempotency-Key) or a completion webhook (by event id)."""

    path: str
    key: str
    pid: int | None
    received_at: float
    answered_at: float
    answered: bool


class Receiver:
    """Answers 200 after `delay_s` to every POST; `senders` gives the worker pids to look the sender up among."""

    def __init__(self, delay_s: float, senders: Callable[[], list[int]]) -> None:
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                received = time.time()
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                pid = socket_owner(self.client_address[1], owner.port, senders())
                key = self.headers.get("Idempotency-Key") or self.headers.get("X-Switchyard-Event-Id") or ""
                time.sleep(delay_s)
                answered = not client_gone(self.connection)
                if answered:
                    try:
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(OK)))
                        self.end_headers()
                        self.wfile.write(OK)
                    except OSError:
                        answered = False
                else:
                    self.close_connection = True
                with owner.lock:
                    owner.deliveries.append(Delivery(self.path, key, pid, received, time.time(), answered))

            def log_message(self, *args: Any) -> None:
                """Quiet: the benchmark reads `deliveries`."""

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
