"""Real `celery worker` processes for tests, pointed at the test database and Redis."""

import contextlib
import functools
import os
import signal
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import redis
from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from config.celery import app
from engine.models import NodeRun, NodeStatus, RunStatus
from tests.eventually import eventually
from tests.worker_forks import Forked, ForkServer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_database_url() -> str:
    db = {key: str(value or "") for key, value in settings.DATABASES["default"].items()}
    credentials = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    return f"postgresql://{credentials}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


# The statuses a claim takes a node from once its wake_at has come.
CLAIMABLE = [NodeStatus.PENDING, NodeStatus.FAILED, NodeStatus.CRASHED, NodeStatus.WAITING]


def busy_nodes() -> QuerySet[NodeRun]:
    """Nodes running, or due to be claimed by the message already sent for them."""
    active_run = Q(run__status__in=[RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING])
    due = Q(status__in=CLAIMABLE, wake_at__lte=timezone.now()) & active_run
    return NodeRun.objects.filter(Q(status=NodeStatus.RUNNING) | due)


def queued_messages() -> int:
    """Messages in the default queue that no worker has taken yet."""
    return int(broker().llen(app.conf.task_default_queue))


def taken_messages() -> int:
    """Messages a worker took and has not acknowledged: running, taken to run next, or held for a countdown.

    Every task acknowledges late (CELERY_TASK_ACKS_LATE), after its after-commit work, and
    Celery's Redis transport keeps each taken message in its `unacked` hash until then.
    """
    return int(broker().hlen("unacked"))


def forget_messages() -> None:
    """Drop the messages of earlier tests, for rows long gone: those queued, and those a killed worker held.

    Only while no worker runs: Redis would hand a killed worker's messages to another only
    after the visibility timeout (two hours), and until then they look like work in hand.
    """
    app.control.purge()
    broker().delete("unacked", "unacked_index")


@functools.cache
def fork_server() -> ForkServer:
    """The session's fork server, started when a test first starts a worker (tests/worker_forks.py)."""
    return ForkServer(ROOT)


def run_python(code: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """`python -c code` in a process of its own with only `env`, as subprocess.run(capture_output=True) gives it.

    Forked from the session's fork server: the libraries are imported already, the project and
    its settings are not, so the code reads `env` as a fresh interpreter would, for a fraction
    of the CPU.
    """
    with tempfile.TemporaryDirectory(prefix="switchyard-python-") as directory:
        out, err = os.path.join(directory, "out"), os.path.join(directory, "err")
        for path in (out, err):
            open(path, "w").close()
        process = fork_server().start(["-c", code], env, ROOT, out, err)
        try:
            returncode = process.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)
            raise
        with open(out) as stdout, open(err) as stderr:
            return subprocess.CompletedProcess(["python", "-c", code], returncode, stdout.read(), stderr.read())


def close_fork_server() -> None:
    """At the end of the session: its workers' CPU time then counts towards the session's."""
    if fork_server.cache_info().currsize:
        fork_server().close()
        fork_server.cache_clear()


@functools.cache
def broker() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


