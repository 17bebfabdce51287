"""The designer on Support triage at the smallest and largest windows it supports (1280x720,
2560x1440): titles readable, panels inside the window and beside (not over) the canvas, no card
over another, the floating controls clear of each other, and the panels usable."""

import copy

import pytest
from playwright.sync_api import Locator, Page, expect

from builder import demo
from tests.browser.test_designer import canvas_node, open_designer
from tests.browser.test_designer_canvas import boxes_overlap, title_heights, zoom_of
from tests.factories import WorkflowFactory

SIZES = [{"width": 1280, "height": 720}, {"width": 2560, "height": 1440}]


def inside(box, outer, slack: float = 1) -> bool:
    return (
        box["x"] >= outer["x"] - slack
        and box["y"] >= outer["y"] - slack
        and box["x"] + box["width"] <= outer["x"] + outer["width"] + slack
        and box["y"] + box["height"] <= outer["y"] + outer["height"] + slack
    )


def box_of(locator: Locator):
    box = locator.bounding_box()
    assert box is not None, f"{locator} is not on the page"
    return box


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s['width']}x{s['height']}")
def test_support_triage_is_usable_at_the_window_sizes(asgi_server, owner, page: Page, size, console_errors):
    page.set_viewport_size(size)
    window = {"x": 0, "y": 0, **size}
    flow = WorkflowFactory(workspace=owner.workspace, name="Support triage", draft=copy.deepcopy(demo.SUPPORT_TRIAGE))
    open_designer(page, asgi_server, flow)
    canvas = page.locator(".dz-canvas")
    expect(canvas).to_have_attribute("data-framed", "true")

    heights = title_heights(page, ".dz-node-label", zoom_of(page, canvas.locator(".react-flow__viewport")))
    assert heights, "no node titles on the canvas"
    assert min(heights.values()) >= 12, heights
    nodes = page.locator(".dz-canvas .react-flow__node").all()
    cards = {n.get_attribute("data-id"): box_of(n) for n in nodes}
    stacked = [(a, b) for i, a in enumerate(cards) for b in list(cards)[i + 1 :] if boxes_overlap(cards[a], cards[b])]
    assert stacked == [], f"cards on top of each other: {stacked}"

    for button in page.locator(".dz-toolbar button, .dz-toolbar a, .dz-toolbar select").all():
        assert inside(box_of(button), window), f"{button.inner_text()} is outside the window"
    bar, minimap = box_of(page.locator(".dz-testbar")), box_of(canvas.locator(".react-flow__minimap"))
    controls = box_of(canvas.locator(".react-flow__controls"))
    assert not boxes_overlap(bar, minimap), "the test bar covers the minimap"
    assert not boxes_overlap(bar, controls), "the test bar covers the zoom controls"

    canvas_node(page, "check").click()
    panel = page.get_by_role("complementary", name="Node settings")
    expect(panel).to_have_attribute("data-panel-node", "check")
    palette = page.get_by_role("complementary", name="Node palette")
    sides = {"panel": box_of(panel), "palette": box_of(palette)}
    for name, side in sides.items():
        assert inside(side, window), f"the {name} leaves the window"
        assert not boxes_overlap(side, box_of(canvas)), f"the {name} covers the canvas"
    assert box_of(canvas)["width"] >= size["width"] * 0.45, "the canvas is squeezed"
    expect(panel.locator("#root_threshold")).to_be_visible()  # the lazily loaded params form
    overflow = panel.evaluate("el => el.scrollWidth - el.clientWidth")
    wide = panel.evaluate(
        "el => [...el.querySelectorAll('*')].filter(e => e.getBoundingClientRect().right > el.getBoundingClientRect()"
        ".right + 1).slice(0, 3).map(e => e.tagName + '.' + e.className)"
    )
    assert overflow <= 0, f"the panel scrolls sideways by {overflow}px: {wide}"
    for tab in ("Settings", "Last run", "Parameters"):
        panel.get_by_role("tab", name=tab).click()
        expect(panel.get_by_role("tabpanel")).to_be_visible()
    expect(page.locator("[data-save-state]")).to_have_text("All changes saved")

    page.get_by_role("button", name="Sample input").click()
    sample = page.get_by_role("group", name="Sample input")
    assert inside(box_of(sample), box_of(canvas)), "the sample input leaves the canvas"
    expect(sample.get_by_label("body")).to_be_visible()
    page.get_by_role("button", name="History").click()
    assert inside(box_of(page.get_by_role("complementary", name="Run history")), box_of(canvas))
    page.get_by_role("button", name="Close the run history").click()

    page.locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+k")
    assert inside(box_of(page.get_by_role("dialog", name="Add a node")), window)
    page.keyboard.press("Escape")
    assert console_errors == []
