"""A for_each over 1,000 items against a raw Celery group, on real Celery + Redis + PostgreSQL.

    .venv/bin/python bench/for_each.py [--items 1000] [--concurrency 50] [--reps 3] [--trigger-only]
    .venv/bin/python bench/for_each.py --batch 10000 [--concurrency 50]

Measures the wall time of a run whose for_each node runs a one-node child workflow (a
`transform` after its trigger; with --trigger-only, the trigger alone) once per item,
`--concurrency` at a time, beside a raw Celery group of as many no-op tasks that each write
a PostgreSQL row, in the same session and on the same workers' settings. Target: the
for_each at most 3x the raw group. With --batch N, one for_each over N items instead (as a
batch run on a dataset), with the engine worker's RSS before and after (target: growth under
100 MB). It uses its own database (BENCH_FOR_EACH_DATABASE, default
postgresql://postgres@127.0.0.1:5432/switchyard_bench_for_each) and one Redis database for
broker and results (BENCH_FOR_EACH_REDIS, default redis://127.0.0.1:6379/3), which it empties
first, and starts and stops its own workers. Exit status: 0 when it measured (a missed target
is reported, not an error), 1 when it could not measure.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import celery

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # run as a script, the repo root is not on the path

from bench import report  # noqa: E402
from bench.engine_overhead import SERVER_URL, CouldNotMeasure, prepare_services, setup_django, wait  # noqa: E402
from bench.workers import Worker, base_env  # noqa: E402

TARGET = 3.0
DATABASE_URL = os.environ.get("BENCH_FOR_EACH_DATABASE", f"{SERVER_URL}/switchyard_bench_for_each")
REDIS_URL = os.environ.get("BENCH_FOR_EACH_REDIS", "redis://127.0.0.1:6379/3")


def child_workflow(workspace_id: int, node: bool) -> int:
    """A published workflow to run per item (a trigger, and with `node` one `transform` after it); its id."""
    from builder.models import Workflow, WorkflowVersion

    nodes: list[dict[str, object]] = [{"id": "start", "type": "trigger", "params": {}}]
    edges = []
    if node:
        nodes.append({"id": "work", "type": "transform", "params": {}})
        edges.append({"id": "start-out-work", "source": "start", "target": "work"})
    graph = {"schema_version": 1, "nodes": nodes, "edges": edges}
    workflow = Workflow.objects.create(workspace_id=workspace_id, name="Bench item", draft=graph)
    WorkflowVersion.objects.create(workflow=workflow, number=1, graph=graph)
    return workflow.pk


def for_each(workspace_id: int, workflow_id: int, items: int, concurrency: int, workers: list[Worker]) -> float:
    from engine.models import ENDED_RUN, Run, RunStatus
    from engine.runs import Options, children

    began = time.perf_counter()
    run = children.start_for_each(
        workspace_id,
        workflow_id,
        1,
        [{"n": n} for n in range(items)],
        Options(),
        input_template={"n": "{{ item.n }}"},
        max_concurrency=concurrency,
    )
    status = Run.objects.filter(pk=run.pk).values_list("status", flat=True)
    elapsed = wait(lambda: status.first() in ENDED_RUN, began, 1800, f"for_each run {run.pk}", workers)
    progress = children.progress(run.pk)
    if status.first() != RunStatus.SUCCEEDED or progress is None or progress.succeeded != items:
        raise CouldNotMeasure(f"for_each run {run.pk} ended {status.first()}: {progress}")
    return elapsed


def raw_group(items: int, workers: list[Worker]) -> float:
    import psycopg

    from bench.raw_tasks import TABLE, member

    tag = uuid.uuid4().hex
    db = psycopg.connect(DATABASE_URL, autocommit=True)

    def rows() -> int:
        found = db.execute(f"SELECT count(*) FROM {TABLE} WHERE tag = %s", (tag,)).fetchone()  # noqa: S608
        return int(found[0]) if found else 0

    began = time.perf_counter()
    celery.group(member.si(tag, i) for i in range(items)).apply_async()
    elapsed = wait(lambda: rows() >= items, began, 600, "the raw group", workers)
    db.close()
    return elapsed


def rss_mb(worker: Worker) -> float:
    """The worker process's resident memory (its threads run the tasks), in MB."""
    assert worker.process is not None
    status = Path(f"/proc/{worker.process.pid}/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024


def batch(workspace_id: int, workflow_id: int, rows: int, concurrency: int, worker: Worker) -> None:
    """One for_each over `rows` items, as a batch on a dataset runs: wall time, runs/s, the worker's RSS growth."""
    before = rss_mb(worker)
    elapsed = for_each(workspace_id, workflow_id, rows, concurrency, [worker])
    after = rss_mb(worker)
    print(f"\nbatch of {rows} rows, concurrency {concurrency}: {elapsed:.1f} s, {rows / elapsed:.0f} runs/s")
    print(f"engine worker RSS {before:.0f} MB before, {after:.0f} MB after: {after - before:+.0f} MB (target < 100 MB)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--reps", type=int, default=3, help="measured repetitions of each case (after one warm-up)")
    parser.add_argument("--trigger-only", action="store_true", help="the child is its trigger alone")
    parser.add_argument("--batch", type=int, default=0, help="instead, one for_each over this many rows, with RSS")
    args = parser.parse_args()
    print("\n".join(report.environment()), flush=True)
    data_dir = tempfile.mkdtemp(prefix="switchyard-bench-")
    try:
        env = prepare_services(data_dir, DATABASE_URL, REDIS_URL, REDIS_URL)
        workspace_id = setup_django(env)
        from bench import raw_tasks
        from config.celery import app as engine_app

        workflow_id = child_workflow(workspace_id, node=not args.trigger_only)
        worker_env = base_env(**env, DB_CONN_MAX_AGE="60")
        with (
            Worker("engine", engine_app, "config", "celery", worker_env, Path(data_dir)) as engine_worker,
            Worker("raw", raw_tasks.app, "bench.raw_tasks", raw_tasks.QUEUE, worker_env, Path(data_dir)) as raw_worker,
        ):
            workers = [engine_worker, raw_worker]
            if args.batch:
                for_each(workspace_id, workflow_id, args.concurrency, args.concurrency, workers)  # warm-up
                batch(workspace_id, workflow_id, args.batch, args.concurrency, engine_worker)
                shutil.rmtree(data_dir, ignore_errors=True)
                return 0
            samples: dict[str, list[float]] = {"for_each": [], "raw_group": []}
            for rep in range(1 + args.reps):
                loop = for_each(workspace_id, workflow_id, args.items, args.concurrency, workers)
                group = raw_group(args.items, workers)
                label = "warm-up" if rep == 0 else f"rep {rep}/{args.reps}"
                print(f"  {label:>9}: for_each {loop:7.2f} s, raw group {group:7.2f} s", flush=True)
                if rep:
                    samples["for_each"].append(loop)
                    samples["raw_group"].append(group)
        loop, group = statistics.median(samples["for_each"]), statistics.median(samples["raw_group"])
        ratio = loop / group
        verdict = "met" if ratio <= TARGET else "MISSED"
        print(f"\nmedian: for_each {loop:.2f} s ({args.items / loop:.0f} items/s), raw group {group:.2f} s")
        print(f"ratio {ratio:.2f}x (target at most {TARGET:.0f}x): {verdict}")
    except (CouldNotMeasure, RuntimeError) as error:
        print(f"\ncould not measure: {error}\n(worker logs kept in {data_dir})", file=sys.stderr)
        return 1
    shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
