"""The designer's canvas in Chromium at 1400x900: it fills the window, titles are readable at the
first view, the minimap covers no node, the side panels collapse, node cards say what a node does,
and selecting or panning after a test run is not an edit. The run page's graph is readable too."""

import copy

import pytest
from playwright.sync_api import FloatRect, Locator, Page, expect

from builder import demo
from engine.models import Run, RunStatus
from tests.browser.test_designer import canvas_node, open_designer, status_of
from tests.browser.test_shell import open_as
from tests.engine.graphs import TRIGGER, chain, node
from tests.factories import WorkflowFactory

WINDOW = {"width": 1400, "height": 900}


@pytest.fixture
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": WINDOW}


def zoom_of(page: Page, viewport: Locator) -> float:
    """The canvas zoom, from the transform React Flow puts on its viewport element."""
    matrix = viewport.evaluate("el => new DOMMatrixReadOnly(getComputedStyle(el).transform).a")
    return float(matrix)


def title_heights(page: Page, selector: str, zoom: float) -> dict[str, float]:
    sizes = page.locator(selector).evaluate_all(
        "els => els.map(el => [el.closest('.react-flow__node').dataset.id, parseFloat(getComputedStyle(el).fontSize)])"
    )
    return {node_id: size * zoom for node_id, size in sizes}


def boxes_overlap(a: FloatRect | None, b: FloatRect | None) -> bool:
    assert a is not None, "the first element is not on the page"
    assert b is not None, "the second element is not on the page"
    return not (
        a["x"] + a["width"] <= b["x"]
        or b["x"] + b["width"] <= a["x"]
        or a["y"] + a["height"] <= b["y"]
        or b["y"] + b["height"] <= a["y"]
    )


def triage_flow(owner):
    return WorkflowFactory(workspace=owner.workspace, name="Support triage", draft=copy.deepcopy(demo.SUPPORT_TRIAGE))


def test_support_triage_fills_the_window_and_reads_at_12px(asgi_server, owner, page: Page, console_errors):
    flow = triage_flow(owner)
    open_designer(page, asgi_server, flow)
    canvas = page.locator(".dz-canvas")
    expect(canvas).to_have_attribute("data-framed", "true")

    box = canvas.bounding_box()
    assert box is not None
    share = box["width"] * box["height"] / (WINDOW["width"] * WINDOW["height"])
    assert share >= 0.70, f"the canvas covers {share:.0%} of the window"

    zoom = zoom_of(page, page.locator(".dz-canvas .react-flow__viewport"))
    heights = title_heights(page, ".dz-node-label", zoom)
    assert len(heights) == len(demo.SUPPORT_TRIAGE["nodes"])
    small = {node_id: round(h, 1) for node_id, h in heights.items() if h < 12}
    assert not small, f"titles below 12 px at zoom {zoom:.2f}: {small}"

    minimap = page.locator(".dz-canvas .react-flow__minimap").bounding_box()
    covered = [
        n.get_attribute("data-id")
        for n in page.locator(".dz-canvas .react-flow__node").all()
        if boxes_overlap(minimap, n.bounding_box())
    ]
    assert covered == [], f"the minimap covers {covered}"
    assert console_errors == []


def test_node_cards_show_icon_category_and_summary(asgi_server, owner, page: Page):
    flow = triage_flow(owner)
    open_designer(page, asgi_server, flow)
    retrieve = status_of(page, "retrieve")
    expect(retrieve).to_have_attribute("data-category", "ai")
    expect(retrieve.locator(".dz-node-icon svg")).to_have_count(1)
    expect(retrieve.locator(".dz-node-summary")).to_have_text(f"{demo.HELP_CENTRE} · top 4")
    expect(status_of(page, "check").locator(".dz-node-summary")).to_have_text("confidence ≥ 0.5 · 2 rules")
    expect(status_of(page, "review")).to_have_attribute("data-category", "people")
    check = canvas_node(page, "check")
    expect(check.locator(".dz-port-label")).to_have_text(["pass", "fail"])


