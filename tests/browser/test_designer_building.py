"""Quick building in the designer (Chromium at 1400x900): the "+" on an output and on an edge, the
quick-add search (Ctrl-K, /), a flow built with the keyboard only, the panel's tabs, the sample
input form from the trigger's schema, and the run history drawer."""

from functools import partial

import pytest
from playwright.sync_api import Page, expect

from accounts.models import Role
from engine.models import Run
from tests.browser.test_designer import canvas_node, open_designer, status_of
from tests.browser.test_shell import open_as
from tests.engine.graphs import TRIGGER, chain, node
from tests.eventually import eventually
from tests.factories import MembershipFactory, UserFactory, WorkflowFactory

WINDOW = {"width": 1400, "height": 900}


@pytest.fixture
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": WINDOW}


def edges_of(draft: dict) -> list[tuple[str, str, str, str]]:
    return sorted((e["source"], e["source_handle"], e["target"], e["target_handle"]) for e in draft["edges"])


def has_runs(workflow_id: int, count: int) -> bool:
    return Run.objects.filter(workflow_id=workflow_id).count() == count


def saved(page: Page) -> None:
    page.keyboard.press("Control+s")
    expect(page.locator("[data-save-state]")).to_have_attribute("data-save-state", "saved", timeout=10_000)


def test_the_plus_on_an_output_adds_a_connected_node(asgi_server, owner, page: Page, console_errors):
    flow = WorkflowFactory(workspace=owner.workspace, draft=chain(TRIGGER))
    open_designer(page, asgi_server, flow)
    page.get_by_role("button", name="Add a node after start out").click()
    picker = page.get_by_role("dialog", name="Add a node")
    expect(picker).to_contain_text("Add after")
    expect(picker.locator('[role="option"][data-kind="trigger"]')).to_have_count(0)  # nothing leads into a trigger
    picker.get_by_role("combobox").fill("reply")
    picker.locator('[role="option"][data-kind="reply"]').click()
    expect(picker).to_have_count(0)

    expect(canvas_node(page, "reply_1")).to_be_visible()
    expect(page.get_by_role("complementary", name="Node settings")).to_have_attribute("data-panel-node", "reply_1")
    start, reply = canvas_node(page, "start").bounding_box(), canvas_node(page, "reply_1").bounding_box()
    assert reply["x"] >= start["x"] + start["width"], "the new node is not placed after its source"
    saved(page)
    flow.refresh_from_db()
    assert edges_of(flow.draft) == [("start", "out", "reply_1", "in")]
    assert console_errors == []


def test_the_plus_on_an_edge_inserts_a_node_and_rewires_both_sides(asgi_server, owner, page: Page):
    flow = WorkflowFactory(workspace=owner.workspace, draft=chain(TRIGGER, node("answer", "reply", answer="hi")))
    open_designer(page, asgi_server, flow)
    page.get_by_role("button", name="Insert a node between start and answer").click()
    picker = page.get_by_role("dialog", name="Add a node")
    expect(picker).to_contain_text("Insert between")
    picker.get_by_role("combobox").fill("transform")
    page.keyboard.press("Enter")

    expect(canvas_node(page, "transform_1")).to_be_visible()
    expect(page.locator(".react-flow__edge")).to_have_count(2)
    middle, answer = canvas_node(page, "transform_1").bounding_box(), canvas_node(page, "answer").bounding_box()
    assert answer["x"] >= middle["x"] + middle["width"], "the edge's target was not moved out of the way"
    saved(page)
    flow.refresh_from_db()
    assert edges_of(flow.draft) == [("start", "out", "transform_1", "in"), ("transform_1", "out", "answer", "in")]

    page.keyboard.press("Control+z")  # one undo step takes the whole insertion back
    expect(canvas_node(page, "transform_1")).to_have_count(0)
    expect(page.locator(".react-flow__edge")).to_have_count(1)


