"""The costs page at scale: 1,000,000 cost entries over 90 days, every query of the page (target ≤ 300 ms).

    .venv/bin/python bench/cost_report.py [--reuse]

It creates (and refills) its own database, switchyard_bench_costs on 127.0.0.1 (BENCH_DATABASE_URL
overrides it; the name must contain 'bench'), fills it with SQL generate_series — runs, their
cost entries, the CostDaily rows engine.costs.record would have written, run totals — and times
costs.page.report(), the function the page, its CSV export and nothing else call, in this process:
server time without the network. The baseline, measured in the same run, is the same tables summed
straight from the cost entries, without the rollup. --reuse keeps the data of an earlier run.
"""

import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.database import use_own_database

use_own_database("switchyard_bench_costs", redis_db=10)

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.db.models import Max, Sum  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from accounts.models import Membership, Role, Workspace  # noqa: E402
from bench.report import environment  # noqa: E402
from costs.page import ReportQuery, report  # noqa: E402
from costs.reports import GROUPINGS, Filters  # noqa: E402
from engine.models import CostEntry  # noqa: E402

RUNS = 250_000
CALLS_PER_RUN = 4  # classify, retrieve-rerank, draft, check: 1,000,000 entries
DAYS = 90
TARGET_MS = 300.0
REPS, WARMUP = 15, 3

RUNS_SQL = """
INSERT INTO engine_run (workspace_id, workflow_id, workflow_name, version_number, graph, input, escalation_reason,
    error, status, trigger_kind, is_test, created_at, started_at, finished_at, cost, last_seq, idempotency_key,
    callback_urls)
SELECT %(workspace)s, w, 'Workflow ' || w, CASE WHEN g %% 50 = 0 THEN NULL ELSE 1 + (g / 7) %% 3 END,
    '{"schema_version": 1, "nodes": [], "edges": []}', '{}', '', '', 'succeeded',
    CASE WHEN g %% 50 = 0 THEN 'manual' ELSE (ARRAY['api', 'webhook', 'schedule', 'manual'])[1 + g %% 4] END,
    g %% 50 = 0, t, t, t + interval '4 seconds', 0, 0, '', '[]'
FROM (
    SELECT g, 1 + g %% 12 AS w, now() - random() * %(days)s * interval '1 day' AS t FROM generate_series(1, %(runs)s) g
) s
"""

ENTRIES_SQL = """
INSERT INTO engine_costentry (workspace_id, run_id, node_id, node_type, attempt, call, workflow_id, workflow_name,
    version_number, trigger_kind, is_test, provider, provider_kind, model, tokens_in, tokens_out, cost, cached,
    saved, latency_ms, created_at)
SELECT workspace_id, id, node_id, node_type, 1, 0, workflow_id, workflow_name, version_number, trigger_kind,
    is_test, provider, kind, model, tokens_in, tokens_out, CASE WHEN cached THEN 0 ELSE full_cost END, cached,
    CASE WHEN cached THEN full_cost ELSE 0 END, 400 + tokens_out, created_at + step * interval '1 second'
FROM (
    SELECT r.*, n.*, round((tin * n.price_in + tout * n.price_out) / 1000000, 6) AS full_cost,
        tin AS tokens_in, tout AS tokens_out, random() < 0.1 AS cached
    FROM engine_run r
    CROSS JOIN (VALUES
        ('classify', 'classify', 'OpenAI', 'openai_compatible', 'gpt-mini', 0.15, 0.60, 1),
        ('rerank', 'generate', 'OpenAI', 'openai_compatible', 'gpt-mini', 0.15, 0.60, 2),
        ('draft', 'generate', 'Anthropic', 'anthropic', 'claude-y', 3.00, 15.00, 3),
        ('check', 'classify', 'Azure', 'openai_compatible', 'gpt-x', 2.50, 10.00, 4)
    ) n(node_id, node_type, provider, kind, model, price_in, price_out, step)
    CROSS JOIN LATERAL (
        SELECT (200 + random() * 3000)::int + r.id %% 1 AS tin, (20 + random() * 600)::int + r.id %% 1 AS tout
    ) tokens
    WHERE r.workspace_id = %(workspace)s
) e
"""

# The rollup exactly as engine.costs.record maintains it, one row per day and dimensions.
DAILY_SQL = """
INSERT INTO engine_costdaily (workspace_id, day, workflow_id, workflow_name, version_number, node_id, node_type,
    trigger_kind, provider, provider_kind, model, calls, cached_calls, tokens_in, tokens_out, cost, saved)
SELECT workspace_id, (created_at AT TIME ZONE 'UTC')::date, coalesce(workflow_id, 0), max(workflow_name),
    coalesce(version_number, 0), node_id, node_type, trigger_kind, provider, provider_kind, model, count(*),
    count(*) FILTER (WHERE cached), sum(tokens_in), sum(tokens_out), sum(cost), sum(saved)
FROM engine_costentry WHERE workspace_id = %(workspace)s
GROUP BY 1, 2, 3, 5, 6, 7, 8, 9, 10, 11
"""

RUN_TOTALS_SQL = """
UPDATE engine_run r SET cost = s.total
FROM (SELECT run_id, sum(cost) AS total FROM engine_costentry WHERE workspace_id = %(workspace)s GROUP BY run_id) s
WHERE r.id = s.run_id
"""


