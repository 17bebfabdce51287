"""What one API trigger costs the web process, in process: queries and CPU per trigger, and per start_run.

    .venv/bin/python bench/trigger_profile.py [--triggers 300] [--show] [--profile 40]

No server and no load generator: Django's test client sends `POST /api/v1/workflows/<id>/runs`
(trigger -> transform -> reply, a runs:trigger Bearer token) through the whole stack of
middleware, ninja and the view, with the web process's settings (a pool of connections, the
Celery publish to Redis; no worker runs). CPU time (time.process_time) does not count the
time spent waiting on PostgreSQL or on other processes, so it moves little with the machine's
load; queries are counted by CaptureQueriesContext. Then `builder.versions.run_version` alone,
the start the worker-less drain of bench/api_trigger.py times, and run_version of the reference
workflow (support triage, builder/demo.py: ten nodes with templates, and an approval step whose
assignees are checked against the workspace at every start), and last the API trigger of a
published chain of 300 nodes (what a start costs as its graph grows). `--show` prints the statements
of one trigger; `--profile N` prints cProfile's N costliest functions (cumulative) over the triggers.
Uses database bench_trigger_profile and Redis db 10 (bench/api_trigger.py's: do not run the two at once),
both emptied first; BENCH_PROFILE_DATABASE and BENCH_PROFILE_REDIS (a URL without its db) name others.
"""

import argparse
import cProfile
import os
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, the repo root is not on the path

from bench.database import SERVER, own_services

DB_NAME = os.environ.get("BENCH_PROFILE_DATABASE", "bench_trigger_profile")
REDIS_SERVER = os.environ.get("BENCH_PROFILE_REDIS", "redis://127.0.0.1:6379")
# The nodes of the large workflow: the designer's benchmark canvas (bench/canvas_load.py) holds 300.
LARGE = 300


def prepare(redis_db: int) -> None:
    own_services(
        f"{SERVER}/{DB_NAME}",
        f"{REDIS_SERVER}/{redis_db}",
        tempfile.mkdtemp(prefix="trigger-profile-"),
        API_TOKEN_TRIGGERS_PER_MINUTE="100000",  # noqa: S106  (a limit, not a secret)
        DB_POOL_SIZE="8",  # as docs/deploy.md runs the web process
        DJANGO_SETTINGS_MODULE="config.settings",
    )
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)


if TYPE_CHECKING:
    from django.test import Client

    from builder.models import WorkflowVersion


def measure(triggers: int, show: bool, profile: int) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.api_stack import make_site
    from builder.models import WorkflowVersion
    from builder.versions import run_version
    from engine.models import TriggerKind
    from engine.runs import Options

    site = make_site()
    client = Client(HTTP_AUTHORIZATION=f"Bearer {site.token}", HTTP_HOST="localhost")
    trigger = api_trigger(client, site.workflow_id)
    for _ in range(20):  # warm: imports, the version's validated graph, prepared statements
        trigger()
    with CaptureQueriesContext(connection) as one:
        trigger()
    if show:
        for query in one.captured_queries:
            print("   ", query["sql"][:200])
    trigger_ms, per_trigger = per_call(trigger, triggers)
    print(
        f"API trigger: {len(one.captured_queries)} queries per trigger "
        f"({per_trigger:.1f} over {triggers}); CPU {trigger_ms:.2f} ms per trigger"
    )
    if profile:
        profiled(trigger, triggers, profile)

    version = WorkflowVersion.objects.select_related("workflow").get(pk=site.version_id)
    start_ms, per_start = per_call(
        lambda: run_version(version, {"n": 1}, Options(trigger_kind=TriggerKind.API)), triggers
    )
    print(f"run_version: {per_start:.1f} queries per start; CPU {start_ms:.2f} ms per start")
    reference_start(version, triggers)
    large_trigger(client, version, triggers)


def reference_start(beside: "WorkflowVersion", starts: int) -> None:
    """run_version of the reference workflow (support triage: ten nodes, templates, an approval step with its
    assignees checked against the workspace), published in the same workspace as `beside`'s."""
    from builder.demo import SAMPLE_TICKET, SUPPORT_TRIAGE
    from builder.models import Workflow, WorkflowVersion
    from builder.versions import run_version
    from engine.models import TriggerKind
    from engine.runs import Options

    workflow = Workflow.objects.create(
        workspace_id=beside.workflow.workspace_id, name="Support triage", draft=SUPPORT_TRIAGE
    )
    version = WorkflowVersion.objects.create(workflow=workflow, number=1, graph=SUPPORT_TRIAGE)
    version = WorkflowVersion.objects.select_related("workflow").get(pk=version.pk)
    for _ in range(5):
        run_version(version, SAMPLE_TICKET, Options(trigger_kind=TriggerKind.API))
    start_ms, per_start = per_call(
        lambda: run_version(version, SAMPLE_TICKET, Options(trigger_kind=TriggerKind.API)), starts
    )
    print(f"run_version, reference workflow: {per_start:.1f} queries per start; CPU {start_ms:.2f} ms per start")


def large_trigger(client: "Client", beside: "WorkflowVersion", triggers: int) -> None:
    """The API trigger of a published chain of LARGE nodes (bench/graphs.py) in the same workspace as `beside`'s:
    what a version's graph costs a start as it grows (read, copied into the run, written)."""
    from bench.graphs import chain
    from builder.models import Workflow, WorkflowVersion

    graph = chain(LARGE)
    workflow = Workflow.objects.create(workspace_id=beside.workflow.workspace_id, name="large", draft=graph)
    WorkflowVersion.objects.create(workflow=workflow, number=1, graph=graph)
    trigger = api_trigger(client, workflow.pk)
    for _ in range(5):
        trigger()
    trigger_ms, per_trigger = per_call(trigger, max(triggers // 3, 1))
    print(f"API trigger, a chain of {LARGE} nodes: {per_trigger:.1f} queries per trigger; CPU {trigger_ms:.2f} ms each")


def api_trigger(client: "Client", workflow_id: int) -> Callable[[], None]:
    """`POST /api/v1/workflows/<workflow_id>/runs` through `client`, which must answer 202."""

    def trigger() -> None:
        response = client.post(
            f"/api/v1/workflows/{workflow_id}/runs", {"input": {"n": 1}}, content_type="application/json"
        )
        assert response.status_code == 202, response.content

    return trigger


def per_call(call: Callable[[], object], count: int) -> tuple[float, float]:
    """`call` made `count` times: its CPU milliseconds and its queries, each per call."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    cpu = time.process_time()
    with CaptureQueriesContext(connection) as queries:
        for _ in range(count):
            call()
    return (time.process_time() - cpu) * 1000 / count, len(queries.captured_queries) / count


def profiled(trigger: Callable[[], None], triggers: int, top: int) -> None:
    """cProfile's `top` costliest functions, by time including their callees, over `triggers` more triggers."""
    profiler = cProfile.Profile(time.process_time)  # CPU, not wall-clock: the load moves it less
    profiler.enable()
    for _ in range(triggers):
        trigger()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--triggers", type=int, default=300)
    parser.add_argument("--redis-db", type=int, default=10)
    parser.add_argument("--show", action="store_true", help="print the statements of one trigger")
    parser.add_argument("--profile", type=int, default=0, metavar="N", help="print cProfile's N costliest functions")
    args = parser.parse_args()
    os.environ.pop("DJANGO_SETTINGS_MODULE", None)
    prepare(args.redis_db)
    measure(args.triggers, args.show, args.profile)


if __name__ == "__main__":
    main()
