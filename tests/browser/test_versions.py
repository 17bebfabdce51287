"""The workflow list and the Versions tab in Chromium: htmx writes, publish, diff colours, import problems."""

import json

from playwright.sync_api import FilePayload, Page, expect

from builder.models import Workflow, WorkflowVersion
from tests.browser.test_shell import open_as
from tests.engine.graphs import TRIGGER, chain, node
from tests.factories import WorkflowFactory, WorkflowVersionFactory

GOOD = chain(TRIGGER, node("answer", "reply", answer="hi"))


def test_it_searches_and_renames_in_place_through_htmx(asgi_server, owner, page: Page, console_errors):
    flow = WorkflowFactory(workspace=owner.workspace, name="Ticket triage", draft=GOOD)
    WorkflowFactory(workspace=owner.workspace, name="Invoices")
    open_as(page, asgi_server, "olivia", "/workflows/")
    page.get_by_label("Search", exact=True).fill("triage")
    expect(page.locator("#workflows tbody tr")).to_have_count(1)
    page.get_by_label("Rename Ticket triage").click()
    page.get_by_label("New name").fill("Refund triage")
    with page.expect_response(lambda r: "/rename/" in r.url) as answer:
        page.get_by_role("button", name="Save").click()
    assert answer.value.status == 200
    expect(page.get_by_role("status")).to_contain_text("Renamed Ticket triage to Refund triage.")
    expect(page.get_by_label("Search", exact=True)).to_have_value("triage")
    flow.refresh_from_db()
    assert flow.name == "Refund triage"
    assert console_errors == []


def test_duplicating_from_the_keyboard_keeps_the_focus_on_the_button(asgi_server, owner, page: Page, console_errors):
    flow = WorkflowFactory(workspace=owner.workspace, name="Ticket triage", draft=GOOD)
    open_as(page, asgi_server, "olivia", "/workflows/")
    page.get_by_label("Duplicate Ticket triage").focus()
    with page.expect_response(lambda r: "/duplicate/" in r.url):
        page.keyboard.press("Enter")
    expect(page.locator("#workflows tbody tr")).to_have_count(2)
    # htmx swapped the whole table; the button with the same id takes the focus back.
    expect(page.get_by_label("Duplicate Ticket triage")).to_be_focused()
    assert page.evaluate("document.activeElement.id") == f"duplicate-{flow.pk}"
    assert console_errors == []


def test_publishing_creates_a_version(asgi_server, owner, page: Page, console_errors):
    flow = WorkflowFactory(workspace=owner.workspace, name="Triage", draft=GOOD)
    open_as(page, asgi_server, "olivia", f"/workflows/{flow.pk}/versions/")
    page.get_by_label("Note").fill("first cut")
    page.get_by_role("button", name="Publish as v1").click()
    expect(page.get_by_role("status")).to_contain_text("Published v1.")
    row = page.locator("#version-1")
    expect(row).to_contain_text("first cut")
    expect(row).to_contain_text("olivia")
    version = WorkflowVersion.objects.get(workflow=flow)
    assert (version.number, version.note, version.graph) == (1, "first cut", GOOD)
    assert console_errors == []


def test_the_diff_shows_a_changed_parameter_in_the_list_and_on_the_canvas(
    asgi_server, owner, page: Page, console_errors
):
    old = chain(TRIGGER, node("answer", "reply", answer="old"), node("gone", "reply", answer="x"))
    flow = WorkflowFactory(workspace=owner.workspace, name="Triage", draft=GOOD)
    WorkflowVersionFactory(workflow=flow, number=1, graph=old)
    open_as(page, asgi_server, "olivia", f"/workflows/{flow.pk}/versions/")
    page.get_by_role("link", name="Compare v1 with the draft").click()
    changes = page.get_by_role("region", name="List of changes")
    field = changes.locator('[data-changed-node="answer"] [data-path="params.answer"]')
    expect(field).to_contain_text('"old"')
    expect(field).to_contain_text('"hi"')
    expect(changes).to_contain_text("Nodes removed")
    expect(page.locator('.react-flow [data-node-id="answer"]')).to_have_attribute("data-diff", "changed")
    expect(page.locator('.react-flow [data-node-id="gone"]')).to_have_attribute("data-diff", "removed")
    expect(page.locator('.react-flow [data-node-id="start"]')).to_have_attribute("data-diff", "same")
    assert console_errors == []


def test_importing_a_malformed_file_shows_the_problems_and_changes_nothing(
    asgi_server, owner, page: Page, console_errors
):
    WorkflowFactory(workspace=owner.workspace, name="Triage", draft=GOOD)
    bad = {"format": "switchyard-workflow", "name": "", "graph": chain(TRIGGER, node("x", "python_exec"))}
    open_as(page, asgi_server, "olivia", "/workflows/")
    page.get_by_label("Workflow file (JSON)").set_input_files(
        files=FilePayload(name="bad.json", mimeType="application/json", buffer=json.dumps(bad).encode())
    )
    page.get_by_role("button", name="Import workflow").click()
    problems = page.locator("#import-problems")
    expect(problems).to_contain_text("Nothing was changed.")
    expect(problems.locator("li")).to_have_count(2)
    expect(problems).to_contain_text("graph.nodes.1.type")
    expect(problems.locator("li").first).to_contain_text("name")
    assert list(Workflow.objects.values_list("name", flat=True)) == ["Triage"]
    # Chromium logs the 422 of the form post itself; nothing else may go wrong on the page.
    assert console_errors == [
        "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
    ]
