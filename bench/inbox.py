"""The review inbox under load: 10,000 pending items, the first page's server time (target ≤ 150 ms).

    .venv/bin/python bench/inbox.py

It creates and empties its own database, switchyard_bench_inbox on 127.0.0.1
(BENCH_DATABASE_URL overrides it; the name must contain 'bench').

The pages are requested in this process through Django's test client, so the time measured
is the server's: middleware, permission checks, queries and template rendering, no network.
"""

import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from bench.database import use_own_database

use_own_database("switchyard_bench_inbox", redis_db=12)

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from accounts.models import Membership, Role, Workspace  # noqa: E402
from approvals.models import ApprovalRequest, Assignee  # noqa: E402
from engine.models import Run, RunStatus  # noqa: E402

ITEMS = 10_000
TARGET_MS = 150.0
REPS, WARMUP = 30, 3
SLUG = "bench-inbox"
DRAFT = "Hello, thanks for writing. We refunded the duplicate charge; it shows within 5 working days. " * 3


def seed() -> tuple[User, User]:
    workspace = Workspace.objects.create(name="Bench inbox", slug=SLUG)
    owner, _ = User.objects.get_or_create(username="bench-owner")
    reviewer, _ = User.objects.get_or_create(username="bench-reviewer")
    Membership.objects.create(workspace=workspace, user=owner, role=Role.OWNER)
    Membership.objects.create(workspace=workspace, user=reviewer, role=Role.REVIEWER)
    graph = {"schema_version": 1, "nodes": [{"id": "start", "type": "trigger"}], "edges": []}
    runs = Run.objects.bulk_create(
        Run(workspace=workspace, graph=graph, status=RunStatus.WAITING, workflow_name="Support triage")
        for _ in range(ITEMS)
    )
    requests = ApprovalRequest.objects.bulk_create(
        ApprovalRequest(
            workspace=workspace,
            run=run,
            node_run_id=0,
            node_id="review",
            workflow_name="Support triage",
            version_number=3,
            title=f"Check the reply to ticket {i}",
            instructions="Is the reply right?",
            context=[{"label": "Ticket", "kind": "text", "value": "I was charged twice " * 20}],
            fields=[{"name": "reply", "label": "Reply", "type": "textarea", "value": DRAFT}],
            allowed_decisions=["approve", "edit_and_approve", "reject", "escalate"],
        )
        for i, run in enumerate(runs)
    )
    # Every item is open to reviewers by role; one in ten is also assigned to the reviewer by name.
    Assignee.objects.bulk_create(
        [Assignee(request=request, role=Role.REVIEWER) for request in requests]
        + [Assignee(request=request, user=reviewer) for request in requests[::10]]
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE approvals_approvalrequest; ANALYZE approvals_assignee; ANALYZE engine_run")
    return owner, reviewer


def measure(client: Client, url: str) -> tuple[list[float], int]:
    for _ in range(WARMUP):
        assert client.get(url).status_code == 200, url
    samples = []
    for _ in range(REPS):
        began = time.perf_counter()
        response = client.get(url)
        samples.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200, url
    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return samples, len(queries)


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[8]


def main() -> int:
    call_command("migrate", verbosity=0)
    # The audit log is append-only (a workspace with history cannot be deleted), so start from empty.
    call_command("flush", interactive=False, verbosity=0)
    began = time.perf_counter()
    _, reviewer = seed()
    print(f"seeded {ITEMS} pending items in {time.perf_counter() - began:.1f} s")
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(reviewer)
    # The live inbox asks over htmx, which the server answers with the list only.
    htmx = Client(SERVER_NAME="127.0.0.1", headers={"HX-Request": "true"})
    htmx.force_login(reviewer)
    pages: dict[str, Any] = {
        "inbox, all, oldest first (first page)": (client, "/inbox/"),
        "inbox, assigned to me, by deadline": (client, "/inbox/?scope=me&sort=deadline"),
        "inbox, for my role": (client, "/inbox/?scope=roles"),
        "live refresh (list fragment)": (htmx, "/inbox/"),
        "API list, first page": (client, "/api/v1/approvals"),
    }
    first = ApprovalRequest.objects.filter(workspace__slug=SLUG).order_by("pk").first()
    pages["one item's card"] = (client, f"/inbox/{first.pk}/")
    print(f"{'page':<40}{'median':>10}{'p90':>10}{'queries':>9}")
    verdict = True
    for label, (asker, url) in pages.items():
        samples, queries = measure(asker, url)
        median = statistics.median(samples)
        print(f"{label:<40}{median:>8.1f}ms{p90(samples):>8.1f}ms{queries:>9}")
        if label.endswith("(first page)"):
            verdict = median <= TARGET_MS
    print(f"target: first page median ≤ {TARGET_MS:.0f} ms — {'PASS' if verdict else 'FAIL'}")
    return 0 if verdict else 1


if __name__ == "__main__":
    sys.exit(main())
