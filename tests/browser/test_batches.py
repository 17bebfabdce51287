"""Datasets and batches in the browser: upload a CSV, start a batch on it, watch its progress, download its results."""

import csv
import io
from pathlib import Path

import pytest
from playwright.sync_api import FilePayload, Page, expect

from tests.browser.test_shell import sign_in
from tests.factories import WorkflowFactory, WorkflowVersionFactory

pytestmark = pytest.mark.usefixtures("celery_worker")


def test_upload_a_csv_run_a_batch_and_download_its_results(asgi_server, owner, page: Page, console_errors):
    schema = {"type": "object", "required": ["subject"], "properties": {"subject": {"type": "string"}}}
    graph = {
        "schema_version": 1,
        "nodes": [
            {"id": "start", "type": "trigger", "params": {"input_schema": schema}},
            {"id": "label", "type": "transform", "params": {"fields": {"label": "{{ input.subject | upper }}"}}},
        ],
        "edges": [{"id": "e1", "source": "start", "target": "label"}],
    }
    workflow = WorkflowFactory(workspace=owner.workspace, name="Triage", draft=graph)
    WorkflowVersionFactory(workflow=workflow, graph=graph, number=1)
    sign_in(page, asgi_server, "olivia")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Datasets").click()
    page.get_by_label("Name", exact=True).fill("Tickets")
    rows = "".join(f"Ticket {n}\n" for n in range(8))
    page.get_by_label("File (.csv or .jsonl)").set_input_files(
        files=[FilePayload(name="tickets.csv", mimeType="text/csv", buffer=f"subject\n{rows}".encode())]
    )
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_text("“Tickets” holds 8 rows.")).to_be_visible()
    expect(page.locator("#dataset-rows tbody tr")).to_have_count(8)

    page.get_by_label("Workflow version").select_option(label="Triage · v1")
    page.get_by_label("Rows at once").fill("3")
    page.get_by_label("Output fields").fill("label")
    page.get_by_role("button", name="Start batch").click()
    expect(page.get_by_role("heading", name="Batch #")).to_contain_text("Triage v1")
    live = page.locator("#batch-live")
    expect(live).to_have_attribute("data-batch-status", "succeeded", timeout=30_000)
    expect(page.locator("#batch-counts")).to_contain_text("8 / 8")
    expect(page.locator('#batch-results tr[data-row="8"]')).to_contain_text("TICKET 7")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download CSV").click()
    table = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text())))
    assert [row["output.label"] for row in table] == [f"TICKET {n}" for n in range(8)]
    assert {row["status"] for row in table} == {"succeeded"}
    assert console_errors == []
