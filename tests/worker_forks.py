"""Test workers forked from a process that has imported their libraries once (a fork server).

A `celery worker` spends seconds of CPU importing before it takes a task: openai's types,
bpe-openai's vocabularies, mcp, Django, Celery, and the suite starts dozens of them. Here one
process per session (`python -m tests.worker_forks`) imports those libraries, then forks a
worker whenever a test asks for one: the child sets the worker's environment, becomes the
leader of its own process group and runs `celery` as `python -m celery` would. A test that
starts the app in a fresh process to see how it reads its environment (tests/config/test_env.py,
test_https.py, test_tracing.py) forks its `python -c` from the same server.

Only libraries are imported before the fork, never the project: Django's settings and the
app read the environment (the database, Redis, the lease, the log level) when they are
imported, and each worker has its own. For the same reason a library that reads the
environment when imported (prometheus_client, the OpenTelemetry SDK) is left out.

This module imports no part of the project, so that the server can import it.
"""

import json
import os
import runpy
import select
import signal
import subprocess
import sys
import threading
from typing import Any

from tests import bytecode

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

    A request is `{"argv", "env", "cwd", "out", "err"}` (argv as `python` takes it after its
    own name: `-m celery ...` or `-c code`); the answer the child's pid. `{"wait": pid}`
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
                run_python(**request)
            answer(pid)


def answer(value: Any) -> None:
    # os.write: nothing left in a buffer for the children to inherit and write again.
    os.write(1, json.dumps(value).encode() + b"\n")


def run_python(argv: list[str], env: dict[str, str], cwd: str, out: str, err: str) -> None:
    """In the forked child: `python <argv>` with `env`, output to `out` and `err`, in a process group of its own.

    The command ends with SystemExit (Celery's always does), or an exception whose traceback
    goes to `err`; either unwinds the server's loop in this child and ends the interpreter as
    `python` ends (atexit handlers, flushed logs, status 1 after a traceback): it never returns.
    """
    os.setsid()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)
    for fd, path in ((1, out), (2, err)):
        opened = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.dup2(opened, fd)
        os.close(opened)
    os.chdir(cwd)
    # The project's modules are compiled once, not in every worker (tests/bytecode.py).
    bytecode.keep_outside_the_tree()
    os.environ.clear()
    os.environ.update(env)
    option, target, *rest = argv
    if option == "-m":
        sys.argv = [target, *rest]
        runpy.run_module(target, run_name="__main__", alter_sys=True)
    else:
        assert option == "-c", f"python {option}: only -m and -c"
        sys.argv = ["-c", *rest]
        exec(compile(target, "<string>", "exec"), {"__name__": "__main__"})  # noqa: S102  (python -c)
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

    def start(self, argv: list[str], env: dict[str, str], cwd: str, out: str, err: str | None = None) -> "Forked":
        """`python <argv>` forked, its output appended to `out` and its errors to `err` (by default `out`)."""
        return Forked(self, self.ask({"argv": argv, "env": env, "cwd": cwd, "out": out, "err": err or out}))

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
