"""The stack bench/ws_latency.py measures, and browser-like websocket clients for it.

Its own database (switchyard_bench_ws) and Redis database 5 (the tests use 1,
bench/engine_overhead.py 3 and 4), both emptied first; BENCH_WS_DATABASE and BENCH_WS_REDIS
choose others, so that two checkouts, or a session whose tests use db 5, do not empty each
other's. uvicorn and a Celery worker started here and always stopped here.
"""

import asyncio
import json
import os
import platform
import re
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from types import TracebackType
from typing import Any

import django
import httpx
import psycopg
import redis
import websockets
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

from bench.database import own_services

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = os.environ.get("BENCH_WS_DATABASE", "switchyard_bench_ws")
REDIS_URL = os.environ.get("BENCH_WS_REDIS", "redis://127.0.0.1:6379/5")
PASSWORD = "bench-password-0123456789"  # noqa: S105  (a throwaway user in a throwaway database)
PARAMS = {"trigger": {}, "shape": {"fields": {"ok": True}}, "reply": {"answer": "done"}}
GRAPH: dict[str, Any] = {  # trigger -> transform -> reply
    "schema_version": 1,
    "nodes": [
        {"id": i, "type": t, "position": {"x": 200 * n, "y": 0}, "params": PARAMS[i]}
        for n, (i, t) in enumerate((("trigger", "trigger"), ("shape", "transform"), ("reply", "reply")))
    ],
    "edges": [
        {"id": f"e{n}", "source": a, "source_handle": "out", "target": b, "target_handle": "in"}
        for n, (a, b) in enumerate((("trigger", "shape"), ("shape", "reply")))
    ],
}
Inbox = list[tuple[dict[str, Any], float]]  # (message, arrival time) per socket


class CouldNotMeasure(Exception):
    pass


@dataclass
class Site:
    cookie: str  # "sessionid=…; csrftoken=…", as the browser sends it
    csrf: str
    workflow_id: int
    run_id: int  # a bare run the commit benchmark appends events to
    port: int = 0


def prepare(data_dir: str) -> dict[str, str]:
    """Create the database, empty the Redis db, configure Django for both (before it loads), migrate, empty tables."""
    try:
        own_services(f"{SERVER_URL}/{DB_NAME}", REDIS_URL, data_dir)
    except (psycopg.Error, redis.RedisError) as error:
        raise CouldNotMeasure(f"PostgreSQL or Redis on 127.0.0.1 is not usable: {error}") from error
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")  # overridable, to try a settings change
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    return dict(os.environ)


def make_site() -> Site:
    """An owner with a workspace, a published workflow and a bare run; a browser session with its CSRF token."""
    from django.conf import settings
    from django.contrib.auth.models import User
    from django.http import HttpRequest
    from django.test import Client

    from accounts.models import Membership, Role, Workspace
    from builder.models import Workflow, WorkflowVersion
    from engine.models import Run

    user = User.objects.create_user("bench", password=PASSWORD)
    workspace = Workspace.objects.create(name="Bench", slug="bench")
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    workflow = Workflow.objects.create(workspace=workspace, name="ws bench", draft=GRAPH)
    WorkflowVersion.objects.create(workflow=workflow, number=1, graph=GRAPH)
    run = Run.objects.create(workspace=workspace, graph=GRAPH, workflow_name="commit bench")
    client = Client(HTTP_HOST="127.0.0.1")
    assert client.login(request=HttpRequest(), username="bench", password=PASSWORD)  # axes needs a request
    page = client.get("/workflows/")  # the middleware stores the current workspace in the session
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page.content.decode())
    if page.status_code != 200 or token is None:
        raise CouldNotMeasure(f"GET /workflows/ answered {page.status_code} without a CSRF token")
    names = (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME)
    cookie = "; ".join(f"{name}={client.cookies[name].value}" for name in names)
    return Site(cookie, token.group(1), workflow.pk, run.pk)


