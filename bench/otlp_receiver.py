"""A local OTLP/HTTP trace receiver for benchmarks: it answers 200 to every export and counts what arrived."""

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType


class OtlpReceiver:
    """Listens on a free port of 127.0.0.1 while the `with` block runs; `env` points an OTel SDK at it."""

    def __init__(self) -> None:
        self.exports = 0
        self.bytes = 0
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                size = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(size)
                with receiver._lock:
                    receiver.exports += 1
                    receiver.bytes += size
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: one line per export would drown the benchmark's output."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": self.url,
            "OTEL_SERVICE_NAME": "bench-worker",
            # Exported in batches in the background, as a deployment would.
            "OTEL_BSP_SCHEDULE_DELAY": "500",
        }

    def __enter__(self) -> "OtlpReceiver":
        threading.Thread(target=self.server.serve_forever, name="otlp-receiver", daemon=True).start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.server.shutdown()
        self.server.server_close()
