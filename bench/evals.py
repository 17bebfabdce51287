"""An eval run of 500 rows with three scorers beside the same rows as plain runs, in one process.

    .venv/bin/python bench/evals.py [--rows 500] [--reps 3] [--concurrency 50]

The workflow is a trigger, a `transform` labelling the ticket and a `reply`, on the built-in
provider's terms (nothing leaves the machine). The eval run scores every row with an exact match,
a regex and the built-in offline judge (a billed model call per row). The plain case starts one
run per row (`run_version`) with the same inputs. Both run on one Celery worker started in this
process (celery.contrib.testing's worker thread, 8 threads, the engine's own broker on Redis), so
the two cases share everything but what differs between them. (Eager mode would nest each row's
start inside the previous row's end and run out of stack on a 500-row for-each.) Reported: the
median wall time of each over `--reps` repetitions (after one warm-up), per row, and the per-row
overhead of the eval run beyond a plain run (its for_each round, child bookkeeping and scoring).
Target: the eval run at most 2x the plain runs. It uses its own database (switchyard_bench_evals,
or BENCH_DATABASE_URL) and Redis db (REDIS_URL, else db BENCH_EVALS_REDIS_DB, default 4, on
127.0.0.1:6379), which it empties first.
Exit status 0 when it measured, 1 when it could not.
"""

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, the repo root is not on the path

import redis

from bench import report
from bench.database import CouldNotMeasure, use_own_database

TARGET = 2.0
POLL_S = 0.05
SCHEMA = {
    "type": "object",
    "required": ["subject", "topic"],
    "properties": {"subject": {"type": "string"}, "topic": {"type": "string"}},
}
TOPICS = ("billing", "login", "refund", "shipping", "account")


def graph() -> dict[str, Any]:
    fields = {"category": "{{ input.topic | lower }}", "reply": "About {{ input.subject }}: done."}
    nodes = [
        {"id": "start", "type": "trigger", "params": {"input_schema": SCHEMA}},
        {"id": "label", "type": "transform", "params": {"fields": fields}},
        {"id": "reply", "type": "reply", "params": {"answer": "{{ nodes.label.reply }}"}},
    ]
    edges = [{"id": "e1", "source": "start", "target": "label"}, {"id": "e2", "source": "label", "target": "reply"}]
    return {"schema_version": 1, "nodes": nodes, "edges": edges}


def prepare(rows: int) -> tuple[Any, Any, list[dict[str, Any]]]:
    """A fresh workspace with the workflow published and an eval set of `rows` rows and three scorers."""
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import Workspace
    from builder.models import Workflow, WorkflowVersion
    from evals import sets
    from evals.scorers import ScorerSpec

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE engine_run, builder_workflow, accounts_workspace CASCADE")
    workspace = Workspace.objects.create(slug="bench-evals", name="Bench evals")
    workflow = Workflow.objects.create(workspace=workspace, name="Triage", draft=graph())
    version = WorkflowVersion.objects.create(workflow=workflow, number=1, graph=graph())
    topics = [TOPICS[n % len(TOPICS)] for n in range(rows)]
    inputs = [{"subject": f"{topic.title()} question {n}", "topic": topic.title()} for n, topic in enumerate(topics)]
    eval_set = sets.create_set(workflow, "Bench", None)
    # Every seventh row expects another category, so the exact scorer has failures to count.
    expected = [
        {"category": "other" if n % 7 == 0 else topic, "reply": f"About {value['subject']}"}
        for n, (topic, value) in enumerate(zip(topics, inputs, strict=True))
    ]
    sets.add_rows(eval_set, [sets.NewRow(i, e) for i, e in zip(inputs, expected, strict=True)], None)
    judge = {"provider": "builtin", "rubric": "The reply is about the ticket's subject.", "scale": "pass_fail"}
    for spec in (
        ScorerSpec("category_exact", "exact", "nodes.label.category", {}, 1.0, "category"),
        ScorerSpec("reply_regex", "regex", "answer", {"pattern": r"^About \w+"}, 1.0),
        ScorerSpec("offline_judge", "judge", "answer", judge, 1.0, "reply"),
    ):
        sets.save_scorer(eval_set, spec, None)
    return version, eval_set, inputs