def test_a_three_node_flow_is_built_with_the_keyboard_only(asgi_server, owner, page: Page):
    flow = WorkflowFactory(workspace=owner.workspace, name="Keys")
    open_designer(page, asgi_server, flow)
    panel = page.get_by_role("complementary", name="Node settings")

    page.keyboard.press("Control+k")
    search = page.get_by_role("dialog", name="Add a node").get_by_role("combobox")
    expect(search).to_be_focused()
    page.keyboard.type("trigger")
    page.keyboard.press("Enter")
    expect(panel).to_have_attribute("data-panel-node", "trigger_1")
    expect(canvas_node(page, "trigger_1")).to_be_focused()  # the focus ring shows where we are

    page.keyboard.press("/")  # after the selected node, connected
    expect(page.get_by_role("dialog", name="Add a node")).to_contain_text("Add after Trigger")
    expect(search).to_be_focused()
    page.keyboard.type("transf")
    page.keyboard.press("Enter")
    expect(panel).to_have_attribute("data-panel-node", "transform_1")

    page.keyboard.press("Control+k")
    expect(search).to_be_focused()
    page.keyboard.type("rep")
    chosen = page.get_by_role("dialog", name="Add a node").locator('[role="option"][aria-selected="true"]')
    expect(chosen).to_have_attribute("data-kind", "reply")
    page.keyboard.press("ArrowDown")
    expect(chosen).not_to_have_attribute("data-kind", "reply")
    page.keyboard.press("ArrowUp")
    expect(chosen).to_have_attribute("data-kind", "reply")
    page.keyboard.press("Enter")
    expect(panel).to_have_attribute("data-panel-node", "reply_1")
    expect(page.locator(".react-flow__edge")).to_have_count(2)

    page.keyboard.press("[")  # previous along the flow
    expect(panel).to_have_attribute("data-panel-node", "transform_1")
    page.keyboard.press("]")
    expect(panel).to_have_attribute("data-panel-node", "reply_1")
    page.keyboard.press("Delete")
    expect(canvas_node(page, "reply_1")).to_have_count(0)
    page.keyboard.press("Control+z")
    expect(canvas_node(page, "reply_1")).to_be_visible()
    page.keyboard.press("Control+Shift+z")
    expect(canvas_node(page, "reply_1")).to_have_count(0)
    page.keyboard.press("Control+z")
    expect(page.locator(".react-flow__edge")).to_have_count(2)

    saved(page)
    flow.refresh_from_db()
    assert [n["type"] for n in flow.draft["nodes"]] == ["trigger", "transform", "reply"]
    assert edges_of(flow.draft) == [("transform_1", "out", "reply_1", "in"), ("trigger_1", "out", "transform_1", "in")]


def test_escape_closes_the_picker_without_adding(asgi_server, owner, page: Page):
    flow = WorkflowFactory(workspace=owner.workspace, draft=chain(TRIGGER))
    open_designer(page, asgi_server, flow)
    page.locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    page.keyboard.press("/")
    expect(page.get_by_role("dialog", name="Add a node")).to_be_visible()
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Add a node")).to_have_count(0)
    expect(page.locator(".react-flow__node")).to_have_count(1)
    expect(page.locator("[data-save-state]")).to_have_text("All changes saved")


def test_a_viewer_gets_no_quick_add(asgi_server, owner, page: Page):
    MembershipFactory(workspace=owner.workspace, user=UserFactory(username="vera"), role=Role.VIEWER)
    flow = WorkflowFactory(workspace=owner.workspace, draft=chain(TRIGGER, node("answer", "reply", answer="hi")))
    open_as(page, asgi_server, "vera", f"/workflows/{flow.pk}/")
    expect(page.locator(".react-flow__edge")).to_have_count(1)
    expect(page.locator(".dz-handle-add, .dz-edge-add")).to_have_count(0)
    page.locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+k")
    page.keyboard.press("/")
    expect(page.get_by_role("dialog", name="Add a node")).to_have_count(0)
    page.get_by_role("button", name="History").click()
    expect(page.get_by_role("complementary", name="Run history")).to_contain_text("No runs yet")


def test_the_settings_tab_edits_retry_and_timeout(asgi_server, owner, page: Page):
    flow = WorkflowFactory(workspace=owner.workspace, draft=chain(TRIGGER, node("answer", "reply", answer="hi")))
    open_designer(page, asgi_server, flow)
    canvas_node(page, "answer").click()
    panel = page.get_by_role("complementary", name="Node settings")
    tabs = panel.get_by_role("tab")
    expect(tabs).to_have_text(["Parameters", "Settings", "Last run"])
    expect(panel.get_by_role("tab", name="Parameters")).to_have_attribute("aria-selected", "true")
    expect(panel.locator("#root_answer")).to_have_value("hi")

    panel.get_by_role("tab", name="Parameters").focus()
    page.keyboard.press("ArrowRight")  # arrow keys move between tabs
    expect(panel.get_by_role("tab", name="Settings")).to_be_focused()
    expect(panel.get_by_role("tabpanel")).to_contain_text("Retry")
    panel.get_by_label("Attempts").fill("3")
    panel.get_by_label("Timeout (s)").fill("45")
    saved(page)
    flow.refresh_from_db()
    answer = flow.draft["nodes"][1]
    assert (answer["retry"]["max_attempts"], answer["timeout_s"]) == (3, 45)

    panel.get_by_role("tab", name="Last run").click()
    expect(panel.get_by_role("tabpanel")).to_contain_text("No test run yet")


