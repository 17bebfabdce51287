"""The benchmark's own PostgreSQL and Redis: started from the Debian binaries in a temporary
directory on free ports, restarted and killed at will, never the services on 5432 and 6379."""

import glob
import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import psycopg
import redis


class ServiceFailed(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(ready: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not ready():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise ServiceFailed(f"{what} did not come up within {timeout} s")
        time.sleep(0.1)


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin directory (Debian installs them side by side)."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda path: int(path.split("/")[4]))
    if not found:
        raise ServiceFailed("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
    return Path(found[-1]).parent


class PostgreSQL:
    """A PostgreSQL cluster of its own: trust auth, 127.0.0.1 only, fsync off (the benchmark's data is thrown away).

    PostgreSQL refuses to run as root; run as root, the cluster belongs to the `postgres` user.
    """

    def __init__(self, root: Path) -> None:
        self.bin = postgres_bin()
        self.dir = root / "postgres"
        self.port = free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/switchyard_chaos"
        self.user = "postgres" if os.geteuid() == 0 else None
        self.dir.mkdir()
        if self.user:
            shutil.chown(self.dir, self.user)
        self._run("initdb", "-D", str(self.dir), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()
        with psycopg.connect(self.url.rpartition("/")[0] + "/postgres", autocommit=True) as admin:
            admin.execute('CREATE DATABASE "switchyard_chaos"')

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [str(self.bin / program), *args], user=self.user, capture_output=True, text=True, check=False, cwd=self.dir
        )
        if done.returncode:
            raise ServiceFailed(f"{program} failed ({done.returncode}): {done.stderr[-2000:]}")

    def version(self) -> str:
        return self.bin.parent.name

    def answers(self) -> bool:
        try:
            with psycopg.connect(self.url.rpartition("/")[0] + "/postgres", connect_timeout=1):
                return True
        except psycopg.Error:
            return False

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.dir), "-l", str(self.dir / "server.log"), "-o", options, "-w", "start")
        wait_until(self.answers, 30, "PostgreSQL")

    def stop(self, mode: str = "fast") -> None:
        """`fast` disconnects every client and shuts down cleanly; `immediate` is a crash (recovery at start)."""
        self._run("pg_ctl", "-D", str(self.dir), "-m", mode, "-w", "stop")


class Redis:
    """A `redis-server` of its own; with `persistent`, append-only with fsync every second, as docs/deploy.md asks."""

    def __init__(self, root: Path, persistent: bool) -> None:
        self.dir = root / "redis"
        self.dir.mkdir()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=2)

    def answers(self) -> bool:
        try:
            return bool(self.client().ping())
        except redis.RedisError:
            return False

    def start(self) -> None:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "everysec"] if self.persistent else ["--appendonly", "no"]
        )
        with open(self.dir / "server.log", "ab") as log:
            self.process = subprocess.Popen(
                [
                    "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.dir),
                    "--save", "", *persistence, "--maxmemory-policy", "noeviction", "--daemonize", "no",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
        wait_until(self.answers, 30, "redis-server")

    def stop(self, how: signal.Signals = signal.SIGTERM) -> None:
        """SIGTERM is a graceful shutdown (clients are disconnected, the AOF flushed); SIGKILL a crash."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(how)
            self.process.wait(30)
        self.process = None
