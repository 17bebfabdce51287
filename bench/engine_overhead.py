"""Engine overhead against raw Celery, on real Celery + Redis + PostgreSQL.

    .venv/bin/python bench/engine_overhead.py [--reps 5] [--warmup 1] [--no-profile] [--tracing]

Measures the engine's per-node time on a 10-node chain of no-op nodes and the wall time of a
100-wide fan-out with a join, beside a raw Celery chain of 10 no-op tasks that each write a
PostgreSQL row and a raw Celery chord of 100 such tasks. Targets: per node at most 2x the raw
chain's per step; the fan-out at most 2x the raw chord. It uses its own database
(switchyard_bench) and Redis databases 12 and 13, which it empties first (the environment's
BENCH_ENGINE_DATABASE, BENCH_ENGINE_BROKER and BENCH_ENGINE_RESULTS name others), and starts and
stops its own workers. With --tracing, the engine cases run again on a worker with OpenTelemetry on,
exporting to a receiver on 127.0.0.1 (bench/otlp_receiver.py), beside the same raw cases: the
per-node cost of tracing, from one run. Exit status: 0 when it measured (a missed target is reported, not an
error), 1 when it could not measure.
"""

import argparse
import os
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import celery
import django
import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script, the repo root is not on the path

from bench import diagnostics, graphs, query_profile, report  # noqa: E402
from bench.database import create_database  # noqa: E402
from bench.otlp_receiver import OtlpReceiver  # noqa: E402
from bench.workers import Worker, base_env  # noqa: E402

SERVER_URL = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = os.environ.get("BENCH_ENGINE_DATABASE", "switchyard_bench")
DATABASE_URL = f"{SERVER_URL}/{DB_NAME}"
BROKER_URL = os.environ.get("BENCH_ENGINE_BROKER", "redis://127.0.0.1:6379/12")
RESULT_URL = os.environ.get("BENCH_ENGINE_RESULTS", "redis://127.0.0.1:6379/13")
POLL_S = 0.01
CHAIN, WIDTH = 10, 100


class CouldNotMeasure(Exception):
    pass


def prepare_services(
    data_dir: str, database_url: str = DATABASE_URL, broker_url: str = BROKER_URL, result_url: str = RESULT_URL
) -> dict[str, str]:
    """Check the services, create the bench database, empty the bench Redis databases; return the env.

    Another benchmark passes its own database and Redis databases, so that both can run at once.
    """
    try:
        create_database(database_url)
        for url in (broker_url, result_url):
            redis.Redis.from_url(url, socket_connect_timeout=3).flushdb()
    except (psycopg.Error, redis.RedisError) as error:
        raise CouldNotMeasure(f"PostgreSQL or Redis on 127.0.0.1 is not usable: {error}") from error
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": broker_url,
        "SECRET_KEY": "bench-only-secret-key-not-used-for-anything-real-0123456789",
        "SWITCHYARD_DATA_DIR": data_dir,
        "LOG_LEVEL": "WARNING",
        "BENCH_BROKER_URL": broker_url,
        "BENCH_RESULT_URL": result_url,
        "BENCH_DATABASE_URL": database_url,
    }


