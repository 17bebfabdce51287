"""Extract into sub-workflow in the browser (Chromium at 1400x900): two selected nodes become one
subworkflow node calling a new, published workflow, saved with the draft, and one undo brings them back."""

import pytest
from playwright.sync_api import Page, expect

from builder.models import Workflow
from tests.browser.test_designer import canvas_node, open_designer
from tests.engine.graphs import chain, node
from tests.eventually import eventually
from tests.factories import WorkflowFactory

SCHEMA = {"type": "object", "properties": {"subject": {"type": "string"}}, "required": ["subject"]}


@pytest.fixture
def browser_context_args(browser_context_args: dict) -> dict:
    return {**browser_context_args, "viewport": {"width": 1400, "height": 900}}


def test_two_selected_nodes_become_a_sub_workflow_in_one_undoable_step(asgi_server, owner, page: Page, console_errors):
    graph = chain(
        node("start", "trigger", input_schema=SCHEMA),
        node("clean", "transform", fields={"text": "{{ input.subject | lower }}"}),
        node("tag", "transform", fields={"label": "{{ nodes.clean.text }}!"}),
        node("answer", "reply", answer="{{ nodes.tag.label }}"),
    )
    for x, each in enumerate(graph["nodes"]):
        each["position"] = {"x": x * 300, "y": 0}
    flow = WorkflowFactory(workspace=owner.workspace, name="Tickets", draft=graph)
    open_designer(page, asgi_server, flow)

    extract = page.get_by_role("button", name="Extract into sub-workflow")
    expect(extract).to_be_disabled()
    canvas_node(page, "clean").click()
    canvas_node(page, "tag").click(modifiers=["Control"])
    page.once("dialog", lambda dialog: dialog.accept("Tagging"))
    extract.click()

    expect(page.get_by_text("Extracted into Tagging (published as v1)")).to_be_visible()
    expect(canvas_node(page, "subworkflow")).to_be_visible()
    expect(canvas_node(page, "clean")).to_have_count(0)
    expect(page.locator(".react-flow__edge")).to_have_count(2)
    called = Workflow.objects.get(workspace=owner.workspace, name="Tagging")
    assert called.versions.count() == 1

    def saved() -> bool:
        flow.refresh_from_db()
        return any(n["id"] == "subworkflow" for n in flow.draft["nodes"])

    eventually(saved, timeout=10, message="the extracted draft was not saved")
    sub = next(n for n in flow.draft["nodes"] if n["id"] == "subworkflow")
    assert sub["params"]["workflow_id"] == called.pk
    assert next(n for n in flow.draft["nodes"] if n["id"] == "answer")["params"]["answer"] == (
        "{{ nodes.subworkflow.tag.label }}"
    )

    page.locator(".react-flow__pane").click(position={"x": 20, "y": 20})
    page.keyboard.press("Control+z")
    expect(canvas_node(page, "clean")).to_be_visible()
    expect(canvas_node(page, "tag")).to_be_visible()
    expect(canvas_node(page, "subworkflow")).to_have_count(0)
