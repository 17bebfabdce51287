"""Real `celery worker` processes for tests, pointed at the test database and Redis."""

import contextlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from urllib.parse import quote

from django.conf import settings

from config.celery import app

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_database_url() -> str:
    db = {key: str(value or "") for key, value in settings.DATABASES["default"].items()}
    credentials = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgresql://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


class Worker:
    """One worker process; with `beat`, the reaper runs inside it as `celery worker --beat` runs it.

    `env` adds to or overrides the worker's environment (DB_POOL_SIZE, say). `loglevel` (DEBUG,
    say) sets both Celery's level and the app's root logger (LOG_LEVEL); without it Celery logs
    warnings only and the app logs at the level of this process's environment.

    The reaper is off unless a test needs it: it touches the tables every second, and a
    transactional test's TRUNCATE between tests can deadlock against it.
    """

    def __init__(
        self,
        concurrency: int = 8,
        lease_s: int = 3,
        beat: bool = False,
        env: dict[str, str] | None = None,
        loglevel: str | None = None,
    ) -> None:
        self.name = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.concurrency = concurrency
        self.data_dir = tempfile.mkdtemp(prefix="switchyard-worker-")
        self.log = open(os.path.join(self.data_dir, "worker.log"), "w+")  # noqa: SIM115  (closed in stop)
        environment = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "SWITCHYARD_DATA_DIR": self.data_dir,
            "ENGINE_LEASE_SECONDS": str(lease_s),
            "ENGINE_REAP_INTERVAL_SECONDS": "1",
            "ENGINE_REDISPATCH_SECONDS": "5",
            "DB_CONN_MAX_AGE": "60",
            **({"LOG_LEVEL": loglevel} if loglevel else {}),
            **(env or {}),
        }
        command = [
            sys.executable, "-m", "celery", "-A", "config", "worker", "--pool=threads",
            f"--concurrency={concurrency}", f"--loglevel={loglevel or 'WARNING'}", "--hostname", self.name,
            "--without-mingle", "--without-gossip", *(["--beat"] if beat else []),
        ]  # fmt: skip
        # Its own process group: with --beat, beat is a child process that must die with the worker.
        self.process = subprocess.Popen(
            command, cwd=ROOT, env=environment, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + 30
        while not app.control.ping(destination=[self.name], timeout=0.5):
            if self.process.poll() is not None or time.monotonic() > deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                raise RuntimeError(f"the Celery worker did not come up:\n{self.output()}")

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def kill(self) -> None:
        """SIGKILL to every process of the worker: no warm shutdown, no acknowledgement, as when its machine dies."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        else:
            # The main process is gone; make sure no child (beat) outlives it.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()
