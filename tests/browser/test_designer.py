"""The designer in Chromium: build a graph by hand, refuse bad edges, undo, save, conflicts, test runs."""

import pytest
from playwright.sync_api import Page, expect

from builder.models import Workflow
from tests.browser.test_shell import open_as
from tests.engine.graphs import TRIGGER, chain, node
from tests.factories import WorkflowFactory
from tests.fakes import Reply


def canvas_node(page: Page, node_id: str):
    return page.locator(f'.react-flow__node[data-id="{node_id}"]')


def status_of(page: Page, node_id: str):
    return canvas_node(page, node_id).locator(".dz-node")


def handle(page: Page, node_id: str, kind: str, name: str):
    return canvas_node(page, node_id).locator(f'.react-flow__handle.{kind}[data-handleid="{name}"]')


def drag_edge(page: Page, source, target) -> None:
    """Draw an edge with the mouse in small steps, as React Flow needs to see the pointer move."""
    start, end = source.bounding_box(), target.bounding_box()
    page.mouse.move(start["x"] + start["width"] / 2, start["y"] + start["height"] / 2)
    page.mouse.down()
    page.mouse.move(end["x"] + end["width"] / 2, end["y"] + end["height"] / 2, steps=15)
    page.mouse.up()


def open_designer(page: Page, base: str, flow: Workflow) -> None:
    open_as(page, base, "olivia", f"/workflows/{flow.pk}/")
    expect(page.locator(".react-flow__renderer")).to_be_visible()


def test_it_builds_saves_and_reloads_a_graph(asgi_server, owner, page: Page, console_errors):
    flow = WorkflowFactory(workspace=owner.workspace, name="By hand")
    open_designer(page, asgi_server, flow)
    canvas = page.locator(".dz-canvas")
    page.locator('.dz-palette-item[data-kind="trigger"]').drag_to(canvas, target_position={"x": 120, "y": 150})
    page.locator('.dz-palette-item[data-kind="reply"]').drag_to(canvas, target_position={"x": 480, "y": 150})
    expect(canvas_node(page, "trigger_1")).to_be_visible()
    expect(canvas_node(page, "reply_1")).to_be_visible()
    drag_edge(page, handle(page, "trigger_1", "source", "out"), handle(page, "reply_1", "target", "in"))
    expect(page.locator(".react-flow__edge")).to_have_count(1)

    canvas_node(page, "reply_1").click()
    panel = page.get_by_role("complementary", name="Node settings")
    panel.get_by_label("Label").fill("Answer the customer")
    panel.locator("#root_answer").fill("Thanks, we are on it")
    expect(page.locator("[data-save-state]")).to_have_attribute("data-save-state", "saved", timeout=10_000)

    flow.refresh_from_db()
    assert flow.draft_revision > 1
    assert [(n["id"], n["type"]) for n in flow.draft["nodes"]] == [("trigger_1", "trigger"), ("reply_1", "reply")]
    reply = flow.draft["nodes"][1]
    assert (reply["label"], reply["params"]["answer"]) == ("Answer the customer", "Thanks, we are on it")
    assert [(e["source"], e["source_handle"], e["target"], e["target_handle"]) for e in flow.draft["edges"]] == [
        ("trigger_1", "out", "reply_1", "in")
    ]
    assert set(flow.draft) <= {"schema_version", "nodes", "edges", "notes"}, "React Flow's objects leaked into the save"

    page.reload()
    expect(canvas_node(page, "reply_1")).to_contain_text("Answer the customer")
    expect(page.locator(".react-flow__edge")).to_have_count(1)
    canvas_node(page, "reply_1").click()
    expect(page.locator("#root_answer")).to_have_value("Thanks, we are on it")
    assert console_errors == []


def test_it_refuses_an_edge_into_a_trigger(asgi_server, owner, page: Page):
    draft = chain(TRIGGER, node("answer", "reply", answer="hi"))
    draft["nodes"][0]["position"] = {"x": 0, "y": 0}
    draft["nodes"][1]["position"] = {"x": 400, "y": 0}
    flow = WorkflowFactory(workspace=owner.workspace, draft=draft)
    open_designer(page, asgi_server, flow)
    page.locator('.dz-palette-item[data-kind="transform"]').click()
    expect(canvas_node(page, "transform_1")).to_be_visible()
    drag_edge(page, handle(page, "transform_1", "source", "out"), handle(page, "start", "source", "out"))
    drag_edge(page, handle(page, "answer", "target", "in"), handle(page, "answer", "target", "in"))
    expect(page.locator(".react-flow__edge")).to_have_count(1)
    page.keyboard.press("Control+s")
    expect(page.locator("[data-save-state]")).to_have_attribute("data-save-state", "saved", timeout=10_000)
    flow.refresh_from_db()
    assert len(flow.draft["edges"]) == 1


