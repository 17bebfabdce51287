"""A knowledge base's page: files dropped on it are ingested, and each document's progress arrives live."""

import pytest
from playwright.sync_api import Page, expect

from knowledge import documents
from tests.browser.test_shell import open_as
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
    open_as(page, asgi_server, "olivia", f"/knowledge/{base.pk}/")
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
    open_as(page, asgi_server, "olivia", f"/knowledge/{base.pk}/")
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


def test_a_chunking_change_re_ingests_live_and_deleting_needs_the_name(asgi_server, owner, page: Page, console_errors):
    base = KnowledgeBaseFactory(workspace=owner.workspace, name="Help")
    text = " ".join(f"Sentence {n} explains one more detail of shipping." for n in range(60))
    documents.add_text(base, "Shipping", text, {}, owner.user)
    open_as(page, asgi_server, "olivia", f"/knowledge/{base.pk}/")
    row = page.locator("tr", has_text="Shipping")
    expect(row).to_have_attribute("data-status", "ready", timeout=15_000)
    chunks_before = int(row.locator("td").nth(2).inner_text())

    page.get_by_text("Rename or change chunking and embedding").click()
    page.fill("#settings-form input[name=chunk_size]", "60")
    page.fill("#settings-form input[name=chunk_overlap]", "10")
    page.click("#settings-form button[type=submit]")
    expect(page.get_by_text("every document was queued for re-ingestion")).to_be_visible()
    expect(row).to_have_attribute("data-status", "ready", timeout=15_000)
    expect(page.locator("h1 + p")).to_contain_text("chunks of 60 tokens, 10 overlap")
    expect(row.locator("td").nth(2)).not_to_have_text(str(chunks_before), timeout=15_000)

    page.get_by_text("Delete this knowledge base").click()
    page.fill("#delete-base-form input[name=confirm]", "help")
    page.click("#delete-base-form button[type=submit]")
    expect(page.get_by_role("alert")).to_contain_text("confirm: type 'Help' to delete it")
    # The refused form stands at /delete/; the live list must still refresh from the knowledge base's page.
    with page.expect_response(lambda response: response.request.headers.get("hx-request") == "true") as refreshed:
        documents.add_text(base, "Returns", "Send it back within 30 days.", {}, owner.user)
    assert refreshed.value.url.endswith(f"/knowledge/{base.pk}/")
    assert refreshed.value.status == 200
    page.fill("#delete-base-form input[name=confirm]", "Help")
    page.click("#delete-base-form button[type=submit]")
    expect(page.get_by_text("“Help” and its documents were deleted.")).to_be_visible()
    assert page.url.endswith("/knowledge/")
    # Chromium logs the 422 of the refused form post itself; nothing else may go wrong on the page.
    assert console_errors == [
        "Failed to load resource: the server responded with a status of 422 (Unprocessable Entity)"
    ]
