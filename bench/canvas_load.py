"""The designer with a 300-node workflow: time until the canvas is interactive (target ≤ 1.5 s).

    .venv/bin/python bench/canvas_load.py

It creates and empties its own database, switchyard_bench_canvas on 127.0.0.1
(BENCH_DATABASE_URL overrides it; the name must contain 'bench'). Build the frontend first
(`make run` or `cd frontend && npm run build`).

It serves the app with uvicorn in this process and drives Debian's Chromium with Playwright.
"Interactive" is measured from the navigation's start to the moment a click on a node has
selected it and the side panel shows that node: the page has loaded, React has mounted, the
graph is drawn (at a readable zoom, from its start: the clicked node is one near it; all 300
nodes are on the minimap) and the canvas answers input. The baseline, measured in the same run, is
the read-only run view of a run of the same 300-node graph (until its nodes are drawn).
"""

import os
import statistics
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync API runs a loop here
from bench.database import use_own_database

use_own_database("switchyard_bench_canvas", redis_db=13)

import uvicorn  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402

from accounts.models import Membership, Role, Workspace  # noqa: E402
from builder.models import Workflow  # noqa: E402
from engine import graph as graphs  # noqa: E402
from engine.models import Run, RunStatus  # noqa: E402

NODES = 300
TARGET_S = 1.5
# A node in the part of the graph the first view shows (it opens from its start, readable).
PROBE = "n2_2"
REPS, WARMUP = 7, 2
PORT = 8713
PASSWORD = "bench-password-long-enough"  # noqa: S105 - a throwaway user in a bench database
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update"]


def big_graph() -> dict[str, Any]:
    """A trigger, then 20 lanes of a condition followed by transforms, like a wide real workflow."""
    nodes: list[dict[str, Any]] = [{"id": "start", "type": "trigger", "position": {"x": 0, "y": 1500}}]
    edges: list[dict[str, Any]] = []
    lanes, per_lane = 20, (NODES - 1) // 20
    for lane in range(lanes):
        previous = "start"
        for step in range(per_lane):
            node_id = f"n{lane}_{step}"
            params: dict[str, Any] = {"fields": {"s": step}} if step else {"expression": "input.x"}
            kind = "transform" if step else "condition"
            nodes.append(
                {"id": node_id, "type": kind, "label": f"Step {lane}.{step}", "params": params,
                 "position": {"x": 260 * (step + 1), "y": 150 * lane}}
            )  # fmt: skip
            handle = "true" if previous.endswith("_0") else "out"
            edges.append({"id": f"e_{node_id}", "source": previous, "source_handle": handle, "target": node_id})
            previous = node_id
    for row in range(NODES - len(nodes)):
        at = {"x": 260 * (per_lane + 1), "y": 150 * row}
        nodes.append({"id": f"extra_{row}", "type": "transform", "position": at})
        edges.append({"id": f"e_extra_{len(nodes)}", "source": "start", "target": nodes[-1]["id"]})
    graph = {"schema_version": 1, "nodes": nodes, "edges": edges}
    problems = graphs.validate(graph)
    assert not problems, problems[:3]
    return graph


def seed() -> tuple[Workflow, Run]:
    workspace = Workspace.objects.create(name="Bench canvas", slug="bench-canvas")
    user = User.objects.create_user("bench-designer", password=PASSWORD)
    Membership.objects.create(workspace=workspace, user=user, role=Role.OWNER)
    graph = big_graph()
    flow = Workflow.objects.create(workspace=workspace, name="Three hundred nodes", draft=graph)
    run = Run.objects.create(workspace=workspace, workflow_id=flow.pk, graph=graph, status=RunStatus.SUCCEEDED)
    return flow, run


class Server(threading.Thread):
    def __init__(self) -> None:
        super().__init__(daemon=True)
        config = uvicorn.Config(
            "config.asgi:application", host="127.0.0.1", port=PORT, lifespan="off", log_level="error"
        )
        self.server = uvicorn.Server(config)

    def run(self) -> None:
        self.server.run()


def designer_ready(page: Page, url: str) -> float:
    began = time.perf_counter()
    page.goto(url)
    target = page.locator(f'.react-flow__node[data-id="{PROBE}"]')
    target.click()
    page.locator(f'[data-panel-node="{PROBE}"]').wait_for()
    elapsed = time.perf_counter() - began
    drawn = page.locator(".react-flow__minimap-node").count()
    if drawn < NODES:
        raise RuntimeError(f"only {drawn} of {NODES} nodes are on the minimap")
    return elapsed


def run_view_ready(page: Page, url: str) -> float:
    began = time.perf_counter()
    page.goto(url)
    page.locator(f'.react-flow__node[data-id="{PROBE}"]').wait_for()
    return time.perf_counter() - began


def measure(page: Page, probe: Callable[[Page, str], float], url: str) -> list[float]:
    for _ in range(WARMUP):
        probe(page, url)
    return [probe(page, url) for _ in range(REPS)]


def main() -> int:
    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)
    flow, run = seed()
    server = Server()
    server.start()
    while not server.server.started:
        time.sleep(0.05)
    base = f"http://127.0.0.1:{PORT}"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page(viewport={"width": 1440, "height": 900})
            page.goto(f"{base}/accounts/login/")
            page.get_by_label("Username").fill("bench-designer")
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url(f"{base}/**")
            designer = measure(page, designer_ready, f"{base}/workflows/{flow.pk}/")
            baseline = measure(page, run_view_ready, f"{base}/runs/{run.pk}/")
            browser.close()
    except Exception as error:  # noqa: BLE001 - any failure means no figure
        print(f"could not measure: {error}")
        return 1
    finally:
        server.server.should_exit = True
        server.join(10)
    load = os.getloadavg()[0]
    print(f"{NODES}-node workflow, {REPS} loads after {WARMUP} warm-ups, Chromium headless; load average {load:.1f}")
    figures = {"designer: until a node click selects it": designer, "baseline: run view drawn": baseline}
    for label, values in figures.items():
        print(f"  {label:<42} median {statistics.median(values):.3f} s   max {max(values):.3f} s")
    met = statistics.median(designer) <= TARGET_S
    print(f"target ≤ {TARGET_S} s (median): {'met' if met else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