def test_undo_brings_back_a_deleted_node(asgi_server, owner, page: Page):
    draft = chain(TRIGGER, node("answer", "reply", answer="hi"))
    flow = WorkflowFactory(workspace=owner.workspace, draft=draft)
    open_designer(page, asgi_server, flow)
    canvas_node(page, "answer").click()
    page.keyboard.press("Delete")
    expect(canvas_node(page, "answer")).to_have_count(0)
    expect(page.locator(".react-flow__edge")).to_have_count(0)
    page.locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+z")
    expect(canvas_node(page, "answer")).to_be_visible()
    expect(page.locator(".react-flow__edge")).to_have_count(1)
    page.keyboard.press("Control+Shift+z")
    expect(canvas_node(page, "answer")).to_have_count(0)


def test_it_copies_nodes_into_another_workflow(asgi_server, owner, page: Page):
    source = WorkflowFactory(workspace=owner.workspace, draft=chain(TRIGGER, node("answer", "reply", answer="hi")))
    target = WorkflowFactory(workspace=owner.workspace, draft=chain(TRIGGER))
    open_designer(page, asgi_server, source)
    canvas_node(page, "answer").click()
    page.keyboard.press("Control+c")
    page.goto(f"{asgi_server}/workflows/{target.pk}/")
    canvas_node(page, "start").click()
    page.keyboard.press("Control+v")
    expect(canvas_node(page, "answer_1")).to_be_visible()
    page.keyboard.press("Control+s")
    expect(page.locator("[data-save-state]")).to_have_attribute("data-save-state", "saved", timeout=10_000)
    target.refresh_from_db()
    assert [n["id"] for n in target.draft["nodes"]] == ["start", "answer_1"]
    assert target.draft["nodes"][1]["params"] == {"answer": "hi"}


def test_it_shows_problems_on_their_node_and_field(asgi_server, owner, page: Page):
    flow = WorkflowFactory(
        workspace=owner.workspace, draft=chain(TRIGGER, node("answer", "reply", answer="{{ nodes.ghost.x }}"))
    )
    open_designer(page, asgi_server, flow)
    expect(status_of(page, "answer")).to_have_attribute("data-problems", "1")
    expect(status_of(page, "start")).to_have_attribute("data-problems", "0")
    canvas_node(page, "answer").click()
    expect(page.get_by_role("alert", name="Problems of this node")).to_contain_text("ghost")
    expect(page.locator(".dz-json-field")).to_contain_text("There is no node 'ghost'")
    page.locator("#root_answer").fill("Fixed")
    expect(status_of(page, "answer")).to_have_attribute("data-problems", "0", timeout=10_000)


def test_a_concurrent_edit_is_shown_with_a_reload(asgi_server, owner, page: Page):
    flow = WorkflowFactory(workspace=owner.workspace, draft=chain(TRIGGER))
    open_designer(page, asgi_server, flow)
    Workflow.objects.filter(pk=flow.pk).update(draft_revision=5)  # another tab saved meanwhile
    page.locator('.dz-palette-item[data-kind="reply"]').click()
    page.keyboard.press("Control+s")
    alert = page.locator(".dz-conflict")
    expect(alert).to_contain_text("Someone else saved this workflow")
    alert.get_by_role("button", name="Reload").click()
    expect(page.locator("[data-save-state]")).to_have_attribute("data-save-state", "saved")
    expect(canvas_node(page, "reply_1")).to_have_count(0)