class Worker:
    """One worker process; with `beat`, a `celery beat` process beside it sends it the reaper every second.

    `env` adds to or overrides the worker's environment (DB_POOL_SIZE, say). `pool` is Celery's
    (threads, or prefork as docs/deploy.md runs it: each task in a child process). `loglevel` (DEBUG,
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
        pool: str = "threads",
    ) -> None:
        self.name = f"test-{uuid.uuid4().hex[:8]}@localhost"
        self.concurrency = concurrency
        self.data_dir = tempfile.mkdtemp(prefix="switchyard-worker-")
        self.log = open(os.path.join(self.data_dir, "worker.log"), "w+")  # noqa: SIM115  (closed in stop)
        environment = {
            **os.environ,
            "DATABASE_URL": test_database_url(),
            "REDIS_URL": settings.REDIS_URL,
            # The app's own settings, not the test runner's (tests.settings).
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "SWITCHYARD_DATA_DIR": self.data_dir,
            "ENGINE_LEASE_SECONDS": str(lease_s),
            "ENGINE_REAP_INTERVAL_SECONDS": "1",
            "ENGINE_REDISPATCH_SECONDS": "5",
            # As deployed workers keep theirs (docs/deploy.md: 60), but long enough that a test on a
            # loaded machine never sees a connection retired by age between two of its tasks.
            "DB_CONN_MAX_AGE": "3600",
            **({"LOG_LEVEL": loglevel} if loglevel else {}),
            **(env or {}),
        }
        argv = [
            "-m", "celery", "-A", "config", "worker", f"--pool={pool}", f"--concurrency={concurrency}",
            f"--loglevel={loglevel or 'WARNING'}", "--hostname", self.name,
            "--without-mingle", "--without-gossip",
        ]  # fmt: skip
        # Forked from the session's fork server, as `python -m celery` would run, in a process group of its own.
        self.process = fork_server().start(argv, environment, ROOT, self.log.name)
        # Beat is forked from the fork server too, as deployed beside the workers (docs/deploy.md), not by
        # `--beat` from the worker: that forks it while the worker's threads already run (the lease holders'
        # first release of dead workers), and a fork taken while another thread holds a lock can leave the
        # child stuck; a test saw the reaper never run once in about twenty.
        beat_argv = ["-m", "celery", "-A", "config", "beat", f"--loglevel={loglevel or 'WARNING'}"]
        self.beat = fork_server().start(beat_argv, environment, ROOT, self.log.name) if beat else None
        try:
            eventually(self._answers, timeout=30, interval=0)
        except AssertionError:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            raise RuntimeError(f"the Celery worker did not come up:\n{self.output()}") from None

    def settle(self, timeout: float = 30) -> None:
        """Wait until the engine has nothing in hand for this worker: the provable end of what a test started.

        Asked twice in a row: a task that sends a message (a webhook notice, a ready node) and
        ends between two looks is seen by the next round.
        """
        eventually(
            lambda: self._quiet() and self._quiet(),
            timeout=timeout,
            message=lambda: f"still busy: {list(busy_nodes().values_list('run_id', 'node_id', 'status'))}",
        )

    def _quiet(self) -> bool:
        """No node busy, no message in the queue, and this worker holds no task but countdowns.

        The worker is asked only when it holds a message: its answer takes a round trip through Redis.
        """
        if busy_nodes().exists() or queued_messages():
            return False
        return not taken_messages() or not self._busy()

    def _busy(self) -> bool:
        """Whether it runs a task or has one taken to run next; a task held for a countdown is not work in hand."""
        inspect = app.control.inspect(destination=[self.name], timeout=2, limit=1)
        return any((found or {}).get(self.name) for found in (inspect.active(), inspect.reserved()))

    def _answers(self) -> bool:
        """Whether it answers a ping (each waits up to 0.2 s for the reply); AssertionError if it exited."""
        assert self.process.poll() is None, f"the Celery worker exited:\n{self.output()}"
        return bool(app.control.ping(destination=[self.name], timeout=0.2))

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def kill(self) -> None:
        """SIGKILL to every process of the worker: no warm shutdown, no acknowledgement, as when its machine dies."""
        for process in self._processes():
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    def stop(self) -> None:
        for process in self._processes():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)
            else:
                # The main process is gone; make sure none of its children (a prefork pool's) outlives it.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
        self.log.close()

    def _processes(self) -> list[Forked]:
        return [self.process, *([self.beat] if self.beat else [])]


class SharedWorker:
    """The session's worker, started when a test first needs it.

    A test that kills workers or needs one configured otherwise stops it, so that no other
    worker takes its tasks; the next test that needs the shared worker starts it again.
    """

    def __init__(self) -> None:
        self.worker: Worker | None = None

    def get(self) -> Worker:
        if self.worker is None or self.worker.process.poll() is not None:
            self.stop()
            forget_messages()
            self.worker = Worker()
        return self.worker

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    @contextlib.contextmanager
    def replaced_by(self, **options: Any) -> Iterator[Worker]:
        """A worker configured otherwise (Worker's options) in place of the shared one, for a module's tests."""
        self.stop()
        forget_messages()
        worker = Worker(**options)
        try:
            yield worker
        finally:
            worker.stop()