@dataclass
class Stack:
    """One uvicorn process and one Celery worker (the engine's pool settings); a context manager that stops both."""

    env: dict[str, str]
    data_dir: str
    web_processes: int = 1
    port: int = 0
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def __enter__(self) -> "Stack":
        from config.celery import app

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        worker = f"bench-ws-{uuid.uuid4().hex[:8]}@localhost"
        commands = {
            # The web server as docs/deploy.md runs it: uvicorn, in processes with a socket each.
            "uvicorn": [sys.executable, "-m", "config.serve", "--host", "127.0.0.1", "--port", str(self.port),
                        "--log-level", "warning", "--workers", str(self.web_processes)],
            "worker": [sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=threads", "--concurrency=8",
                       "--without-mingle", "--without-gossip", "--loglevel=WARNING", "--hostname", worker],
        }  # fmt: skip
        try:
            for name, command in commands.items():
                with open(self.log(name), "wb") as log:
                    self.procs[name] = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log)
            deadline = time.monotonic() + 30
            while not self.healthy():
                if time.monotonic() > deadline or any(p.poll() is not None for p in self.procs.values()):
                    raise CouldNotMeasure(f"uvicorn did not come up: {self.log('uvicorn').read_text()[-1500:]}")
                time.sleep(0.1)
            while not app.control.ping(destination=[worker], timeout=0.5):
                if time.monotonic() > deadline or self.procs["worker"].poll() is not None:
                    raise CouldNotMeasure(f"the worker did not answer: {self.log('worker').read_text()[-1500:]}")
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def log(self, name: str) -> Path:
        return Path(self.data_dir) / f"{name}.log"

    def healthy(self) -> bool:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1, trust_env=False).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        for process in self.procs.values():
            if process.poll() is None:
                process.terminate()
        for process in self.procs.values():
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def cpu_seconds(self, name: str) -> float:
        """CPU time used so far (Linux /proc): by uvicorn, the worker, this process ("bench"), or the whole
        machine per CPU ("host"), to tell a saturated server or machine from one that waits."""
        if name == "host":
            ticks = [int(t) for t in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
            return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK") / (os.cpu_count() or 1)
        pid = self.procs[name].pid if name in self.procs else os.getpid()
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def open_socket(site: Site, path: str) -> tuple[ClientConnection, dict[str, Any]]:
    """Connect as the browser does (session cookie, same-origin Origin); return the socket and its greeting."""
    sock = await connect(
        f"ws://127.0.0.1:{site.port}{path}",
        origin=Origin(f"http://127.0.0.1:{site.port}"),
        additional_headers={"Cookie": site.cookie},
        proxy=None,
        open_timeout=60,
    )
    return sock, json.loads(await asyncio.wait_for(sock.recv(), 60))


async def follow(sock: ClientConnection, got: Inbox, until: int) -> None:
    """Record each message with its arrival time, taken before parsing; a dropped socket is recorded, not raised."""
    try:
        while not got or got[-1][0].get("seq", 0) < until:
            raw = await sock.recv()
            got.append((json.loads(raw), time.time()))
    except websockets.ConnectionClosed as closed:
        got.append(({"type": "closed", "code": closed.rcvd.code if closed.rcvd else 1006}, time.time()))


def listen(opened: list[tuple[ClientConnection, Any]], until: int) -> tuple[list[Inbox], list[asyncio.Task[None]]]:
    inboxes: list[Inbox] = [[] for _ in opened]
    pairs = zip(opened, inboxes, strict=True)
    return inboxes, [asyncio.create_task(follow(sock, inbox, until)) for (sock, _), inbox in pairs]


def environment() -> str:
    with psycopg.connect(f"{SERVER_URL}/postgres", connect_timeout=3) as conn:
        pg = conn.execute("SHOW server_version").fetchone()[0]
    rd = redis.Redis.from_url(REDIS_URL).info("server")["redis_version"]
    names = ("Django", "channels", "channels-redis", "redis", "uvicorn", "websockets")
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return (
        f"{platform.platform()}, {os.cpu_count()} CPUs, load average {load}\nPython {platform.python_version()}, "
        + ", ".join(f"{n} {version(n)}" for n in names)
        + f"; PostgreSQL {pg}, Redis {rd}"
    )
