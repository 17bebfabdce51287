"""What one worker spends per run, in process: commits, round trips and CPU per 3-node run.

    .venv/bin/python bench/worker_cost.py [--runs 200]

Starts --runs runs of trigger -> transform -> reply (bench/ws_clients.GRAPH, the workflow of
bench/api_trigger.py) with the broker's messages thrown away, then runs the node each start sent
a message for (the transform: the start recorded the trigger done) through the worker's own code
(engine.runner.execute, its node threads included) in this process, one run after another, and
prints per run:
- the transactions PostgreSQL committed while the worker ran (pg_stat_database.xact_commit,
  autocommitted reads included);
- the transactions that wrote the runs' events (their distinct xmin, the start's included;
  each a WAL flush);
- the worker's round trips (query strings, COMMIT included, and the BEGINs psycopg sends
  on its own);
- the WAL PostgreSQL wrote, for the starts and for the worker (pg_current_wal_lsn before and
  after: the whole cluster's, so nothing else should write meanwhile), and the share of the
  run rows' updates that were HOT (written on their page, no index entry: docs/engine.md,
  "Storage");
- the CPU seconds of this process (process_time), and of the PostgreSQL server process serving
  its connection (/proc: the chain runs on this thread's connection);
- the wall time per run: one run after another on one thread, so mostly the waits for
  PostgreSQL (round trips and the commits' WAL flushes). It moves with the machine's load:
  compare it between trees measured alternately, minutes apart at most;
- the starts of the runs, before the worker runs them: wall time and the CPU of the PostgreSQL
  process serving this connection, per run (`builder.versions.run_version`, one after another).
The other figures are load-independent, to compare code before and after. Uses its own database
(BENCH_WORKER_COST_DATABASE, default switchyard_bench_worker_cost) and Redis db 3 (the
for-each benchmark's), emptied first. Exit status 0 when it measured, 1 when it could not.

    .venv/bin/python bench/worker_cost.py --instructions [--runs 100]

runs the same again under valgrind's callgrind and prints the instructions the worker's code
ran per run instead: those of the thread that runs the runs, from the loop's start to its end
(callgrind counts only inside `operator.call`, which the loop is called through). The count is
the same from one run to the next whatever else the machine does, where the CPU time per run
moves by half with the machine's hour (docs/benchmarks.md): two trees compare to a few tenths of
a percent. Slow: about three minutes to start Django under valgrind, then a fifth of a second
per run. What it leaves out: the other threads, the PostgreSQL server, the starts.
"""

import argparse
import operator
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script, the repo root is not on the path

from bench.api_stack import cpu_seconds  # noqa: E402
from bench.database import create_database  # noqa: E402

DATABASE_URL = os.environ.get(
    "BENCH_WORKER_COST_DATABASE", "postgresql://postgres@127.0.0.1:5432/switchyard_bench_worker_cost"
)
REDIS_URL = os.environ.get("BENCH_WORKER_COST_REDIS", "redis://127.0.0.1:6379/3")


class RoundTrips:
    """Counts the round trips Django's connection makes: each query string, and psycopg's own BEGINs."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        from psycopg.pq import TransactionStatus

        django_connection = context["connection"]
        raw = django_connection.connection
        opening = django_connection.in_atomic_block and raw.info.transaction_status == TransactionStatus.IDLE
        # psycopg sends a BEGIN of its own first, unless the text carries it.
        self.count += 2 if opening and not sql.lstrip().upper().startswith("BEGIN") else 1
        return execute(sql, params, many, context)


def setup(data_dir: str) -> None:
    import redis

    create_database(DATABASE_URL)
    redis.Redis.from_url(REDIS_URL).flushdb()
    os.environ.update(
        DATABASE_URL=DATABASE_URL,
        REDIS_URL=REDIS_URL,
        SECRET_KEY="bench-only-secret-key-not-used-for-anything-real-0123456789",  # noqa: S106
        SWITCHYARD_DATA_DIR=data_dir,
        LOG_LEVEL="WARNING",
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)


def xact_commits() -> int:
    import psycopg

    with psycopg.connect(DATABASE_URL, autocommit=True) as admin:
        row = admin.execute("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()").fetchone()
        return int(row[0]) if row else 0


def wal_position() -> int:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_current_wal_lsn() - '0/0'")
        return int(cursor.fetchone()[0])


def run_updates() -> tuple[int, int]:
    """engine_run's updates and HOT updates so far (after flush_stats)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'engine_run'")
        updated, hot = cursor.fetchone()
    return int(updated), int(hot)


def flush_stats() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
    # The flush happens when this backend goes idle: a few milliseconds, not a synchronisation point.
    connection.close()
    time.sleep(1.0)


# The C function behind operator.call: callgrind collects only while a thread is inside it (--toggle-collect).
COUNTED = "_operator_call"


