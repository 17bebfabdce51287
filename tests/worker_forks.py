"""Test workers forked from a process that has imported their libraries once (a fork server).

A `celery worker` spends seconds of CPU importing before it takes a task: openai's types,
bpe-openai's vocabularies, mcp, Django, Celery, and the suite starts dozens of them. Here one
process per session (`python -m tests.worker_forks`) imports those libraries, then forks a
worker whenever a test asks for one: the child sets the worker's environment, becomes the
leader of its own process group and runs `celery` as `python -m celery` would.

Only libraries are imported before the fork, never the project: Django's settings and the
app read the environment (the database, Redis, the lease, the log level) when they are
imported, and each worker has its own. For the same reason a library that reads the
environment when imported (prometheus_client, the OpenTelemetry SDK) is left out.

This module imports no part of the project, so that the server can import it.
"""

import json
import os
import select
import signal
import subprocess
import sys
import tempfile
import threading
from typing import Any

# The libraries that take the CPU of a worker's start (`python -X importtime`), none of which
# reads the environment when imported.
PRELOAD = [
    "bpe_openai",
    "openai",
    "mcp",
    "mcp.client.session",
    "mcp.server",
    "numpy",
    "pydantic",
    "httpx",
    "psycopg",
    "redis",
    "kombu.transport.redis",
    "celery.bin.celery",
    "celery.apps.worker",
    "celery.worker.consumer",
    "celery.concurrency.thread",
    "celery.concurrency.prefork",
    "django.db.models",
    "django.http",
    "django.urls",
    "django.forms",
]


def serve() -> None:
    """The server: import the libraries, then fork one worker per request line on stdin.

    A request is `{"argv", "env", "cwd", "log"}`; the answer the child's pid. `{"wait": pid}`
    reaps that child and answers its exit status, so that its CPU time counts towards this
    process, and this process's towards the test session that waits for it.
    """
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)  # any settings read here would be the wrong ones
    for name in PRELOAD:
        __import__(name)
    from django.conf import settings

    assert not settings.configured, "a preloaded library read Django's settings"
    answer(True)
    for line in sys.stdin.buffer:
        request = json.loads(line)
        if "wait" in request:
            answer(os.waitpid(request["wait"], 0)[1])
        else:
            pid = os.fork()
            if pid == 0:
                run_worker(**request)
            answer(pid)


def answer(value: Any) -> None:
    # os.write: nothing left in a buffer for the children to inherit and write again.
    os.write(1, json.dumps(value).encode() + b"\n")


def run_worker(argv: list[str], env: dict[str, str], cwd: str, log: str) -> None:
    """In the forked child: `python -m celery <argv>` with `env`, output to `log`, in a process group of its own.

    Celery ends with SystemExit, which unwinds the server's loop in this child and ends the
    interpreter as `python -m celery` ends (atexit handlers, flushed logs): it never returns.
    """
    os.setsid()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    null = os.open(os.devnull, os.O_RDONLY)
    out = os.open(log, os.O_WRONLY | os.O_APPEND)
    os.dup2(null, 0)
    os.dup2(out, 1)
    os.dup2(out, 2)
    os.close(null)
    os.close(out)
    os.chdir(cwd)
    # The project's modules are compiled once a session rather than in every worker, into a
    # directory of their own: the environment may forbid __pycache__ in the source tree.
    sys.dont_write_bytecode = False
    sys.pycache_prefix = os.path.join(tempfile.gettempdir(), "switchyard-test-bytecode")
    os.environ.clear()
    os.environ.update(env)
    sys.argv = ["celery", *argv]
    from celery.__main__ import main

    main()
    sys.exit(0)


class ForkServer:
    """The client: one server per test session, asked by any thread."""

    def __init__(self, cwd: str) -> None:
        self.lock = threading.Lock()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.worker_forks"], cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE
        )
        assert self.ask(None) is True, "the fork server did not start"

    def ask(self, request: Any) -> Any:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        with self.lock:
            if request is not None:
                self.process.stdin.write(json.dumps(request).encode() + b"\n")
                self.process.stdin.flush()
            line = self.process.stdout.readline()
        assert line, f"the fork server exited ({self.process.poll()})"
        return json.loads(line)

    def start(self, argv: list[str], env: dict[str, str], cwd: str, log: str) -> "Forked":
        return Forked(self, self.ask({"argv": argv, "env": env, "cwd": cwd, "log": log}))

    def close(self) -> None:
        """End the server and wait for it, so that its workers' CPU time counts towards this session."""
        assert self.process.stdin is not None
        self.process.stdin.close()
        self.process.wait(30)


class Forked:
    """A forked worker, with what the tests use of subprocess.Popen: pid, poll() and wait()."""

    def __init__(self, server: ForkServer, pid: int) -> None:
        self.server = server
        self.pid = pid
        self.returncode: int | None = None
        # Readable once the process has ended; it stays a zombie of the server until reaped.
        self.ended = os.pidfd_open(pid)

    def poll(self) -> int | None:
        return self.wait(0) if self._ended(0) else None

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not self._ended(timeout):
                raise subprocess.TimeoutExpired(f"worker {self.pid}", timeout or 0)
            status = self.server.ask({"wait": self.pid})
            self.returncode = os.waitstatus_to_exitcode(status)
            os.close(self.ended)
        return self.returncode

    def _ended(self, timeout: float | None) -> bool:
        return self.returncode is not None or bool(select.select([self.ended], [], [], timeout)[0])


if __name__ == "__main__":
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group; the session ends this server
    serve()