def setup_django(env: dict[str, str]) -> int:
    """Configure Django for the bench database, migrate, start from empty tables; return a workspace id."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    # Names this process's connections so diagnostics can tell them from the engine worker's.
    os.environ["PGAPPNAME"] = "bench"
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Workspace
    from bench import raw_tasks

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE engine_run CASCADE")
    with psycopg.connect(env["DATABASE_URL"], autocommit=True) as conn:
        raw_tasks.create_table(conn)
        conn.execute(f"TRUNCATE {raw_tasks.TABLE}")
    workspace, _ = Workspace.objects.get_or_create(slug="bench", defaults={"name": "Benchmarks"})
    return workspace.pk


def wait(done: Callable[[], bool], began: float, timeout: float, what: str, workers: list[Worker]) -> float:
    """Poll `done` every POLL_S; the seconds from `began` until it held."""
    while not done():
        if time.perf_counter() - began > timeout:
            raise CouldNotMeasure(f"{what} did not finish within {timeout} s")
        for worker in workers:
            if not worker.alive():
                raise CouldNotMeasure(f"the {worker.label} worker died during {what}:\n{worker.output()}")
        time.sleep(POLL_S)
    return time.perf_counter() - began


class Bench:
    def __init__(self, workspace_id: int, workers: list[Worker]) -> None:
        self.workspace_id = workspace_id
        self.workers = workers
        self.db = psycopg.connect(DATABASE_URL, autocommit=True)
        self.chain_runs: list[int] = []

    def engine(self, graph: dict[str, object], timeout: float) -> float:
        from engine.models import ENDED_RUN, NodeRun, Run, RunStatus
        from engine.runs import Options, RunSource, start_run

        began = time.perf_counter()
        run = start_run(RunSource(workspace_id=self.workspace_id, graph=graph), {}, Options())
        status = Run.objects.filter(pk=run.pk).values_list("status", flat=True)
        elapsed = wait(lambda: status.first() in ENDED_RUN, began, timeout, f"engine run {run.pk}", self.workers)
        nodes = dict(NodeRun.objects.filter(run=run).values_list("node_id", "status"))
        if status.first() != RunStatus.SUCCEEDED or set(nodes.values()) != {"succeeded"}:
            raise CouldNotMeasure(f"engine run {run.pk} ended {status.first()}; nodes: {nodes}")
        if len(nodes) == CHAIN:
            self.chain_runs.append(run.pk)
        return elapsed

    def analyze(self) -> None:
        """Give the planner statistics for tables the setup emptied, as autovacuum would in a while.

        The engine's statements are prepared and planned once per connection; planned against
        a table PostgreSQL still believes empty, a lookup of a run's nodes took the status index
        and read every node of every run (docs/benchmarks.md).
        """
        self.db.execute("ANALYZE engine_run, engine_noderun, engine_runevent")

    def _rows(self, tag: str, step: int | None = None) -> int:
        from bench.raw_tasks import TABLE

        sql = f"SELECT count(*) FROM {TABLE} WHERE tag = %s" + (" AND step = %s" if step is not None else "")  # noqa: S608
        row = self.db.execute(sql, (tag, step) if step is not None else (tag,)).fetchone()
        return int(row[0]) if row else 0

    def raw_chain(self, fresh: bool = False) -> float:
        from bench.raw_tasks import step

        tag = uuid.uuid4().hex
        began = time.perf_counter()
        celery.chain(*[step.si(tag, i, fresh) for i in range(CHAIN)]).apply_async()
        return wait(lambda: self._rows(tag) >= CHAIN, began, 60, "the raw chain", self.workers)

    def raw_chord(self) -> float:
        from bench.raw_tasks import join, member

        tag = uuid.uuid4().hex
        began = time.perf_counter()
        celery.chord(member.si(tag, i) for i in range(WIDTH))(join.s(tag))
        elapsed = wait(lambda: self._rows(tag, -1) > 0, began, 180, "the raw chord", self.workers)
        if self._rows(tag) != WIDTH + 1:
            raise CouldNotMeasure(f"the raw chord wrote {self._rows(tag)} rows, not {WIDTH + 1}")
        return elapsed


def measure(bench: Bench, reps: int, warmup: int) -> dict[str, list[float]]:
    """Each repetition runs every case once, interleaved, so drift in machine load hits all alike."""
    chain, fan_out = graphs.chain(CHAIN), graphs.fan_out(WIDTH)
    cases: dict[str, Callable[[], float]] = {
        "engine_chain": lambda: bench.engine(chain, 60) / CHAIN,
        "raw_chain": lambda: bench.raw_chain() / CHAIN,
        "raw_chain_fresh": lambda: bench.raw_chain(fresh=True) / CHAIN,
        "engine_fan_out": lambda: bench.engine(fan_out, 180),
        "raw_chord": bench.raw_chord,
    }
    samples: dict[str, list[float]] = {name: [] for name in cases}
    for rep in range(warmup + reps):
        values = {name: case() for name, case in cases.items()}
        label = "warm-up" if rep < warmup else f"rep {rep - warmup + 1}/{reps}"
        print(
            f"  {label:>9}: engine {values['engine_chain'] * 1000:6.1f} ms/node, raw {values['raw_chain'] * 1000:6.1f}"
            f" ms/step; engine fan-out {values['engine_fan_out']:6.2f} s, raw chord {values['raw_chord']:6.2f} s",
            flush=True,
        )
        if rep >= warmup:
            for name, value in values.items():
                samples[name].append(value)
        else:
            bench.chain_runs.clear()
            bench.analyze()
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="measured repetitions of each case")
    parser.add_argument("--warmup", type=int, default=1, help="repetitions run first and not counted")
    parser.add_argument("--no-profile", action="store_true", help="skip the diagnostics after the figures")
    parser.add_argument("--tracing", action="store_true", help="measure again with tracing on, to a local receiver")
    args = parser.parse_args()
    if args.reps < 1 or args.warmup < 0:
        parser.error("--reps must be at least 1 and --warmup at least 0")
    print("\n".join(report.environment()), flush=True)
    data_dir = tempfile.mkdtemp(prefix="switchyard-bench-")
    try:
        env = prepare_services(data_dir)
        workspace_id = setup_django(env)
        from django.db import connection

        from bench import raw_tasks
        from config.celery import app as engine_app

        with connection.cursor() as cursor:
            cursor.execute("SHOW server_version")
            print(
                f"postgresql {cursor.fetchone()[0]}  redis {redis.Redis.from_url(BROKER_URL).info()['redis_version']}"
            )
        print(f"worker logs: {data_dir} (removed after a successful run)", flush=True)
        # Workers keep their PostgreSQL connection, as deployed (docs/deploy.md, DB_CONN_MAX_AGE).
        worker_env = base_env(**env, DB_CONN_MAX_AGE="60")
        with Worker("raw", raw_tasks.app, "bench.raw_tasks", raw_tasks.QUEUE, worker_env, Path(data_dir)) as raw_worker:
            with Worker("engine", engine_app, "config", "celery", worker_env, Path(data_dir)) as engine_worker:
                bench = Bench(workspace_id, [engine_worker, raw_worker])
                samples = measure(bench, args.reps, args.warmup)
                print("\n".join(["", *report.verdict(samples, args.reps, args.warmup, CHAIN, WIDTH)]), flush=True)
                if not args.no_profile:
                    fan_out = graphs.fan_out(WIDTH)
                    probe = diagnostics.backend_states(DATABASE_URL, DB_NAME, lambda: bench.engine(fan_out, 180))
                    gaps = diagnostics.event_gaps(bench.chain_runs)
                    print("\n".join(["", "Diagnostics (not part of the figures):", *gaps, *probe]))
            if args.tracing:
                print("\nAgain with tracing on (OTLP over HTTP to a local receiver):", flush=True)
                receiver = OtlpReceiver()
                traced = Worker("traced", engine_app, "config", "celery", worker_env | receiver.env, Path(data_dir))
                with receiver, traced:
                    bench.workers = [traced, raw_worker]
                    traced_samples = measure(bench, args.reps, args.warmup)
                    print("\n".join(["", *report.tracing_cost(samples, traced_samples, receiver.exports)]), flush=True)
                    if not receiver.exports:
                        raise CouldNotMeasure("tracing was on but the receiver got no spans")
        if not args.no_profile:
            print("\n".join(query_profile.report(workspace_id, graphs.chain(CHAIN), graphs.fan_out(WIDTH))))
        print(f"\nload average at the end: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    except (CouldNotMeasure, RuntimeError) as error:
        print(f"\ncould not measure: {error}\n(worker logs kept in {data_dir})", file=sys.stderr)
        return 1
    shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