def instructions_per_run(runs: int) -> int:
    """This benchmark run again under callgrind, counting only its runs' loop: instructions per run (0: it failed)."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("could not measure: valgrind is not installed", file=sys.stderr)
        return 0
    with tempfile.TemporaryDirectory() as out:
        counts = Path(out) / "callgrind.out"
        command = [
            valgrind,
            "--tool=callgrind",
            "--collect-atstart=no",
            f"--toggle-collect={COUNTED}",
            f"--callgrind-out-file={counts}",
            sys.executable,
            __file__,
            "--runs",
            str(runs),
        ]
        # A fixed hash seed: sets and dicts of strings then iterate, and grow, the same way in every run.
        done = subprocess.run(command, env={**os.environ, "PYTHONHASHSEED": "0"}, capture_output=True, text=True)
        if done.returncode != 0 or not counts.exists():
            print(
                f"could not measure under callgrind (exit {done.returncode}):\n{done.stderr[-2000:]}", file=sys.stderr
            )
            return 0
        totals = [line.split()[1] for line in counts.read_text().splitlines() if line.startswith("totals:")]
    return round(int(totals[0]) / runs) if totals else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--instructions", action="store_true", help="count instructions per run under callgrind")
    args = parser.parse_args()
    if args.instructions:
        per_run = instructions_per_run(args.runs)
        if per_run:
            print(f"runs {args.runs}")
            print(f"instructions per run {per_run:,} (the worker's thread, callgrind)")
        return 0 if per_run else 1
    with tempfile.TemporaryDirectory() as data_dir:
        setup(data_dir)
        from django.db import connection

        from accounts.models import Workspace
        from bench.ws_clients import GRAPH
        from builder.models import Workflow, WorkflowVersion
        from builder.versions import run_version
        from engine import runner
        from engine.models import NodeRun, Run, RunStatus
        from engine.runs import Options

        workspace = Workspace.objects.create(name="Bench", slug="bench")
        workflow = Workflow.objects.create(workspace=workspace, name="worker cost", draft=GRAPH)
        version = WorkflowVersion.objects.create(workflow=workflow, number=1, graph=GRAPH)
        warm = 5
        runs = [run_version(version, {"n": i}, Options()) for i in range(warm)]
        wal_before_starts = wal_position()
        starter = connection.connection.info.backend_pid
        server_cpu_before, starts_began = cpu_seconds(starter), time.perf_counter()
        runs += [run_version(version, {"n": i}, Options()) for i in range(warm, args.runs + warm)]
        start_server_cpu, start_wall = cpu_seconds(starter) - server_cpu_before, time.perf_counter() - starts_began
        start_wal = wal_position() - wal_before_starts
        # The node each start sent a message for: the transform, the trigger being done at the start.
        firsts = NodeRun.objects.filter(run__in=runs, wake_at__isnull=False)
        firsts_of = dict(firsts.values_list("run_id", "pk"))
        for run in runs[:warm]:
            runner.execute([firsts_of[run.pk]])
        flush_stats()
        updates_before = run_updates()
        trips = RoundTrips()
        commits_before = xact_commits()
        wal_before = wal_position()
        backend = connection.connection.info.backend_pid
        backend_before = cpu_seconds(backend)

        def run_all() -> None:
            with connection.execute_wrapper(trips):
                for run in runs[warm:]:
                    runner.execute([firsts_of[run.pk]])

        cpu_before, wall_before = time.process_time(), time.perf_counter()
        operator.call(run_all)  # what --instructions counts (COUNTED)
        cpu, wall = time.process_time() - cpu_before, time.perf_counter() - wall_before
        assert connection.connection.info.backend_pid == backend, "the runs went through this connection"
        backend_cpu = cpu_seconds(backend) - backend_before
        worker_wal = wal_position() - wal_before
        flush_stats()
        updated, hot = (after - before for after, before in zip(run_updates(), updates_before, strict=True))
        commits = xact_commits() - commits_before - 2  # the two reads of pg_stat_database's own
        measured = [r.pk for r in runs[warm:]]
        with connection.cursor() as cursor:
            # Each transaction that wrote events stamped its rows with its own xid (xmin): start included.
            cursor.execute("SELECT count(DISTINCT xmin::text) FROM engine_runevent WHERE run_id = ANY(%s)", [measured])
            writes = cursor.fetchone()[0]
        ended = Run.objects.filter(pk__in=[r.pk for r in runs], status=RunStatus.SUCCEEDED).count()
        n = args.runs
        print(f"runs {n} (succeeded: {ended - warm} of {n})")
        print(f"transactions per run {commits / n:.2f} (worker, reads included: pg_stat_database.xact_commit)")
        print(f"writes per run       {writes / n:.2f} (transactions that wrote events, the start's included)")
        print(f"round trips per run  {trips.count / n:.2f}")
        print(f"WAL kB per run       {worker_wal / n / 1000:.1f} (worker), {start_wal / n / 1000:.1f} (start)")
        print(f"run rows' updates    {updated / n:.2f} per run, {100 * hot / updated if updated else 0:.0f} % HOT")
        print(f"CPU ms per run       {1000 * cpu / n:.2f} (this process)")
        print(f"server CPU ms per run {1000 * backend_cpu / n:.2f} (the PostgreSQL process of its connection)")
        print(f"wall ms per run      {1000 * wall / n:.2f} (load-dependent)")
        print(f"start ms per run     {1000 * start_wall / n:.2f} wall, {1000 * start_server_cpu / n:.2f} server CPU")
        return 0 if ended == len(runs) else 1


if __name__ == "__main__":
    sys.exit(main())
