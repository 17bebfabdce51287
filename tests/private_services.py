"""Private services for fault tests: a `redis-server` of the test's own, to stop and restart at will.

The services on the usual ports are shared by every test (and by other test sessions); a
test that kills its Redis starts one here, on a free port, and points only what it tests at it.
"""

import contextlib
import signal
import socket
import subprocess
from collections.abc import Iterator

import redis

from config.celery import app
from tests.eventually import eventually


def free_port() -> int:
    """A port of 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class RedisServer:
    """A `redis-server` process on a free port of 127.0.0.1, without persistence: a restart loses every key."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=2)

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.ConnectionError:
            return False

    def start(self) -> None:
        """Start it (again, on the same port) and wait until it answers."""
        self.process = subprocess.Popen(
            [
                "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--daemonize", "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        eventually(self._up, timeout=10, message=f"redis-server on port {self.port} did not come up")

    def _up(self) -> bool:
        assert self.process is not None
        assert self.process.poll() is None, f"redis-server on port {self.port} exited"
        return self.answers()

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        """SIGTERM shuts it down gracefully (it closes its clients' connections); SIGKILL as when it crashes."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(how)
            self.process.wait(10)
        self.process = None


@contextlib.contextmanager
def celery_broker(url: str) -> Iterator[None]:
    """This process's Celery app (the tasks it sends, its pings and inspections) on the broker at `url`."""
    previous = app.conf.broker_url
    forget_broker_connections()
    app.conf.update(broker_url=url)
    try:
        yield
    finally:
        forget_broker_connections()
        app.conf.update(broker_url=previous)


def forget_broker_connections() -> None:
    """Drop the app's pooled broker connections, so that the next message goes to the broker now configured.

    The pools (the app's, its producers', the control mailbox's) keep the broker they were
    made for; a test after this one would otherwise publish to a private server long gone.
    These are Celery's own clean-ups for a forked child, which must not share its parent's connections.
    """
    app._after_fork()  # type: ignore[attr-defined]  # (private to Celery, as is the next)
    app.control._after_fork()  # type: ignore[attr-defined]
