"""Real `celery worker` processes for the benchmark, started and stopped by this process only."""

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType

from celery import Celery

ROOT = Path(__file__).resolve().parent.parent
# The same pool and concurrency for the engine and the baseline, so only the code differs.
POOL_ARGS = ["--pool=threads", "--concurrency=8", "--without-mingle", "--without-gossip", "--loglevel=WARNING"]
# A worker imports the whole project before it answers a ping: 50 s and more on a shared 2-core
# machine at load average 15, where 30 s failed one start in two.
READY_TIMEOUT_S = 120


class WorkerFailed(RuntimeError):
    pass


class Worker:
    """A worker for `app_path`, consuming `queue`; a context manager that always stops it."""

    def __init__(self, label: str, app: Celery, app_path: str, queue: str, env: dict[str, str], log_dir: Path) -> None:
        self.label = label
        self.app = app
        self.name = f"bench-{label}-{uuid.uuid4().hex[:8]}@localhost"
        self.log_path = log_dir / f"{label}-worker.log"
        self.command = [
            sys.executable, "-m", "celery", "-A", app_path, "worker", *POOL_ARGS, "-Q", queue, "--hostname", self.name,
        ]  # fmt: skip
        self.env = env
        self.process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> "Worker":
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready(READY_TIMEOUT_S)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while not self.app.control.ping(destination=[self.name], timeout=0.5):
            assert self.process is not None
            if self.process.poll() is not None:
                raise WorkerFailed(f"the {self.label} worker exited with {self.process.returncode}:\n{self.output()}")
            if time.monotonic() > deadline:
                raise WorkerFailed(f"the {self.label} worker did not answer a ping in {timeout} s:\n{self.output()}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def output(self, tail: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)


def base_env(**extra: str) -> dict[str, str]:
    """The parent's environment without the Django settings module or libpq's application name, plus `extra`."""
    env = {key: value for key, value in os.environ.items() if key not in ("DJANGO_SETTINGS_MODULE", "PGAPPNAME")}
    return env | extra
