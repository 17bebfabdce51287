"""A node set to continue on failure in the designer's Settings tab gets an error output; the run goes down it,
and the run page shows the node as continued on error."""

import pytest
from playwright.sync_api import Page, expect

from engine.models import Run
from tests.browser.test_designer import canvas_node, drag_edge, handle, open_designer, status_of
from tests.engine.graphs import TRIGGER, edge, graph, node
from tests.factories import WorkflowFactory

# A private address the SSRF guard refuses (no allowlist): the node fails at once, without retrying.
REFUSED_URL = "http://10.255.255.1/status"


@pytest.mark.usefixtures("celery_worker")
def test_continuing_through_the_error_output(asgi_server, owner, page: Page, console_errors):
    draft = graph(
        TRIGGER,
        node("fetch", "http_request", url=REFUSED_URL),
        node("answer", "reply", answer="fetched"),
        node("fallback", "reply", answer="Could not fetch: {{ nodes.fetch.code }}"),
        edges=[edge("start", "fetch"), edge("fetch", "answer")],
    )
    flow = WorkflowFactory(workspace=owner.workspace, draft=draft)
    open_designer(page, asgi_server, flow)
    expect(handle(page, "fetch", "source", "error")).to_have_count(0)

    canvas_node(page, "fetch").click()
    panel = page.get_by_role("complementary", name="Node settings")
    panel.get_by_role("tab", name="Settings").click()
    panel.get_by_label("When the last attempt fails").select_option("continue")
    expect(handle(page, "fetch", "source", "error")).to_be_visible()
    drag_edge(page, handle(page, "fetch", "source", "error"), handle(page, "fallback", "target", "in"))
    expect(page.locator(".react-flow__edge")).to_have_count(3)

    page.get_by_role("form", name="Test run").get_by_role("button", name="Test run").click()
    expect(status_of(page, "fallback")).to_have_attribute("data-status", "succeeded", timeout=15_000)
    expect(status_of(page, "answer")).to_have_attribute("data-status", "skipped")
    flow.refresh_from_db()
    fetch = next(n for n in flow.draft["nodes"] if n["id"] == "fetch")
    assert fetch["on_failure"] == "continue"
    assert {"source": "fetch", "source_handle": "error", "target": "fallback"}.items() <= next(
        e for e in flow.draft["edges"] if e["target"] == "fallback"
    ).items()

    run = Run.objects.filter(workflow_id=flow.pk).latest("id")
    assert run.status == "succeeded"
    assert run.output["answer"].startswith("Could not fetch: ")
    page.goto(f"{asgi_server}/runs/{run.pk}/")
    fetched = page.locator('.run-node[data-node-id="fetch"]')
    expect(fetched).to_have_attribute("data-continued", "true")
    expect(fetched).to_contain_text("continued on error")
    assert console_errors == []
