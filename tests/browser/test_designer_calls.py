"""Workflows calling workflows in the browser (Chromium at 1400x900): a for_each node configured in the
designer's panel (workflow picker, input mapping with the item expression, concurrency), published,
run, its counter followed on the run page to the total, and an item's run with its breadcrumb back."""

import json

import pytest
from playwright.sync_api import Page, expect

from builder.models import Workflow
from engine.models import Run
from tests.browser.test_designer import canvas_node, open_designer
from tests.engine.graphs import chain, node
from tests.eventually import eventually
from tests.factories import WorkflowFactory, WorkflowVersionFactory

WINDOW = {"width": 1400, "height": 900}
DOCS = ["alpha", "beta", "gamma", "delta", "epsilon"]


@pytest.fixture
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": WINDOW}


def shout(workspace):
    """A published child: takes {text}, waits a moment (so the loop is seen moving), answers it upper-cased."""
    schema = {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]}
    graph = chain(
        node("start", "trigger", input_schema=schema),
        node("pause", "delay", seconds=0.5),
        node("loud", "transform", fields={"text": "{{ input.text | upper }}"}),
    )
    child = WorkflowFactory(workspace=workspace, name="Shout", draft=graph)
    WorkflowVersionFactory(workflow=child, number=1, graph=graph)
    return child


@pytest.mark.usefixtures("celery_worker")
def test_a_for_each_over_a_sub_workflow_built_published_and_run(asgi_server, owner, page: Page, console_errors):
    child = shout(owner.workspace)
    docs_schema = {"type": "object", "properties": {"docs": {"type": "array"}}, "required": ["docs"]}
    parent = WorkflowFactory(
        workspace=owner.workspace, name="Shout all", draft=chain(node("start", "trigger", input_schema=docs_schema))
    )
    open_designer(page, asgi_server, parent)

    page.get_by_role("button", name="Add a node after start out").click()
    picker = page.get_by_role("dialog", name="Add a node")
    picker.get_by_role("combobox").fill("for each")
    picker.locator('[role="option"][data-kind="for_each"]').click()
    panel = page.get_by_role("complementary", name="Node settings")
    expect(panel).to_have_attribute("data-panel-node", "for_each_1")

    panel.get_by_label("Workflow to run").select_option(label="Shout (v1)")
    expect(panel.get_by_role("link", name="Open Shout")).to_have_attribute("href", f"/workflows/{child.pk}/")
    # "Latest published at start" (no pinned version) is the default
    expect(panel.get_by_role("combobox", name="Version")).to_have_value("")
    panel.get_by_text("Input schema of Shout").click()
    expect(panel.locator(".dz-call-schema pre")).to_contain_text('"required"')
    panel.get_by_label("Items (an expression giving a list)").fill("input.docs")
    panel.get_by_label("text", exact=True).click()  # the mapping row of the child's one field
    panel.get_by_role("button", name="{{ item }}", exact=True).click()
    panel.get_by_label("At most at once").fill("2")
    page.keyboard.press("Control+s")
    expect(page.locator("[data-save-state]")).to_have_attribute("data-save-state", "saved", timeout=10_000)
    parent.refresh_from_db()
    params = next(n for n in parent.draft["nodes"] if n["id"] == "for_each_1")["params"]
    assert params == {
        **params,
        "workflow_id": child.pk,
        "version": None,
        "items": "input.docs",
        "input": {"text": "{{ item }}"},
        "max_concurrency": 2,
    }

    page.goto(f"{asgi_server}/workflows/{parent.pk}/versions/")
    page.get_by_role("button", name="Publish as v1").click()
    expect(page.get_by_role("status")).to_contain_text("Published v1.")

    page.goto(f"{asgi_server}/workflows/{parent.pk}/")
    page.get_by_role("button", name="Sample input").click()
    page.get_by_role("group", name="Edit the input as").get_by_role("button", name="JSON").click()
    page.get_by_label("Sample input (JSON)").fill(json.dumps({"docs": DOCS}))
    page.get_by_role("button", name="Test run").click()
    run = eventually(lambda: Run.objects.filter(workflow_id=parent.pk, parent_run__isnull=True).first())

    page.goto(f"{asgi_server}/runs/{run.pk}/")
    counts = page.locator('[data-child-counts="for_each_1"]')
    expect(counts).to_contain_text(f"{len(DOCS)} / {len(DOCS)}", timeout=30_000)
    expect(counts).not_to_contain_text("failed")
    counts.scroll_into_view_if_needed()
    expect(counts).to_be_in_viewport()
    rows = page.locator("#child-runs tbody tr")
    expect(rows).to_have_count(len(DOCS))
    expect(rows.locator(".status-succeeded")).to_have_count(len(DOCS))

    page.locator('#child-runs tr[data-item-index="2"] a').click()
    crumb = page.get_by_role("navigation", name="Parent run")
    expect(crumb).to_contain_text(f"Run #{run.pk} · Shout all")
    expect(crumb).to_contain_text("item 2")
    item = Run.objects.get(parent_run=run, item_index=2)
    assert item.output == {"text": "GAMMA"}
    crumb.get_by_role("link").click()
    expect(page).to_have_url(f"{asgi_server}/runs/{run.pk}/")
    assert console_errors == []


def test_new_sub_workflow_creates_the_called_workflow_from_the_mapping_and_opens_it(
    asgi_server, owner, page: Page, console_errors
):
    parent = WorkflowFactory(
        workspace=owner.workspace, name="Digest", draft=chain(node("start", "trigger"), node("call", "subworkflow"))
    )
    open_designer(page, asgi_server, parent)
    canvas_node(page, "call").click()
    panel = page.get_by_role("complementary", name="Node settings")
    expect(panel.get_by_role("combobox", name="Workflow to run")).to_have_value("")
    panel.get_by_label("New input field").fill("doc")
    panel.get_by_role("button", name="Add field").click()
    panel.get_by_label("doc", exact=True).fill("{{ input.body }}")
    panel.get_by_label("Name of the new workflow").fill("Summarise one")
    with page.context.expect_page() as opened:
        panel.get_by_role("button", name="New sub-workflow").click()
    called = eventually(lambda: Workflow.objects.filter(workspace=owner.workspace, name="Summarise one").first())
    tab = opened.value
    expect(tab.locator(".react-flow__renderer")).to_be_visible()
    assert tab.url == f"{asgi_server}/workflows/{called.pk}/"
    trigger = called.draft["nodes"][0]
    assert (trigger["type"], trigger["params"]["input_schema"]["required"]) == ("trigger", ["doc"])

    expect(panel.get_by_role("link", name=f"Open workflow {called.pk}")).to_be_visible()
    page.keyboard.press("Control+s")
    expect(page.locator("[data-save-state]")).to_have_attribute("data-save-state", "saved", timeout=10_000)
    parent.refresh_from_db()
    params = next(n for n in parent.draft["nodes"] if n["id"] == "call")["params"]
    assert (params["workflow_id"], params["input"]) == (called.pk, {"doc": "{{ input.body }}"})
    assert console_errors == []