@pytest.mark.usefixtures("celery_worker")
def test_a_test_run_colours_the_nodes_and_shows_an_output(asgi_server, owner, page: Page):
    draft = chain(
        TRIGGER,
        node("pause", "delay", seconds=1),
        node("answer", "reply", answer="Hello {{ input.name }}"),
    )
    flow = WorkflowFactory(workspace=owner.workspace, draft=draft)
    open_designer(page, asgi_server, flow)
    page.get_by_role("button", name="Sample input").click()
    page.get_by_label("Sample input (JSON)").fill('{"name": "Ada"}')
    page.get_by_role("button", name="Test run").click()
    expect(status_of(page, "pause")).to_have_attribute("data-status", "waiting", timeout=10_000)
    expect(status_of(page, "answer")).to_have_attribute("data-status", "succeeded", timeout=15_000)
    canvas_node(page, "answer").click()
    page.get_by_role("tab", name="Last run").click()
    expect(page.locator(".dz-test-details")).to_contain_text("Hello Ada")
    flow.refresh_from_db()
    assert flow.sample_input == {"name": "Ada"}


def test_the_palette_and_panel_work_from_the_keyboard(asgi_server, owner, page: Page):
    flow = WorkflowFactory(workspace=owner.workspace, draft=chain(TRIGGER))
    open_designer(page, asgi_server, flow)
    page.get_by_label("Search node types").fill("reply")
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Add Reply", exact=False)).to_be_focused()
    page.keyboard.press("Enter")
    expect(canvas_node(page, "reply_1")).to_be_visible()
    panel = page.get_by_role("complementary", name="Node settings")
    expect(panel).to_have_attribute("data-panel-node", "reply_1")
    panel.get_by_label("Label").focus()
    page.keyboard.type(" to customer")
    expect(canvas_node(page, "reply_1")).to_contain_text("Reply to customer")
    page.keyboard.press("Shift+Slash")  # typed into the field, not a shortcut
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_have_count(0)
    canvas_node(page, "start").focus()
    page.keyboard.press("Enter")
    expect(panel).to_have_attribute("data-panel-node", "start")
    panel.get_by_text("Connections").click()
    panel.get_by_label("to node").select_option("reply_1")
    panel.get_by_role("button", name="Connect").click()
    expect(page.locator(".react-flow__edge")).to_have_count(1)
    page.locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    page.keyboard.press("?")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_contain_text("Undo")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog", name="Keyboard shortcuts")).to_have_count(0)


def test_a_sticky_note_is_saved_beside_the_nodes(asgi_server, owner, page: Page):
    flow = WorkflowFactory(workspace=owner.workspace, draft=chain(TRIGGER))
    open_designer(page, asgi_server, flow)
    page.get_by_role("button", name="Add note").click()
    note = page.get_by_label("Sticky note").first
    note.fill("Ask legal before changing the reply")
    page.locator(".react-flow__pane").click(position={"x": 5, "y": 5})
    page.keyboard.press("Control+s")
    expect(page.locator("[data-save-state]")).to_have_attribute("data-save-state", "saved", timeout=10_000)
    flow.refresh_from_db()
    assert [n["text"] for n in flow.draft["notes"]] == ["Ask legal before changing the reply"]
    assert [n["id"] for n in flow.draft["nodes"]] == ["start"]
    page.keyboard.press("Control+z")
    expect(page.get_by_label("Sticky note")).to_have_value("")


@pytest.mark.usefixtures("celery_worker")
def test_run_from_here_reuses_the_upstream_outputs(asgi_server, owner, server, page: Page):
    server.then(Reply(body={"status": "open"}))
    owner.workspace.http_allowlist = ["127.0.0.1"]
    owner.workspace.save()
    draft = chain(
        TRIGGER,
        node("call", "http_request", url=server.url + "/ticket"),
        node("answer", "reply", answer="{{ nodes.call.status }}"),
    )
    flow = WorkflowFactory(workspace=owner.workspace, draft=draft)
    open_designer(page, asgi_server, flow)
    page.get_by_role("button", name="Test run").click()
    expect(status_of(page, "answer")).to_have_attribute("data-status", "succeeded", timeout=15_000)
    first = page.locator("[data-test-run]").get_attribute("data-test-run")

    canvas_node(page, "answer").click()
    page.get_by_role("tab", name="Last run").click()
    page.get_by_role("button", name="Run from here").click()
    expect(page.locator("[data-test-run]")).not_to_have_attribute("data-test-run", first or "")
    expect(page.locator("[data-test-run]")).to_have_attribute("data-test-status", "succeeded", timeout=15_000)
    expect(status_of(page, "call")).to_have_attribute("data-status", "succeeded")
    assert len(server.requests("/ticket")) == 1, "the upstream HTTP call ran again"
