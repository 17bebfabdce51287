"""Engine overhead against raw Celery, on real Celery + Redis + PostgreSQL.

    .venv/bin/python bench/engine_overhead.py [--reps 5] [--warmup 1] [--no-profile]

Measures the engine's per-node time on a 10-node chain of no-op nodes and the wall time of a
100-wide fan-out with a join, beside a raw Celery chain of 10 no-op tasks that each write a
PostgreSQL row and a raw Celery chord of 100 such tasks. Targets: per node at most 2x the raw
chain's per step; the fan-out at most 2x the raw chord. It uses its own database
(switchyard_bench) and Redis databases 3 and 4, which it empties first, and starts and stops
its own workers. Exit status: 0 when it measured (a missed target is reported, not an
error), 1 when it could not measure.
"""

import argparse
import os
import platform
import shlex
import statistics
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

from bench import graphs, query_profile  # noqa: E402
from bench.workers import Worker, base_env  # noqa: E402

SERVER_URL = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = "switchyard_bench"
DATABASE_URL = f"{SERVER_URL}/{DB_NAME}"
BROKER_URL = "redis://127.0.0.1:6379/3"
RESULT_URL = "redis://127.0.0.1:6379/4"
POLL_S = 0.01
CHAIN, WIDTH = 10, 100
TARGET = 2.0


class CouldNotMeasure(Exception):
    pass


def prepare_services(data_dir: str) -> dict[str, str]:
    """Check the services, create the bench database, empty the bench Redis databases; return the env."""
    try:
        with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True, connect_timeout=3) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)).fetchone():
                conn.execute(f'CREATE DATABASE "{DB_NAME}"')
        for url in (BROKER_URL, RESULT_URL):
            redis.Redis.from_url(url, socket_connect_timeout=3).flushdb()
    except (psycopg.Error, redis.RedisError) as error:
        raise CouldNotMeasure(f"PostgreSQL or Redis on 127.0.0.1 is not usable: {error}") from error
    return {
        "DATABASE_URL": DATABASE_URL,
        "REDIS_URL": BROKER_URL,
        "SECRET_KEY": "bench-only-secret-key-not-used-for-anything-real-0123456789",
        "SWITCHYARD_DATA_DIR": data_dir,
        "LOG_LEVEL": "WARNING",
        "BENCH_BROKER_URL": BROKER_URL,
        "BENCH_RESULT_URL": RESULT_URL,
        "BENCH_DATABASE_URL": DATABASE_URL,
    }


def setup_django(env: dict[str, str]) -> int:
    """Configure Django for the bench database, migrate, start from empty tables; return a workspace id."""
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Workspace
    from bench import raw_tasks

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE engine_run CASCADE")
    with psycopg.connect(DATABASE_URL, autocommit=True) as conn:
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
        return elapsed

    def _rows(self, tag: str, step: int | None = None) -> int:
        from bench.raw_tasks import TABLE

        sql = f"SELECT count(*) FROM {TABLE} WHERE tag = %s" + (" AND step = %s" if step is not None else "")  # noqa: S608
        row = self.db.execute(sql, (tag, step) if step is not None else (tag,)).fetchone()
        return int(row[0]) if row else 0

    def raw_chain(self, fresh: bool = False) -> float:
        from bench.raw_tasks import step

        tag = uuid.uuid4().hex
        began = time.perf_counter()
        celery.chain(step.si(tag, i, fresh) for i in range(CHAIN)).apply_async()
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


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]


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
    return samples


def verdict(samples: dict[str, list[float]], reps: int, warmup: int) -> list[str]:
    med = {name: statistics.median(values) for name, values in samples.items()}
    top = {name: p90(values) for name, values in samples.items()}

    def row(label: str, name: str, scale: float, unit: str) -> str:
        return f"  {label:<48}{med[name] * scale:>9.1f} {unit:<3}{top[name] * scale:>9.1f} {unit}"

    node_ratio = med["engine_chain"] / med["raw_chain"]
    fan_ratio = med["engine_fan_out"] / med["raw_chord"]
    return [
        f"Results: median and p90 of {reps} repetitions after {warmup} warm-up",
        f"  {'':<48}{'median':>13}{'p90':>12}",
        row(f"engine chain, per node ({CHAIN} nodes)", "engine_chain", 1000, "ms"),
        row(f"raw Celery chain, per step ({CHAIN} tasks)", "raw_chain", 1000, "ms"),
        row("  reference: raw chain, new PG connection per task", "raw_chain_fresh", 1000, "ms"),
        row(f"engine fan-out {WIDTH} + join ({WIDTH + 2} nodes), wall", "engine_fan_out", 1000, "ms"),
        row(f"raw Celery chord {WIDTH} + callback, wall", "raw_chord", 1000, "ms"),
        "",
        f"  {'target (ratio of medians)':<48}{'ratio':>9}{'limit':>9}  verdict",
        f"  {'engine per node / raw chain per step':<48}{node_ratio:>9.2f}{TARGET:>9.2f}  "
        + ("PASS" if node_ratio <= TARGET else "MISS"),
        f"  {'engine fan-out / raw chord':<48}{fan_ratio:>9.2f}{TARGET:>9.2f}  "
        + ("PASS" if fan_ratio <= TARGET else "MISS"),
    ]


def environment() -> list[str]:
    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    return [
        f"command: {shlex.join([Path(sys.executable).as_posix(), *sys.argv])}  (cwd {Path.cwd()})",
        f"cpus: {os.cpu_count()}  load average: {load}  platform: {platform.platform()}",
        f"python {platform.python_version()}  celery {celery.__version__}  django {django.get_version()}  "
        f"psycopg {psycopg.__version__}",
        "workers: --pool=threads --concurrency=8 --without-mingle --without-gossip, one for the engine, one for raw",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="measured repetitions of each case")
    parser.add_argument("--warmup", type=int, default=1, help="repetitions run first and not counted")
    parser.add_argument("--no-profile", action="store_true", help="skip the in-process query profile")
    args = parser.parse_args()
    print("\n".join(environment()), flush=True)
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
        print(f"data dir (worker logs): {data_dir}", flush=True)
        worker_env = base_env(**env)
        with (
            Worker("engine", engine_app, "config", "celery", worker_env, Path(data_dir)) as engine_worker,
            Worker("raw", raw_tasks.app, "bench.raw_tasks", raw_tasks.QUEUE, worker_env, Path(data_dir)) as raw_worker,
        ):
            samples = measure(Bench(workspace_id, [engine_worker, raw_worker]), args.reps, args.warmup)
        print("\n".join(["", *verdict(samples, args.reps, args.warmup)]))
        if not args.no_profile:
            profile = query_profile.report(workspace_id, graphs.chain(CHAIN), graphs.fan_out(WIDTH))
            print("\n".join(["", *profile]))
        print(f"\nload average at the end: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")
    except (CouldNotMeasure, RuntimeError) as error:
        print(f"\ncould not measure: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