def test_the_side_panels_collapse_and_give_the_canvas_the_room(asgi_server, owner, page: Page):
    flow = WorkflowFactory(workspace=owner.workspace, draft=chain(TRIGGER, node("answer", "reply", answer="hi")))
    open_designer(page, asgi_server, flow)
    canvas = page.locator(".dz-canvas")
    narrow = canvas.bounding_box()["width"]
    page.get_by_role("button", name="Hide the node palette").click()
    expect(page.get_by_role("complementary", name="Node palette")).to_have_count(0)
    assert canvas.bounding_box()["width"] > narrow + 150

    canvas_node(page, "answer").click()
    panel = page.get_by_role("complementary", name="Node settings")
    expect(panel).to_have_attribute("data-panel-node", "answer")
    panel.get_by_role("button", name="Hide the settings panel").click()
    expect(panel).to_have_count(0)
    page.get_by_role("button", name="Show the settings panel").click()
    expect(panel).to_have_attribute("data-panel-node", "answer")

    page.reload()  # remembered in this browser
    expect(page.get_by_role("button", name="Show the node palette")).to_be_visible()
    page.get_by_role("button", name="Show the node palette").click()
    expect(page.get_by_role("complementary", name="Node palette")).to_be_visible()


@pytest.mark.usefixtures("celery_worker")
def test_selecting_and_panning_after_a_test_run_is_not_an_edit(asgi_server, owner, page: Page):
    draft = chain(TRIGGER, node("shape", "transform", fields={"x": 1}), node("answer", "reply", answer="hi"))
    flow = WorkflowFactory(workspace=owner.workspace, draft=draft)
    open_designer(page, asgi_server, flow)
    page.get_by_role("button", name="Test run").click()
    expect(status_of(page, "answer")).to_have_attribute("data-status", "succeeded", timeout=15_000)
    expect(status_of(page, "answer").locator(".dz-node-duration")).not_to_be_empty()
    revision = page.locator(".dz").get_attribute("data-revision")

    panel = page.get_by_role("complementary", name="Node settings")
    for node_id in ("start", "shape", "answer"):
        canvas_node(page, node_id).click()
        try:
            expect(panel).to_have_attribute("data-panel-node", node_id)
        except AssertionError:
            # Twice on a loaded machine (of some thousand runs) a click left the panel on the node
            # before, cause not found: a user clicks again, and so does this test, once.
            canvas_node(page, node_id).click()
            expect(panel).to_have_attribute("data-panel-node", node_id)
        expect(page.locator("[data-save-state]")).to_have_text("All changes saved")
    pane = page.locator(".dz-canvas .react-flow__pane").bounding_box()
    page.mouse.move(pane["x"] + 40, pane["y"] + pane["height"] - 200)
    page.mouse.down()
    page.mouse.move(pane["x"] + 140, pane["y"] + pane["height"] - 150, steps=5)
    page.mouse.up()
    page.locator(".react-flow__controls-zoomin").click()
    canvas = page.locator(".dz-canvas")
    moves = int(canvas.get_attribute("data-view-moves") or 0)
    page.keyboard.press("f")
    # Fit view glides for 200 ms: a click before it ends lands where the node was, on the pane.
    expect(canvas).to_have_attribute("data-view-moves", str(moves + 1))
    canvas_node(page, "shape").click()
    expect(panel).to_have_attribute("data-panel-node", "shape")
    expect(page.locator("[data-save-state]")).to_have_attribute("data-save-state", "saved")
    expect(page.locator("[data-save-state]")).to_have_text("All changes saved")
    assert page.locator(".dz").get_attribute("data-revision") == revision


def test_the_run_page_graph_reads_at_12px(asgi_server, owner, page: Page):
    flow = triage_flow(owner)
    run = Run.objects.create(
        workspace=owner.workspace, workflow_id=flow.pk, graph=flow.draft, status=RunStatus.SUCCEEDED
    )
    open_as(page, asgi_server, "olivia", f"/runs/{run.pk}/")
    graph = page.locator(".rv-graph")
    expect(graph).to_have_attribute("data-framed", "true")
    box = graph.bounding_box()
    assert box["width"] >= 900, box
    assert box["height"] >= 600, box
    zoom = zoom_of(page, graph.locator(".react-flow__viewport"))
    heights = title_heights(page, ".run-node-label", zoom)
    assert len(heights) == len(demo.SUPPORT_TRIAGE["nodes"])
    assert min(heights.values()) >= 12, heights
    expect(page.locator('.run-node[data-node-id="draft"]')).to_have_attribute("data-category", "ai")
