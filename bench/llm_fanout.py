"""100 parallel generate nodes against a fake OpenAI-compatible server at 500 ms latency, on ONE worker process.

    .venv/bin/python bench/llm_fanout.py [--nodes 100] [--latency 0.5] [--concurrency 50] [--reps 3] [--pool-size 20]

The graph is a trigger fanned out to `--nodes` generate nodes, each one model call. The worker
is one `celery worker --pool=threads` process sharing a pool of `--pool-size` database
connections (DB_POOL_SIZE); a model call waits on the network holding no connection, so the
pool's threads overlap the calls. Printed: wall time per run
(start_run to the run's end), beside the serial lower bound (nodes x latency) and the bound
with as many calls in flight as the worker's node threads allow (ceil(nodes / ENGINE_NODE_THREADS)
x latency: a task runs the nodes of its message on node threads, not on the pool's
`--concurrency` threads), and the same fan-out of no-op
transform nodes, the engine's own floor measured in the same run, and the worker's CPU time per
run of each (user and system, from /proc: less moved by other load than the wall time). Where
the wall time goes: when the last node was claimed (its started_at, from the run's created_at)
and when the fake server received the last call (from start_run's call), medians over the runs;
a run cannot end before its last call was received and answered.
Target: at most 1 s for 100 nodes (issue 23).
Uses its own database (switchyard_ai_bench) and Redis database 8, which it empties first;
BENCH_FANOUT_DATABASE (a database name on the same server) and BENCH_FANOUT_REDIS (a Redis URL
with its database) name others, so that two trees can be measured side by side.
Exit status: 0 when it measured (a missed target is reported), 1 when it could not measure.
"""

import argparse
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import django
import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script, the repo root is not on the path

from bench.database import create_database  # noqa: E402
from bench.workers import POOL_ARGS, Worker, base_env  # noqa: E402
from tests.fake_openai import FakeOpenAI  # noqa: E402

SERVER_URL = "postgresql://postgres@127.0.0.1:5432"
DB_NAME = os.environ.get("BENCH_FANOUT_DATABASE", "switchyard_ai_bench")
BROKER_URL = os.environ.get("BENCH_FANOUT_REDIS", "redis://127.0.0.1:6379/8")
TARGET_S = 1.0  # issue 23 (it was 2 s before)


class CouldNotMeasure(Exception):
    pass


