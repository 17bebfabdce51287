"""config/serve.py, the production web server: uvicorn processes with a socket each on one port.

Real processes (`python -m config.serve`) on the test database; the connections each process
holds are read from /proc.
"""

import http.client
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.conf import settings

from tests import workers
from tests.eventually import eventually
from tests.private_services import free_port

CONNECTIONS = 16
STARTUP_S = 120  # two Django processes importing on a loaded 2-core machine


def children(pid: int) -> list[int]:
    tasks = Path(f"/proc/{pid}/task").iterdir()
    return [int(child) for task in tasks for child in (task / "children").read_text().split()]


def servers(parent: int) -> set[int]:
    """The server processes among `parent`'s children (multiprocessing also starts its resource tracker)."""
    found = set()
    for child in children(parent):
        try:
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                found.add(child)
        except OSError:
            continue  # ended meanwhile
    return found


def connections_by_process(pids: set[int], port: int) -> Counter[int]:
    """How many established connections to `port` each of `pids` holds."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":  # 01: ESTABLISHED
            inodes.add(fields[9])
    held: Counter[int] = Counter()
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held[pid] += 1
    return held


def answers(port: int) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/healthz")
        return connection.getresponse().status
    except OSError:
        return 0
    finally:
        connection.close()


@contextmanager
def serving(port: int, processes: int) -> Iterator[subprocess.Popen[bytes]]:
    environment = {
        **os.environ,
        "DATABASE_URL": workers.test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings",
    }
    command = [sys.executable, "-m", "config.serve", "--port", str(port), "--workers", str(processes)]
    process = subprocess.Popen([*command, "--log-level", "warning"], cwd=workers.ROOT, env=environment)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            process.wait(60)


@pytest.mark.django_db
def test_connections_opened_together_are_spread_over_the_processes():
    port = free_port()
    with serving(port, processes=2) as server:
        eventually(lambda: answers(port) in (200, 503), STARTUP_S, message="the server did not answer")
        eventually(lambda: len(servers(server.pid)) == 2, STARTUP_S)
        # Opened together and kept open, as a client's pool of keep-alive connections: with one shared socket,
        # the process that woke first took them all.
        clients = [http.client.HTTPConnection("127.0.0.1", port, timeout=30) for _ in range(CONNECTIONS)]
        for client in clients:
            client.connect()
        for client in clients:
            client.request("GET", "/healthz")
        assert {client.getresponse().status for client in clients} <= {200, 503}
        held = connections_by_process(servers(server.pid), port)
        # Each connection goes to one socket by a hash of its addresses: all 16 on one process is a 1 in 32,768 chance.
        assert sum(held.values()) == CONNECTIONS
        assert len(held) == 2, held
        for client in clients:
            client.close()
        server.send_signal(signal.SIGTERM)
        assert server.wait(60) == 0
    assert answers(port) == 0


@pytest.mark.django_db
def test_a_server_process_that_dies_is_replaced():
    port = free_port()
    with serving(port, processes=2) as server:
        first = eventually(lambda: found if len(found := servers(server.pid)) == 2 else None, STARTUP_S)
        eventually(lambda: answers(port) in (200, 503), STARTUP_S)
        killed = min(first)
        os.kill(killed, signal.SIGKILL)
        eventually(lambda: len(found := servers(server.pid)) == 2 and killed not in found, STARTUP_S)
        assert {answers(port) for _ in range(CONNECTIONS)} <= {200, 503}
        assert server.poll() is None


def test_it_stops_when_its_processes_cannot_listen():
    """A port held by another program (without SO_REUSEPORT): each new process would fail alike, so it stops."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with serving(port, processes=2) as server:
            assert server.wait(STARTUP_S) == 1