SCHEMA = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {"type": "string", "title": "Name"},
        "count": {"type": "integer"},
        "urgent": {"type": "boolean"},
    },
}


@pytest.mark.usefixtures("celery_worker")
def test_the_sample_input_form_follows_the_trigger_schema(asgi_server, owner, page: Page):
    trigger = node("start", "trigger", input_schema=SCHEMA)
    draft = chain(trigger, node("answer", "reply", answer="Hello {{ input.name }}"))
    flow = WorkflowFactory(workspace=owner.workspace, draft=draft)
    open_designer(page, asgi_server, flow)
    bar = page.get_by_role("form", name="Test run")
    expect(bar.get_by_role("group", name="Sample input")).to_have_count(0)  # compact until used

    bar.get_by_role("button", name="Test run").click()  # the required name is missing
    sample = bar.get_by_role("group", name="Sample input")
    expect(sample.locator('[data-field="name"]')).to_contain_text("Name is required")
    expect(sample.get_by_label("Name")).to_be_focused()
    expect(sample.get_by_label("Name")).to_have_attribute("aria-invalid", "true")
    expect(sample.locator('[data-field="name"] .dz-required')).to_have_count(1)
    assert Run.objects.filter(workflow_id=flow.pk).count() == 0

    sample.get_by_label("Name").fill("Ada")
    sample.get_by_label("count").fill("2")
    sample.get_by_label("urgent").check()
    sample.get_by_role("button", name="JSON").click()
    typed = '{\n  "name": "Ada",\n  "count": 2,\n  "urgent": true\n}'
    expect(sample.get_by_label("Sample input (JSON)")).to_have_value(typed)
    bar.get_by_role("button", name="Test run").click()
    expect(bar.get_by_role("group", name="Sample input")).to_have_count(0)
    expect(status_of(page, "answer")).to_have_attribute("data-status", "succeeded", timeout=15_000)
    flow.refresh_from_db()
    assert flow.sample_input == {"name": "Ada", "count": 2, "urgent": True}

    canvas_node(page, "answer").click()
    panel = page.get_by_role("complementary", name="Node settings")
    panel.get_by_role("tab", name="Last run").click()
    expect(panel.locator(".dz-test-details")).to_contain_text("Hello Ada")


@pytest.mark.usefixtures("celery_worker")
def test_the_history_drawer_loads_an_earlier_run_onto_the_canvas(asgi_server, owner, page: Page):
    draft = chain(TRIGGER, node("answer", "reply", answer="Hello {{ input.name }}"))
    flow = WorkflowFactory(workspace=owner.workspace, draft=draft)
    open_designer(page, asgi_server, flow)
    bar = page.get_by_role("form", name="Test run")
    for count, name in enumerate(("Ada", "Grace"), start=1):
        bar.get_by_role("button", name="Sample input").click()
        bar.get_by_label("Sample input (JSON)").fill(f'{{"name": "{name}"}}')
        bar.get_by_role("button", name="Test run").click()
        eventually(partial(has_runs, flow.pk, count))
        latest = Run.objects.filter(workflow_id=flow.pk).latest("id").pk
        expect(page.locator("[data-test-run]")).to_have_attribute("data-test-run", str(latest))
        expect(page.locator("[data-test-run]")).to_have_attribute("data-test-status", "succeeded", timeout=15_000)
    first, second = Run.objects.filter(workflow_id=flow.pk).order_by("id").values_list("id", flat=True)

    page.get_by_role("button", name="History").click()
    drawer = page.get_by_role("complementary", name="Run history")
    expect(drawer.locator("[data-run]")).to_have_count(2)
    expect(drawer.locator(f'[data-run="{second}"]')).to_have_attribute("aria-current", "true")
    drawer.locator(f'[data-run="{first}"]').click()
    expect(page.locator("[data-test-run]")).to_have_attribute("data-test-run", str(first))
    expect(drawer.locator(f'[data-run="{first}"]')).to_have_attribute("aria-current", "true")
    expect(status_of(page, "answer")).to_have_attribute("data-status", "succeeded")

    canvas_node(page, "answer").click()
    panel = page.get_by_role("complementary", name="Node settings")
    expect(panel.get_by_role("tab", name="Last run")).to_have_attribute("aria-selected", "true")
    expect(panel.locator(".dz-test-details")).to_contain_text("Hello Ada")
    expect(page.locator("[data-save-state]")).to_have_text("All changes saved")
    drawer.get_by_role("button", name="Close the run history").click()
    expect(drawer).to_have_count(0)
