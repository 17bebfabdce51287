"""The stack bench/api_trigger.py drives: its database and Redis db, a workspace with a token, uvicorn and a worker.

Its own database (bench_h5_api) and Redis db 10, emptied first (BENCH_API_DATABASE and BENCH_API_REDIS
name others, so that two trees can be measured side by side); the processes are started
and always stopped here. Process figures (CPU seconds, resident memory) are read from /proc
and include a process's children (uvicorn's and prefork Celery's).
"""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import psycopg
import redis

from bench.database import own_services
from bench.ws_clients import GRAPH

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = os.environ.get("BENCH_API_DATABASE", "bench_h5_api")
REDIS_URL = os.environ.get("BENCH_API_REDIS", "redis://127.0.0.1:6379/10")
STARTUP_S = 180  # how long uvicorn and the worker may take to answer after they are started
STOP_S = 20  # how long they may take to finish what they are doing once asked to stop


class CouldNotMeasure(Exception):
    pass


@dataclass(frozen=True)
class Site:
    workflow_id: int
    workspace_id: int
    version_id: int
    token: str  # the secret, sent as `Authorization: Bearer …`


def prepare(data_dir: str) -> dict[str, str]:
    """Create the database, empty the Redis db, configure Django (before it loads), migrate, empty tables."""
    try:
        own_services(
            f"{SERVER_URL}/{DB_NAME}",
            REDIS_URL,
            data_dir,
            # The limit stays on (every trigger still counts in Redis), above what the benchmark reaches.
            API_TOKEN_TRIGGERS_PER_MINUTE="100000",  # noqa: S106  (not a secret: a limit)
        )
    except (psycopg.Error, redis.RedisError) as error:
        raise CouldNotMeasure(f"PostgreSQL or Redis on 127.0.0.1 is not usable: {error}") from error
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.api_settings"
    import django

    django.setup()
    from django.core.management import call_command

    from bench.api_baseline import create_table

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    create_table()
    return dict(os.environ)


