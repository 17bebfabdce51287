"""The eval comparison page over two 10,000-row eval runs of one set, server time (target ≤ 300 ms).

    .venv/bin/python bench/eval_compare.py

It creates (and refills) its own database, switchyard_bench_eval_compare on 127.0.0.1
(BENCH_DATABASE_URL overrides it; the name must contain 'bench'), writes two scored eval runs with
SQL generate_series (three scorers, about 5 % of rows regressed and 5 % fixed, outputs of a few
hundred characters), and times the page through Django's test client in this process: every query
and the render, without the network. Cases: the first page of all rows, regressions only, and a
late page.
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.database import use_own_database

use_own_database("switchyard_bench_eval_compare", redis_db=6)

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import Membership, Role, Workspace  # noqa: E402
from bench.report import environment  # noqa: E402
from builder.models import Workflow  # noqa: E402
from engine.models import Run  # noqa: E402
from evals.models import EvalRun, EvalSet  # noqa: E402

ROWS = 10_000
TARGET_MS = 300.0
REPS, WARMUP = 15, 3
SCORERS = [
    {"name": "category_exact", "kind": "exact", "field": "category", "config": {}, "threshold": 1.0},
    {"name": "cites_sources", "kind": "regex", "field": "answer", "config": {"pattern": "\\[\\d\\]"}, "threshold": 1.0},
    {"name": "reply_similar", "kind": "similarity", "field": "answer", "config": {}, "threshold": 0.7},
]

ROWS_SQL = """
INSERT INTO evals_evalrow (eval_set_id, position, input, expected, source, origin, created_at)
SELECT %(set)s, g, jsonb_build_object('subject', 'Ticket ' || g, 'body', repeat('The export is empty. ', 8)),
    jsonb_build_object('category', (ARRAY['billing', 'account', 'technical'])[1 + g %% 3]), 'manual', '{}', now()
FROM generate_series(0, %(rows)s - 1) g
"""

# `flip` moves a row: the candidate fails rows 0, 20, 40… (regressions) and passes rows 10, 30, 50… the base fails.
RESULTS_SQL = """
INSERT INTO evals_evalresult (eval_run_id, index, row_id, input, expected, output, outcome, error, run_id, scores,
    passed, cost, latency_ms)
SELECT %(eval_run)s, r.position, r.id, r.input, r.expected,
    jsonb_build_object('answer', 'Hi, thanks for writing about ticket ' || r.position || '. '
        || repeat('Open Settings, then Export, and pick a format. ', 5) || CASE WHEN ok THEN '[1]' ELSE '' END),
    'succeeded', '', NULL,
    jsonb_build_object(
        'category_exact', jsonb_build_object('score', CASE WHEN ok THEN 1 ELSE 0 END, 'passed', ok, 'errored', false),
        'cites_sources', jsonb_build_object('score', CASE WHEN ok THEN 1 ELSE 0 END, 'passed', ok, 'errored', false),
        'reply_similar', jsonb_build_object('score', round((0.5 + random() / 2)::numeric, 4), 'passed', true,
            'errored', false)),
    ok, 0.0004, 800 + (random() * 400)::int
FROM (
    SELECT *, CASE WHEN %(candidate)s THEN position %% 20 <> 0 OR position %% 40 = 30
        ELSE position %% 20 <> 10 END AS ok
    FROM evals_evalrow WHERE eval_set_id = %(set)s
) r
"""


def aggregates(passed: int) -> dict[str, object]:
    rate = round(passed / ROWS, 4)
    figures = {"kind": "exact", "threshold": 1.0, "passed": passed, "failed": ROWS - passed, "errored": 0}
    scorers = {
        spec["name"]: {**figures, "kind": spec["kind"], "pass_rate": rate, "mean_score": rate} for spec in SCORERS
    }
    return {"rows": ROWS, "succeeded": ROWS, "passed_all": passed, "scorers": scorers, "cost": "4.000000",
            "latency_p50_ms": 1000, "latency_p95_ms": 1180}  # fmt: skip


def seed() -> tuple[User, Workflow, EvalRun, EvalRun]:
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    workspace = Workspace.objects.create(name="Bench evals", slug="bench-evals")
    user = User.objects.create(username="bench-owner")
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    workflow = Workflow.objects.create(workspace=workspace, name="Support triage")
    eval_set = EvalSet.objects.create(workspace=workspace, workflow=workflow, name="Labelled tickets")
    runs = []
    graph = {"schema_version": 1, "nodes": [], "edges": []}
    with connection.cursor() as cursor:
        cursor.execute(ROWS_SQL, {"set": eval_set.pk, "rows": ROWS})
        for candidate in (False, True):
            run = Run.objects.create(workspace=workspace, graph=graph, is_test=True)
            eval_run = EvalRun.objects.create(
                workspace=workspace, eval_set=eval_set, workflow=workflow, run=run, row_count=ROWS, scorers=SCORERS,
                version_number=None if candidate else 1, draft_revision=7 if candidate else None,
            )  # fmt: skip
            cursor.execute(RESULTS_SQL, {"eval_run": eval_run.pk, "set": eval_set.pk, "candidate": candidate})
            passed = EvalRun.objects.get(pk=eval_run.pk).results.filter(passed=True).count()
            EvalRun.objects.filter(pk=eval_run.pk).update(aggregates=aggregates(passed))
            runs.append(eval_run)
        for table in ("evals_evalrow", "evals_evalresult"):
            cursor.execute(f"VACUUM ANALYZE {table}")
        cursor.execute("CHECKPOINT")
    return user, workflow, runs[0], runs[1]


def timed(client: Client, url: str) -> tuple[list[float], int, str]:
    for _ in range(WARMUP):
        client.get(url)
    samples = []
    for _ in range(REPS):
        began = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, response.status_code
    with CaptureQueriesContext(connection) as queries:
        body = client.get(url).content.decode()
    return samples, len(queries), body


def main() -> int:
    print("\n".join(environment()[:3]))
    print(f"database: {connection.settings_dict['NAME']}; two eval runs of {ROWS:,} rows")
    began = time.perf_counter()
    user, workflow, base, candidate = seed()
    print(f"seeded in {time.perf_counter() - began:.1f} s")
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(user)
    page = f"/workflows/{workflow.pk}/evals/compare/?base={base.pk}&candidate={candidate.pk}"
    cases = {
        "first page, all rows (target)": page,
        "regressions only": page + "&only=regressions",
        "page 150 of all rows": page + "&after=7449",
    }
    print(f"\n{'comparison page over HTTP (with render)':<44}{'median':>10}{'p90':>10}{'queries':>9}")
    headline = 0.0
    for label, url in cases.items():
        samples, queries, body = timed(client, url)
        median = statistics.median(samples)
        headline = headline or median
        p90 = statistics.quantiles(samples, n=10, method="inclusive")[8]
        print(f"{label:<44}{median:>8.1f}ms{p90:>8.1f}ms{queries:>9}")
        if label.startswith("regressions"):
            print(f"{'':<44}{body.count('data-change=' + chr(34) + 'regression' + chr(34))} regressions on the page")
    verdict = "meets" if headline <= TARGET_MS else "misses"
    print(f"\nverdict: {headline:.1f} ms median {verdict} the {TARGET_MS:.0f} ms target")
    return 0 if headline <= TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
