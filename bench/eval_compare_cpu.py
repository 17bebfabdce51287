"""CPU seconds and queries per request of the eval comparison (page and API) over two 10,000-row eval runs:
a load-independent companion to bench/eval_compare.py, whose seeded database it uses.

    .venv/bin/python bench/eval_compare_cpu.py            # after bench/eval_compare.py has seeded it
    SEED=1 .venv/bin/python bench/eval_compare_cpu.py     # seed first

Per case: this process's CPU time (time.process_time) per request, median and minimum of 30 after
3 warm-ups, the wall time's median, the queries and the response's size. The counts and
distributions are cached after the first view, as they are for a person paging through.
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench import eval_compare

REPS, WARMUP = 30, 3


def main() -> int:
    # Importing the benchmark (above) set Django up on its own database: the models can be imported now.
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from builder.models import Workflow
    from evals.models import EvalRun

    if os.environ.get("SEED") or not User.objects.filter(username="bench-owner").exists():
        eval_compare.seed()
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(User.objects.get(username="bench-owner"))
    workflow = Workflow.objects.get(name="Support triage")
    base, candidate = EvalRun.objects.filter(workflow=workflow).order_by("pk")
    page = f"/workflows/{workflow.pk}/evals/compare/?base={base.pk}&candidate={candidate.pk}"
    api = f"/api/v1/eval-runs/{base.pk}/compare/{candidate.pk}"
    cases = {
        "page, first rows (target case)": page,
        "page, regressions only": page + "&only=regressions",
        "page, rows after index 7,449": page + "&after=7449",
        "API, first rows": api,
        "API, regressions only": api + "?only=regressions",
    }
    print(f"{'case':<34}{'CPU median':>11}{'CPU min':>9}{'wall':>9}{'queries':>9}{'bytes':>9}")
    for label, url in cases.items():
        for _ in range(WARMUP):
            client.get(url)
        cpu, wall = [], []
        for _ in range(REPS):
            began_cpu, began = time.process_time(), time.perf_counter()
            response = client.get(url)
            cpu.append((time.process_time() - began_cpu) * 1000)
            wall.append((time.perf_counter() - began) * 1000)
            assert response.status_code == 200, response.status_code
        with CaptureQueriesContext(connection) as queries:
            size = len(client.get(url).content)
        median, low, waited = statistics.median(cpu), min(cpu), statistics.median(wall)
        print(f"{label:<34}{median:>9.1f}ms{low:>7.1f}ms{waited:>7.1f}ms{len(queries):>9}{size:>9}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