def settle(run_ids: list[int], timeout: float = 1800) -> None:
    """Wait until every run has ended, polling every POLL_S."""
    from engine.models import ENDED_RUN, Run

    began = time.perf_counter()
    while Run.objects.filter(pk__in=run_ids).exclude(status__in=ENDED_RUN).exists():
        if time.perf_counter() - began > timeout:
            raise CouldNotMeasure(f"runs did not end within {timeout} s")
        time.sleep(POLL_S)


def plain_runs(version: Any, inputs: list[dict[str, Any]]) -> float:
    from builder.versions import run_version
    from engine.models import Run, RunStatus
    from engine.runs import Options

    began = time.perf_counter()
    ids = [run_version(version, value, Options()).pk for value in inputs]
    settle(ids)
    elapsed = time.perf_counter() - began
    succeeded = Run.objects.filter(pk__in=ids, status=RunStatus.SUCCEEDED).count()
    if succeeded != len(inputs):
        raise CouldNotMeasure(f"{len(inputs) - succeeded} plain runs did not succeed")
    return elapsed


def eval_run(eval_set: Any, version: Any, concurrency: int) -> tuple[float, dict[str, Any]]:
    from evals.eval_runs import start_eval_run
    from evals.models import EvalRun

    began = time.perf_counter()
    started = start_eval_run(eval_set, version, None, concurrency)
    settle([started.run_id])
    elapsed = time.perf_counter() - began
    figures = EvalRun.objects.get(pk=started.pk).aggregates
    if not figures or figures["succeeded"] != started.row_count:
        raise CouldNotMeasure(f"eval run {started.pk} did not score every row: {figures}")
    return elapsed, figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=500)
    parser.add_argument("--reps", type=int, default=3, help="measured repetitions of each case (after one warm-up)")
    parser.add_argument("--concurrency", type=int, default=50, help="the eval run's rows at once")
    args = parser.parse_args()
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    redis_db = int(os.environ.get("BENCH_EVALS_REDIS_DB", "4"))
    # The db emptied is the one the worker will use: REDIS_URL when set, not always port 6379's.
    redis_url = os.environ.setdefault("REDIS_URL", f"redis://127.0.0.1:6379/{redis_db}")
    redis.Redis.from_url(redis_url, socket_connect_timeout=3).flushdb()
    use_own_database("switchyard_bench_evals", redis_db)
    from celery.contrib.testing.worker import start_worker

    from config.celery import app

    print("\n".join(report.environment()), flush=True)
    version, eval_set, inputs = prepare(args.rows)
    samples: dict[str, list[float]] = {"eval": [], "plain": []}
    figures: dict[str, Any] = {}
    with start_worker(app, pool="threads", concurrency=8, perform_ping_check=False, shutdown_timeout=30):
        for rep in range(1 + args.reps):
            evaluated, figures = eval_run(eval_set, version, args.concurrency)
            plain = plain_runs(version, inputs)
            label = "warm-up" if rep == 0 else f"rep {rep}/{args.reps}"
            print(f"  {label:>9}: eval run {evaluated:7.2f} s, plain runs {plain:7.2f} s", flush=True)
            if rep:
                samples["eval"].append(evaluated)
                samples["plain"].append(plain)
    evaluated, plain = statistics.median(samples["eval"]), statistics.median(samples["plain"])
    rows = args.rows
    rates = ", ".join(f"{name} {scorer['pass_rate']}" for name, scorer in figures["scorers"].items())
    print(f"\npass rates: {rates}")
    print(f"median: eval run {evaluated:.2f} s ({1000 * evaluated / rows:.1f} ms/row), ", end="")
    print(f"plain runs {plain:.2f} s ({1000 * plain / rows:.1f} ms/row)")
    overhead = 1000 * (evaluated - plain) / rows
    ratio = evaluated / plain
    verdict = "met" if ratio <= TARGET else "MISSED"
    print(f"per-row overhead of the eval run beyond a plain run: {overhead:+.1f} ms")
    print(f"ratio {ratio:.2f}x (target at most {TARGET:.0f}x): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())  # CouldNotMeasure exits 1 with the reason
