"""How bench/api_trigger.py starts and stops its processes (bench/api_stack.py): none left running, no stray counted."""

import os
import signal
import subprocess
import sys
from contextlib import suppress
from pathlib import Path

import pytest
from django.conf import settings

from bench.api_stack import CouldNotMeasure, EngineWorker, _program, _tree, stop
from tests import workers
from tests.eventually import eventually

# A prefix that stays its command's parent and does something of its own once the command ends, as
# `py-spy record --` writes its profile; a SIGTERM of its own it takes without ending (its trap runs after
# the command), so a stop that signals only it would leave the command running.
PREFIX = ["sh", "-c", 'trap : TERM; "$@"; echo ended > "$0"']


def test_stop_asks_the_command_under_a_prefix_so_that_the_prefix_ends_after_it(tmp_path: Path) -> None:
    ended = tmp_path / "ended"
    command = [sys.executable, "-c", "import signal; signal.pause()"]  # runs until a signal ends it, as a worker
    process = subprocess.Popen([*PREFIX, str(ended), *command])
    tree = [process.pid]
    try:
        # Until the prefix's fork has exec'd the command, the child is a second `sh`, which stop() cannot
        # tell from the prefix: wait for the command itself, as a benchmark stops it long after its start.
        eventually(lambda: _programs_under(process.pid) == [sys.executable], timeout=30, interval=0.05)
        tree = _tree(process.pid)

        stop(process)

        assert ended.read_text() == "ended\n"
        assert process.returncode == 0
        with pytest.raises(ProcessLookupError):
            os.kill(tree[1], 0)
    finally:
        for pid in tree:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        process.wait(10)


def _programs_under(pid: int) -> list[str | None]:
    return [_program(child) for child in _tree(pid)[1:]]


def test_a_worker_refuses_to_measure_beside_another_on_its_redis_db(
    tmp_path: Path, worker_process: workers.Worker, transactional_db: None
) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": workers.test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SWITCHYARD_DATA_DIR": str(tmp_path),
    }
    measured = EngineWorker(env, tmp_path / "worker.log", ["--pool=threads", "--concurrency=1"])

    refused = f"other workers consume the benchmark's Redis db \\({worker_process.name}\\)"
    with pytest.raises(CouldNotMeasure, match=refused), measured:
        pass

    assert measured.process is not None
    assert measured.process.poll() is not None