def seed() -> Workspace:
    call_command("migrate", verbosity=0)
    if "--reuse" in sys.argv:
        found = Workspace.objects.filter(slug="bench-costs").first()
        if found and CostEntry.objects.filter(workspace=found).count() >= RUNS * CALLS_PER_RUN:
            print("  reusing the data of an earlier run (--reuse)")
            return found
    call_command("flush", interactive=False, verbosity=0)
    workspace = Workspace.objects.create(name="Bench costs", slug="bench-costs")
    params = {"workspace": workspace.pk, "runs": RUNS, "days": DAYS}
    with connection.cursor() as cursor:
        for label, sql in (
            ("runs", RUNS_SQL),
            ("cost entries", ENTRIES_SQL),
            ("daily rollup", DAILY_SQL),
            ("run totals", RUN_TOTALS_SQL),
        ):
            began = time.perf_counter()
            cursor.execute(sql, params)
            print(f"  {label:<14}{cursor.rowcount:>10,} rows  {time.perf_counter() - began:6.1f} s")
        # What autovacuum would have done by the time anyone reads the report: statistics for the
        # planner and a visibility map, without which no index-only scan skips the heap.
        for table in ("engine_run", "engine_costentry", "engine_costdaily"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        # Write the seeding's dirty pages out now rather than during the measurements.
        cursor.execute("CHECKPOINT")
    return workspace


def timed(build: Callable[[], object], reps: int = REPS) -> tuple[list[float], int]:
    for _ in range(WARMUP if reps > 1 else 0):
        build()
    samples = []
    for _ in range(reps):
        began = time.perf_counter()
        build()
        samples.append((time.perf_counter() - began) * 1000)
    with CaptureQueriesContext(connection) as queries:
        build()
    return samples, len(queries)


def without_rollup(filters: Filters) -> None:
    """The baseline: the page's totals and grouping tables summed from the cost entries themselves."""
    start, end = filters.bounds()
    entries = CostEntry.objects.filter(workspace_id=filters.workspace_id, created_at__gte=start, created_at__lt=end)
    sums = {name: Sum(name) for name in ("tokens_in", "tokens_out", "cost", "saved")}
    list(entries.aggregate(**sums).items())
    for grouping in GROUPINGS.values():
        list(entries.values(*grouping.keys).annotate(name=Max("workflow_name"), **sums).order_by("-cost"))


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8] if len(values) > 1 else values[0]


def main() -> int:
    print("\n".join(environment()[:3]))
    print(
        f"database: {connection.settings_dict['NAME']}; seeding {RUNS * CALLS_PER_RUN:,} cost entries over {DAYS} days"
    )
    began = time.perf_counter()
    workspace = seed()
    entries = CostEntry.objects.filter(workspace=workspace).count()
    print(f"seeded in {time.perf_counter() - began:.1f} s: {entries:,} entries")
    if entries < RUNS * CALLS_PER_RUN:
        print("could not seed the cost entries")
        return 2
    today = timezone.localdate()
    whole = Filters(workspace.pk, today - timedelta(days=DAYS - 1), today)
    month = Filters(workspace.pk, today - timedelta(days=29), today)
    cases = {
        "90 days, per day by workflow (target)": ReportQuery(whole),
        "30 days (the page's default)": ReportQuery(month),
        "90 days, per week by model": ReportQuery(whole, "week", "model"),
        "90 days, one workflow": ReportQuery(Filters(workspace.pk, whole.since, whole.until, workflow_id=3)),
        "90 days, one model (per-run sums)": ReportQuery(
            Filters(workspace.pk, whole.since, whole.until, model="gpt-x")
        ),
    }
    for query in cases.values():  # one pass over every case first: caches warm for all alike
        report(query)
    print(f"\n{'all queries of the costs page':<44}{'median':>10}{'p90':>10}{'queries':>9}")
    headline = 0.0
    for label, query in cases.items():
        samples, queries = timed(partial(report, query))
        median = statistics.median(samples)
        headline = headline or median
        print(f"{label:<44}{median:>8.1f}ms{p90(samples):>8.1f}ms{queries:>9}")
    user, _ = User.objects.get_or_create(username="bench-owner")
    Membership.objects.get_or_create(workspace=workspace, user=user, role=Role.OWNER)
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(user)
    url = f"/costs/?since={whole.since}&until={whole.until}"
    samples, queries = timed(lambda: client.get(url))
    print(
        f"{'whole page over HTTP, 90 days (with render)':<44}{statistics.median(samples):>8.1f}ms"
        f"{p90(samples):>8.1f}ms{queries:>9}"
    )
    baseline, queries = timed(lambda: without_rollup(whole), reps=3)
    print(
        f"{'baseline: tables from entries, no rollup':<44}{statistics.median(baseline):>8.1f}ms"
        f"{p90(baseline):>8.1f}ms{queries:>9}"
    )
    verdict = headline <= TARGET_MS
    print(f"\ntarget: all queries of the page, 90 days, median ≤ {TARGET_MS:.0f} ms — {'PASS' if verdict else 'FAIL'}")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
