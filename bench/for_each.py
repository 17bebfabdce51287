"""A for_each over 1,000 items against a raw Celery group, on real Celery + Redis + PostgreSQL.

    .venv/bin/python bench/for_each.py [--items 1000] [--concurrency 50] [--reps 3]

Measures the wall time of a run whose for_each node runs a one-node child workflow (a
trigger: the item's output is its input) once per item, `--concurrency` at a time, beside a raw Celery group of as
many no-op tasks that each write a PostgreSQL row, in the same session and on the same
workers' settings. Target: the for_each at most 3x the raw group. It uses the database and
Redis databases of bench/engine_overhead.py, which it empties first, and starts and stops its
own workers. Exit status: 0 when it measured (a missed target is reported, not an error), 1
when it could not measure.
"""

import argparse
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
from bench.engine_overhead import CouldNotMeasure, prepare_services, setup_django, wait  # noqa: E402
from bench.workers import Worker, base_env  # noqa: E402

TARGET = 3.0


def child_workflow(workspace_id: int) -> int:
    """A published one-node workflow (a trigger, whose output is its input) to run per item; its id."""
    from builder.models import Workflow, WorkflowVersion

    graph = {"schema_version": 1, "nodes": [{"id": "start", "type": "trigger", "params": {}}], "edges": []}
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

    from bench.engine_overhead import DATABASE_URL
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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--reps", type=int, default=3, help="measured repetitions of each case (after one warm-up)")
    args = parser.parse_args()
    print("\n".join(report.environment()), flush=True)
    data_dir = tempfile.mkdtemp(prefix="switchyard-bench-")
    try:
        env = prepare_services(data_dir)
        workspace_id = setup_django(env)
        from bench import raw_tasks
        from config.celery import app as engine_app

        workflow_id = child_workflow(workspace_id)
        worker_env = base_env(**env, DB_CONN_MAX_AGE="60")
        with (
            Worker("engine", engine_app, "config", "celery", worker_env, Path(data_dir)) as engine_worker,
            Worker("raw", raw_tasks.app, "bench.raw_tasks", raw_tasks.QUEUE, worker_env, Path(data_dir)) as raw_worker,
        ):
            workers = [engine_worker, raw_worker]
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
