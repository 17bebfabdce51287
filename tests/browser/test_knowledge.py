"""A knowledge base's page: files dropped on it are ingested, and each document's progress arrives live."""

import pytest
from playwright.sync_api import Page, expect

from knowledge import documents
from tests.browser.test_shell import sign_in
from tests.factories import KnowledgeBaseFactory
from tests.fakes import Reply

pytestmark = pytest.mark.usefixtures("celery_worker")

DROP = """([zone, files]) => {
  const transfer = new DataTransfer();
  for (const [name, type, text] of files) transfer.items.add(new File([text], name, { type }));
  zone.dispatchEvent(new DragEvent("dragover", { dataTransfer: transfer, bubbles: true }));
  zone.dispatchEvent(new DragEvent("drop", { dataTransfer: transfer, bubbles: true }));
}"""


def test_dropped_files_are_ingested_and_a_corrupt_one_fails_alone(asgi_server, owner, page: Page, console_errors):
    base = KnowledgeBaseFactory(workspace=owner.workspace, name="Help")
    sign_in(page, asgi_server, "olivia")
    page.goto(f"{asgi_server}/knowledge/{base.pk}/")
    files = [
        ["refunds.md", "text/markdown", "# Refunds\n\nMoney back within 14 days."],
        ["broken.pdf", "application/pdf", "%PDF-1.7 not really"],
    ]
    page.evaluate(DROP, [page.locator("form[data-dropzone]").element_handle(), files])
    expect(page.get_by_text("2 files queued for ingestion.")).to_be_visible()
    good = page.locator("tr", has_text="refunds.md")
    bad = page.locator("tr", has_text="broken.pdf")
    expect(good).to_have_attribute("data-status", "ready", timeout=15_000)
    expect(bad).to_have_attribute("data-status", "failed", timeout=15_000)
    expect(bad).to_contain_text("the PDF could not be read")
    page.fill("input[name=q]", "money back")
    page.click("#query-form button[type=submit]")
    expect(page.locator("#query-results .passage").first).to_contain_text("Money back within 14 days.")
    assert console_errors == []


def test_each_step_of_ingestion_reaches_the_open_page(asgi_server, owner, page: Page, server, console_errors):
    owner.workspace.http_allowlist = ["127.0.0.1"]
    owner.workspace.save()
    server.default = Reply(body=b"<html><body><h1>Shipping</h1><p>We ship in two days.</p></body></html>", delay_s=2.0)
    base = KnowledgeBaseFactory(workspace=owner.workspace, name="Help")
    sign_in(page, asgi_server, "olivia")
    page.goto(f"{asgi_server}/knowledge/{base.pk}/")
    expect(page.get_by_text("No documents yet.")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    document = documents.add_url(base, f"{server.url}/shipping", "Shipping", None, {}, owner.user)
    row = page.locator(f"tr[data-document-id='{document.pk}']")
    expect(row).to_have_attribute("data-status", "extracting", timeout=5000)
    expect(row.locator("progress")).to_be_visible()
    expect(row).to_have_attribute("data-status", "ready", timeout=10_000)
    expect(row.locator("progress")).to_have_count(0)
    expect(page.locator("#freshness")).to_contain_text("ago")
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    assert console_errors == []