def make_site() -> Site:
    """An owner with a workspace, a published trigger -> transform -> reply workflow and a runs:trigger token."""
    from django.contrib.auth.models import User

    from accounts import tokens
    from accounts.models import Membership, Role, Scope, Workspace
    from builder.models import Workflow, WorkflowVersion

    user = User.objects.create_user("bench")
    workspace = Workspace.objects.create(name="Bench", slug="bench")
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    workflow = Workflow.objects.create(workspace=workspace, name="api bench", draft=GRAPH)
    version = WorkflowVersion.objects.create(workflow=workflow, number=1, graph=GRAPH)
    issued = tokens.issue(workspace, user, "bench", [Scope.RUNS_TRIGGER.value], None)
    return Site(workflow.pk, workspace.pk, version.pk, issued.secret)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _tree(pid: int) -> list[int]:
    """`pid` and its descendants (Linux /proc)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                todo.extend(int(child) for child in (task / "children").read_text().split())
        except OSError:
            continue
    return found


def cpu_seconds(pid: int) -> float:
    """CPU time used so far by `pid` and its children."""
    total = 0
    for member in _tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def backends_cpu_seconds() -> dict[int, float]:
    """CPU time so far of each PostgreSQL server process connected to the benchmark's database, by pid.

    The server runs on this machine: its backends' /proc is readable. A backend that exits
    between two readings takes its time with it: compare readings taken while the connections
    are kept (the worker's DB_CONN_MAX_AGE=60).
    """
    with psycopg.connect(f"{SERVER_URL}/{DB_NAME}", autocommit=True) as admin:
        pids = [row[0] for row in admin.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )]  # fmt: skip
    return {pid: cpu_seconds(pid) for pid in pids}


def rss_mb(pid: int) -> float:
    """Resident memory of `pid` and its children, in MB."""
    total = 0
    for member in _tree(pid):
        try:
            lines = Path(f"/proc/{member}/status").read_text().splitlines()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in lines if line.startswith("VmRSS:")), 0)
    return total / 1024


def host_busy_seconds() -> float:
    """CPU seconds the whole machine was busy, per CPU."""
    ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK") / (os.cpu_count() or 1)


@dataclass
class Web:
    """The web server as docs/deploy.md runs it (config/serve.py: uvicorn processes with a socket each), with
    `processes` processes on the bench settings; a context manager that stops it."""

    env: dict[str, str]
    log: Path
    processes: int
    prefix: list[str] = field(default_factory=list)
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [*self.prefix, sys.executable, "-m", "config.serve", "--host", "127.0.0.1", "--port", str(self.port),
                "--log-level", "warning", "--no-access-log", "--workers", str(self.processes)]  # fmt: skip

    def __enter__(self) -> "Web":
        with open(self.log, "wb") as out:
            self.process = subprocess.Popen(self.command(), cwd=ROOT, env=self.env, stdout=out, stderr=out)
        # Generous: on this shared 2-core machine under load, two processes took 40-60 s to import and answer.
        deadline = time.monotonic() + STARTUP_S
        while not self._healthy():
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.__exit__(None, None, None)
                raise CouldNotMeasure(f"{' '.join(self.command())} did not come up: {self.log.read_text()[-1500:]}")
            time.sleep(0.2)
        return self

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _healthy(self) -> bool:
        try:
            got = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1, trust_env=False)
        except httpx.HTTPError:
            return False
        return got.status_code == 200

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        stop(self.process)


@dataclass
class EngineWorker:
    """One `celery worker` with `args`, started under `prefix` if any (`nice -n 10`, `chrt --idle 0`: what a
    deployment's Nice= or CPUSchedulingPolicy= does); a context manager that stops it."""

    env: dict[str, str]
    log: Path
    args: list[str]
    prefix: list[str] = field(default_factory=list)
    name: str = field(default_factory=lambda: f"bench-api-{uuid.uuid4().hex[:8]}@localhost")
    process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "EngineWorker":
        from config.celery import app

        command = [*self.prefix, sys.executable, "-m", "celery", "-A", "config", "worker", *self.args,
                   "--loglevel=WARNING", "--without-mingle", "--without-gossip", "--hostname", self.name]  # fmt: skip
        with open(self.log, "ab") as out:
            self.process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=out, stderr=out)
        deadline = time.monotonic() + STARTUP_S
        while not app.control.ping(destination=[self.name], timeout=0.5):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.__exit__(None, None, None)
                raise CouldNotMeasure(f"the worker did not answer: {self.log.read_text()[-1500:]}")
        if others := sorted({name for reply in app.control.ping(timeout=1.0) for name in reply} - {self.name}):
            # Another consumer of the benchmark's queue would run its runs too: a drain of thousands of runs
            # "per second" with no CPU in this worker, or trigger latencies with an extra worker beside them.
            self.__exit__(None, None, None)
            raise CouldNotMeasure(
                f"other workers consume the benchmark's Redis db ({', '.join(others)}), left by an earlier run "
                "that was killed; stop them (`pkill -f 'celery -A config worker'`) and run again"
            )
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        stop(self.process)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    @contextmanager
    def paused(self) -> Iterator[None]:
        """The worker stopped (SIGSTOP, its children too) inside the block: messages wait in Redis meanwhile."""
        assert self.process is not None
        processes = _tree(self.process.pid)
        for pid in processes:
            os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            for pid in processes:
                os.kill(pid, signal.SIGCONT)


def stop(process: subprocess.Popen[Any] | None) -> None:
    """Stop a process this module started, and every process under it.

    Under a prefix that stays its parent (`py-spy record --`), the command is asked to stop, not
    the prefix: the prefix then ends as the command does (py-spy writes its profile; stopped
    itself, it exits without, and leaves the command running). A process of the tree still
    running once the top one has ended is killed: a worker left behind would consume the next
    run's queue.
    """
    if process is None or process.poll() is not None:
        return
    tree = {pid: _program(pid) for pid in _tree(process.pid)}
    command = next((pid for pid, program in tree.items() if program == sys.executable), process.pid)
    _signal(command, signal.SIGTERM)
    try:
        process.wait(STOP_S)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
    for pid, program in tree.items():
        if program is not None and _program(pid) == program:  # the same program: not a new process on a reused pid
            _signal(pid, signal.SIGKILL)


def _program(pid: int) -> str | None:
    """The program `pid` runs (its argv[0]); None once it has ended."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode() or None
    except OSError:
        return None


def _signal(pid: int, number: int) -> None:
    with suppress(ProcessLookupError):
        os.kill(pid, number)
