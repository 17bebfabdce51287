"""The live run page in Chromium: statuses stream in over the websocket; cancel and retry from the page."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_shell import open_as, sign_in
from tests.engine.graphs import TRIGGER, chain, generate, node
from tests.engine.running import start
from tests.factories import WorkflowFactory, WorkflowVersionFactory
from tests.fakes import Reply

pytestmark = pytest.mark.usefixtures("celery_worker")


def node_status(page: Page, node_id: str):
    return page.locator(f'[data-node-id="{node_id}"]').first


def test_a_run_started_through_the_api_recolours_an_open_run_page(asgi_server, owner, page: Page, console_errors):
    data = chain(
        TRIGGER,
        node("pause", "delay", seconds=2),
        node("shape", "transform", fields={"x": 1}),
        node("answer", "reply", answer="done"),
    )
    owner.workspace.http_allowlist = ["127.0.0.1"]
    owner.workspace.save()
    flow = WorkflowFactory(workspace=owner.workspace, name="Live", draft=data)
    WorkflowVersionFactory(workflow=flow, number=1, graph=data)
    sign_in(page, asgi_server, "olivia")
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    response = page.request.post(
        f"{asgi_server}/api/v1/workflows/{flow.pk}/runs", data={"input": {}}, headers={"X-CSRFToken": token}
    )
    assert response.status == 202
    run_id = response.json()["id"]

    page.goto(f"{asgi_server}/runs/{run_id}/")
    expect(node_status(page, "pause")).to_have_attribute("data-status", "waiting", timeout=5000)
    expect(node_status(page, "answer")).to_have_attribute("data-status", "pending")
    expect(node_status(page, "answer")).to_have_attribute("data-status", "succeeded", timeout=10_000)
    expect(node_status(page, "shape")).to_have_attribute("data-status", "succeeded")
    expect(page.locator("[data-run-status]").first).to_have_attribute("data-run-status", "succeeded")
    seqs = [int(s) for s in page.locator("[data-seq]").evaluate_all("rows => rows.map(r => r.dataset.seq)")]
    assert seqs == list(range(1, len(seqs) + 1)), "the timeline has a gap, a duplicate or is out of order"
    assert console_errors == []


def test_cancel_from_the_page(asgi_server, owner, page: Page):
    run = start(owner.workspace, chain(TRIGGER, node("pause", "delay", seconds=60), node("after", "transform")))
    open_as(page, asgi_server, "olivia", f"/runs/{run.pk}/")
    expect(node_status(page, "pause")).to_have_attribute("data-status", "waiting", timeout=5000)
    page.get_by_role("button", name="Cancel run").click()
    expect(page.locator("[data-run-status]").first).to_have_attribute("data-run-status", "cancelled", timeout=5000)
    expect(node_status(page, "after")).to_have_attribute("data-status", "cancelled")
    run.refresh_from_db()
    assert run.status == "cancelled"


def test_retry_from_the_failed_node_on_the_page(asgi_server, owner, server, page: Page):
    server.then(Reply(status=400))
    run = start(
        owner.workspace,
        chain(TRIGGER, node("call", "http_request", url=server.url + "/x"), node("answer", "reply", answer="ok")),
    )
    open_as(page, asgi_server, "olivia", f"/runs/{run.pk}/")
    expect(node_status(page, "call")).to_have_attribute("data-status", "failed", timeout=10_000)
    page.get_by_role("button", name="Retry from failed node").click()
    expect(node_status(page, "answer")).to_have_attribute("data-status", "succeeded", timeout=10_000)
    expect(page.locator("[data-run-status]").first).to_have_attribute("data-run-status", "succeeded")
    run.refresh_from_db()
    assert run.status == "succeeded"
    assert len(server.requests("/x")) == 2


def test_model_output_is_shown_as_text_not_html(asgi_server, owner, page: Page):
    payload = '<img src=x onerror="window.__xss = 1"><script>window.__xss = 2</script>'
    run = start(owner.workspace, chain(TRIGGER, node("answer", "reply", answer=payload)))
    open_as(page, asgi_server, "olivia", f"/runs/{run.pk}/")
    expect(node_status(page, "answer")).to_have_attribute("data-status", "succeeded", timeout=10_000)
    node_status(page, "answer").click()
    expect(page.get_by_text("onerror", exact=False).first).to_be_visible()
    assert page.evaluate("window.__xss") is None


def test_the_inspector_lists_each_model_call_with_its_prompt_and_answer_as_text(
    asgi_server, owner, provider, price, fake, page: Page
):
    payload = '<img src=x onerror="window.__xss = 1">'
    fake.default_answer = f"Sorry about that {payload}"
    run = start(owner.workspace, chain(TRIGGER, generate()), {"body": f"Charged twice {payload}"})
    open_as(page, asgi_server, "olivia", f"/runs/{run.pk}/")
    expect(node_status(page, "draft")).to_have_attribute("data-status", "succeeded", timeout=10_000)
    node_status(page, "draft").click()

    calls = page.get_by_role("region", name="Model calls")
    # The call's duration is whatever the machine's load made it: "840 ms", or "2.2 s" on a busy machine.
    summary = re.compile(r"^fake · gpt-test · 1,000 in / 500 out · \$0\.0075 · (\d+ ms|\d+\.\d s)$")
    expect(calls.locator("summary")).to_have_text(summary)
    calls.locator("summary").click()
    expect(calls.get_by_text(f"Reply to: Charged twice {payload}")).to_be_visible()
    expect(calls.get_by_text(f"Sorry about that {payload}")).to_be_visible()
    assert page.evaluate("window.__xss") is None