def cpu_s(worker: Worker) -> float:
    """CPU seconds (user and system) the worker process has spent so far, from /proc."""
    assert worker.process is not None
    fields = Path(f"/proc/{worker.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class ModelWorker(Worker):
    """One worker process with a thread pool sized for overlapping model calls."""

    def __init__(self, app: object, env: dict[str, str], log_dir: Path, concurrency: int) -> None:
        super().__init__("model-calls", app, "config", "celery", env, log_dir)  # type: ignore[arg-type]
        pool = [arg for arg in POOL_ARGS if not arg.startswith("--concurrency")]
        self.command = [*self.command[: self.command.index(POOL_ARGS[0])], *pool, f"--concurrency={concurrency}",
                        *self.command[self.command.index(POOL_ARGS[-1]) + 1 :]]  # fmt: skip


def prepare(data_dir: str) -> dict[str, str]:
    try:
        create_database(f"{SERVER_URL}/{DB_NAME}")
        redis.Redis.from_url(BROKER_URL, socket_connect_timeout=3).flushdb()
    except (psycopg.Error, redis.RedisError) as error:
        raise CouldNotMeasure(f"PostgreSQL or Redis on 127.0.0.1 is not usable: {error}") from error
    env = {
        "DATABASE_URL": f"{SERVER_URL}/{DB_NAME}",
        "REDIS_URL": BROKER_URL,
        "SECRET_KEY": "bench-only-secret-key-not-used-for-anything-real-0123456789",
        "SWITCHYARD_DATA_DIR": data_dir,
        "LOG_LEVEL": "WARNING",
    }
    os.environ.update(env)
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    django.setup()
    return env


def setup_workspace(fake_url: str) -> int:
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Workspace
    from engine import provider_configs

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE engine_run, engine_providerconfig CASCADE")
    workspace, _ = Workspace.objects.get_or_create(slug="bench", defaults={"name": "Benchmarks"})
    workspace.http_allowlist = ["127.0.0.1"]  # the fake server: the outbound guard refuses loopback otherwise
    workspace.save(update_fields=["http_allowlist"])
    values = {"name": "fake", "base_url": fake_url, "chat_models": ["gpt-bench"]}
    provider_configs.save(workspace.pk, values, "sk-bench")
    return workspace.pk


def analyze() -> None:
    """Statistics for the tables setup emptied, as autovacuum would give them in a while (bench/engine_overhead.py)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE engine_run, engine_noderun, engine_runevent, engine_costentry")


def fan_out(nodes: int, model_calls: bool = True) -> dict[str, object]:
    """Trigger → `nodes` generate nodes; without model calls, as many no-op transforms (the engine's own floor)."""
    generate = {"type": "generate", "params": {"provider": "fake", "model": "gpt-bench", "prompt": "ticket"}}
    noop = {"type": "transform", "params": {"fields": {"n": 1}}}
    drafts = [{"id": f"d{i}", **(generate if model_calls else noop)} for i in range(nodes)]
    edges = [{"id": f"e{i}", "source": "start", "source_handle": "out", "target": f"d{i}", "target_handle": "in"}
             for i in range(nodes)]  # fmt: skip
    return {"schema_version": 1, "nodes": [{"id": "start", "type": "trigger"}, *drafts], "edges": edges}


class Spread:
    """When a run's last node was claimed and its last call arrived, in seconds from its start, run by run."""

    def __init__(self, fake: FakeOpenAI) -> None:
        self.fake = fake
        self.last_claim: list[float] = []
        self.last_call: list[float] = []

    def add(self, run_id: int, began: float) -> None:
        from django.db.models import Max

        from engine.models import NodeRun, Run

        created = Run.objects.values_list("created_at", flat=True).get(pk=run_id)
        claimed = NodeRun.objects.filter(run_id=run_id).aggregate(last=Max("started_at"))["last"]
        self.last_claim.append((claimed - created).total_seconds())
        self.last_call.append(max(seen.at for seen in self.fake.seen) - began)


def one_run(
    workspace_id: int, graph: dict[str, object], worker: Worker, timeout: float, spread: Spread | None = None
) -> float:
    from engine.models import ENDED_RUN, NodeRun, Run, RunStatus
    from engine.runs import Options, RunSource, start_run

    if spread is not None:
        spread.fake.seen.clear()
    began = time.perf_counter()
    started = time.monotonic()  # the clock of the fake server's `seen`
    run = start_run(RunSource(workspace_id=workspace_id, graph=graph), {}, Options())
    status = Run.objects.filter(pk=run.pk).values_list("status", flat=True)
    while status.first() not in ENDED_RUN:
        if time.perf_counter() - began > timeout:
            raise CouldNotMeasure(f"run {run.pk} did not finish within {timeout} s")
        if not worker.alive():
            raise CouldNotMeasure(f"the worker died:\n{worker.output()}")
        time.sleep(0.005)
    elapsed = time.perf_counter() - began
    if status.first() != RunStatus.SUCCEEDED:
        failed = NodeRun.objects.filter(run=run).exclude(status="succeeded").values_list("node_id", "error")[:3]
        raise CouldNotMeasure(f"run {run.pk} ended {status.first()}: {list(failed)}")
    if spread is not None:
        spread.add(run.pk, started)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--concurrency", type=int, default=50, help="threads of the one worker process")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--pool-size", type=int, default=20, help="the worker's DB_POOL_SIZE (0: no pool)")
    args = parser.parse_args()
    fake = FakeOpenAI(latency_s=args.latency, tokens_in=50, tokens_out=20)
    try:
        with tempfile.TemporaryDirectory(prefix="llm-fanout-") as data_dir:
            env = prepare(data_dir)
            workspace_id = setup_workspace(fake.url)
            from config.celery import app

            worker_env = base_env(**env, DB_POOL_SIZE=str(args.pool_size))
            with ModelWorker(app, worker_env, Path(data_dir), args.concurrency) as worker:
                graph = fan_out(args.nodes)
                one_run(workspace_id, graph, worker, 120)  # warm-up: imports, connection pools
                analyze()
                fake.peak_in_flight = 0
                began = cpu_s(worker)
                spread = Spread(fake)
                walls = [one_run(workspace_id, graph, worker, 120, spread) for _ in range(args.reps)]
                between = cpu_s(worker)
                floor = [one_run(workspace_id, fan_out(args.nodes, False), worker, 120) for _ in range(args.reps)]
                cpu = ((between - began) / args.reps, (cpu_s(worker) - between) / args.reps)
    except CouldNotMeasure as error:
        print(f"could not measure: {error}", file=sys.stderr)
        return 1
    finally:
        fake.close()
    from django.conf import settings

    serial = args.nodes * args.latency
    bound = math.ceil(args.nodes / settings.ENGINE_NODE_THREADS) * args.latency
    median = statistics.median(walls)
    print(f"{args.nodes} parallel generate nodes, {args.latency * 1000:.0f} ms per model call, one worker process "
          f"(--pool=threads --concurrency={args.concurrency})")  # fmt: skip
    print(f"  wall per run:            {', '.join(f'{wall:.2f} s' for wall in walls)} (median {median:.2f} s)")
    print(f"  same fan-out of no-op transform nodes (engine floor): median {statistics.median(floor):.2f} s")
    print(f"  worker CPU per run:      {cpu[0]:.2f} s (generate nodes), {cpu[1]:.2f} s (no-op floor)")
    print(f"  last node claimed:       {statistics.median(spread.last_claim):.2f} s after the run was created (median)")
    print(f"  last call received:      {statistics.median(spread.last_call):.2f} s after start_run was called (median)")
    print(f"  serial lower bound:      {serial:.1f} s ({args.nodes} x {args.latency} s)")
    print(f"  bound, {settings.ENGINE_NODE_THREADS} node threads:  {bound:.1f} s (every call in flight at once)")
    print(f"  peak concurrent calls:   {fake.peak_in_flight}")
    print(f"  speed-up over serial:    {serial / median:.0f}x")
    verdict = "met" if median <= TARGET_S else "MISSED"
    print(f"  target (<= {TARGET_S:.1f} s for the median): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
