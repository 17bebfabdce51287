"""The production processes (uvicorn, two prefork Celery workers, beat) under a small supervisor.

The supervisor restarts any process that exits, as systemd's `Restart=on-failure` would, and
counts the exits it did not cause: a worker that dies by itself (a Redis restart, say) is a
failure of the engine even though the supervisor hides it from the runs.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
RESTART_AFTER_S = 1.0


@dataclass
class Death:
    name: str
    pid: int
    returncode: int | None
    at: float
    log_tail: str
    children_killed: int  # pool processes the schedule killed since this process started

    def at_startup(self) -> bool:
        """Celery gives up when a pool process dies before the pool is up: the schedule's kill, not a fault of ours."""
        return self.children_killed > 0 and "Could not start worker processes" in self.log_tail


@dataclass
class Process:
    """One supervised process; its own session, so that killing its group takes its children too."""

    name: str
    command: list[str]
    env: dict[str, str]
    log_path: Path
    popen: subprocess.Popen[bytes] | None = None
    starts: int = 0
    expected_exit: bool = False
    children_killed: int = 0
    started_at: list[float] = field(default_factory=list)  # wall clock of every start

    def start(self) -> None:
        with open(self.log_path, "ab") as log:
            self.popen = subprocess.Popen(
                self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        self.starts += 1
        self.started_at.append(time.time())
        self.expected_exit = False
        self.children_killed = 0

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def children(self) -> list[int]:
        """The pids of its direct children (a prefork worker's pool processes)."""
        try:
            return [int(pid) for pid in Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()]
        except (OSError, ValueError):
            return []

    def group(self) -> list[int]:
        return [self.pid, *self.children()] if self.alive() else []

    def kill_group(self, how: signal.Signals = signal.SIGKILL) -> None:
        if self.popen is None:
            return
        self.expected_exit = True
        try:
            os.killpg(self.pid, how)
        except ProcessLookupError:
            return
        try:
            self.popen.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.pid, signal.SIGKILL)
            self.popen.wait(10)

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""


@dataclass
class Stack:
    """uvicorn on `port`, workers `worker-1` and `worker-2` (prefork, concurrency 4), and beat."""

    env: dict[str, str]
    log_dir: Path
    port: int
    processes: dict[str, Process] = field(default_factory=dict)
    deaths: list[Death] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stopping: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        python = sys.executable
        web_env = self.env | {"DB_CONN_MAX_AGE": "0"}
        worker_env = self.env | {"DB_CONN_MAX_AGE": "60"}
        self._add("web", [python, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
                          "--port", str(self.port), "--no-access-log"], web_env)  # fmt: skip
        for n in (1, 2):
            self._add(f"worker-{n}", [python, "-m", "celery", "-A", "config", "worker", "--loglevel=INFO",
                                      "--concurrency=4", "--hostname", f"chaos-{n}@localhost"], worker_env)  # fmt: skip
        schedule = str(self.log_dir / "celerybeat-schedule")
        self._add("beat", [python, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO", "--schedule", schedule],
                  worker_env)  # fmt: skip

    def _add(self, name: str, command: list[str], env: dict[str, str]) -> None:
        self.processes[name] = Process(name, command, env, self.log_dir / f"{name}.log")

    @property
    def workers(self) -> list[Process]:
        return [process for name, process in self.processes.items() if name.startswith("worker")]

    def start(self) -> None:
        for process in self.processes.values():
            process.start()
        deadline = time.monotonic() + 90
        while not self.web_answers():
            if time.monotonic() > deadline or not self.processes["web"].alive():
                raise RuntimeError(f"uvicorn did not answer:\n{self.processes['web'].log_tail()}")
            time.sleep(0.2)
        threading.Thread(target=self._supervise, daemon=True).start()

    def web_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as answer:
                return bool(answer.status == 200)
        except OSError:
            return False

    def _supervise(self) -> None:
        while not self.stopping.is_set():
            for process in self.processes.values():
                with self.lock:
                    if process.popen is None or process.alive() or self.stopping.is_set():
                        continue
                    if not process.expected_exit:
                        self.deaths.append(
                            Death(
                                process.name,
                                process.pid,
                                process.popen.returncode,
                                time.time(),
                                process.log_tail(),
                                process.children_killed,
                            )
                        )
                    # Whatever is left of its group (pool processes of a dead worker) goes with it.
                    process.kill_group()
                time.sleep(RESTART_AFTER_S)
                with self.lock:
                    if not self.stopping.is_set():
                        process.start()
            time.sleep(0.2)

    def stop(self) -> None:
        self.stopping.set()
        with self.lock:
            for process in self.processes.values():
                if process.alive():
                    process.kill_group(signal.SIGTERM)
