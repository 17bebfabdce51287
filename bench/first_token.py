"""Time to first token on the run page: from a streaming model's first chunk to the draft on screen.

    .venv/bin/python bench/first_token.py [--runs 20] [--database-url URL] [--redis-url URL]

The real stack (uvicorn, one Celery worker, Redis, PostgreSQL; bench/ws_clients.py) and
headless Chromium on the run page of a workflow trigger -> generate, whose provider is the
fake OpenAI-compatible server (tests/fake_openai.py) in this process, streaming word by word.
Each run waits on the page until the generate node is running, then lets the fake server send
its first chunk; latency = the moment a MutationObserver in the page sees the draft appear on
the node's card, minus the moment the server wrote that chunk (both wall clocks of this
machine). It covers the SDK reading the chunk in the worker, the channel layer, the run
socket, the page's reducer and its next animation frame. Target: p95 < 100 ms.

Its own database and Redis database (emptied first): switchyard_bench_first_token and
Redis db 6 unless given. Exit status: 0 measured (a missed target is reported), 1 could not.
"""

import argparse
import math
import sys
import tempfile
import threading
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script, the repo root is not on the path

from bench import ws_clients
from bench.ws_clients import CouldNotMeasure, Stack, environment, make_site, prepare
from tests.fake_openai import FakeOpenAI

TARGET_P95_MS = 100.0
ANSWER = "Your parcel left the depot this morning and arrives tomorrow."
SEES_DRAFT = """() => {
  window.__firstDraft = null;
  const seen = () => {
    if (window.__firstDraft === null && document.querySelector('[data-draft-for="draft"]')) {
      window.__firstDraft = performance.timeOrigin + performance.now();
    }
  };
  new MutationObserver(seen).observe(document.body, {childList: true, subtree: true, characterData: true});
}"""


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(len(ordered) * q / 100) - 1)]


def graph(provider: str) -> dict[str, object]:
    params = {"provider": provider, "model": "gpt-test", "prompt": "Reply to: {{ input.body }}"}
    return {
        "schema_version": 1,
        "nodes": [
            {"id": "trigger", "type": "trigger", "position": {"x": 0, "y": 0}, "params": {}},
            {"id": "draft", "type": "generate", "position": {"x": 240, "y": 0}, "params": params},
        ],
        "edges": [{"id": "e0", "source": "trigger", "source_handle": "out", "target": "draft", "target_handle": "in"}],
    }


def set_up(site: ws_clients.Site, fake: FakeOpenAI) -> int:
    """The fake provider in the site's workspace and a published trigger -> generate workflow on it."""
    from builder.models import Workflow, WorkflowVersion
    from engine.models import ProviderConfig

    workflow = Workflow.objects.get(pk=site.workflow_id)
    workspace = workflow.workspace
    workspace.http_allowlist = ["127.0.0.1"]
    workspace.save(update_fields=["http_allowlist"])
    ProviderConfig.objects.create(workspace=workspace, name="fake", base_url=fake.url, chat_models=["gpt-test"])
    streamed = Workflow.objects.create(workspace=workspace, name="first token", draft=graph("fake"))
    WorkflowVersion.objects.create(workflow=streamed, number=1, graph=graph("fake"))
    return streamed.pk


def measure(site: ws_clients.Site, fake: FakeOpenAI, workflow_id: int, runs: int) -> list[float]:
    from playwright.sync_api import sync_playwright

    base = f"http://127.0.0.1:{site.port}"
    cookies = [dict(zip(("name", "value"), part.strip().split("=", 1), strict=True)) for part in site.cookie.split(";")]
    latencies = []
    with sync_playwright() as playwright, httpx.Client(base_url=base, trust_env=False, timeout=30) as http:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium")
        context = browser.new_context()
        context.add_cookies([{**cookie, "url": base} for cookie in cookies])  # type: ignore[typeddict-item]
        page = context.new_page()
        headers = {"Cookie": site.cookie, "X-CSRFToken": site.csrf}
        for _ in range(runs):
            fake.gate = threading.Semaphore(0)
            fake.chunk_sent_at.clear()
            answer = http.post(f"/api/v1/workflows/{workflow_id}/runs", json={"input": {"body": "hi"}}, headers=headers)
            if answer.status_code != 202:
                raise CouldNotMeasure(f"POST runs answered {answer.status_code}: {answer.text[:300]}")
            page.goto(f"{base}/runs/{answer.json()['id']}/")
            page.wait_for_selector('[data-node-id="draft"][data-status="running"]', timeout=30_000)
            # Deltas are not replayed: the socket must have joined the run's group (its hello) first.
            page.wait_for_selector('[data-connection="live"]', state="attached", timeout=30_000)
            page.evaluate(SEES_DRAFT)
            fake.gate.release()
            page.wait_for_function("() => window.__firstDraft !== null", timeout=30_000)
            shown = page.evaluate("() => window.__firstDraft") / 1000
            latencies.append((shown - fake.chunk_sent_at[0]) * 1000)
            fake.gate.release(len(ANSWER.split()) + 1)
            page.wait_for_selector('[data-node-id="draft"][data-status="succeeded"]', timeout=30_000)
        browser.close()
    return latencies


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database-url", default=f"{ws_clients.SERVER_URL}/switchyard_bench_first_token")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/6")
    args = parser.parse_args()
    server_url, _, ws_clients.DB_NAME = args.database_url.rpartition("/")
    ws_clients.SERVER_URL, ws_clients.REDIS_URL = server_url, args.redis_url
    fake = FakeOpenAI()
    fake.default_answer = ANSWER
    with tempfile.TemporaryDirectory(prefix="switchyard-bench-first-token-") as data_dir:
        try:
            env = prepare(data_dir)
            site = make_site()
            workflow_id = set_up(site, fake)
            with Stack(env, data_dir) as stack:
                site.port = stack.port
                print(f"$ .venv/bin/python bench/first_token.py {' '.join(sys.argv[1:])}".rstrip())
                print(environment())
                print("1 uvicorn process, 1 Celery worker (threads x 8), headless Chromium")
                latencies = measure(site, fake, workflow_id, args.runs)
        except CouldNotMeasure as error:
            print(f"could not measure: {error}", file=sys.stderr)
            return 1
        finally:
            fake.close()
    ps = "  ".join(f"p{q} {pct(latencies, q):6.1f}" for q in (50, 95))
    print(f"first chunk written -> draft on the run page: {ps}  max {max(latencies):6.1f} ms  (n={len(latencies)})")
    verdict = "PASS" if pct(latencies, 95) < TARGET_P95_MS else "MISS"
    print(f"{verdict}: p95 {pct(latencies, 95):.1f} ms (target < {TARGET_P95_MS:g} ms)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
