"""The run page in Chromium shows a generate node's answer growing as the model streams it."""

import threading

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_run_page import node_status
from tests.browser.test_shell import open_as
from tests.engine.graphs import TRIGGER, chain, generate
from tests.engine.running import node, start, wait_for

pytestmark = pytest.mark.usefixtures("celery_worker")

XSS = '<img src=x onerror="window.__xss = 1">'


def test_the_draft_grows_on_the_run_page_until_the_stored_answer_replaces_it(
    asgi_server, owner, provider, price, fake, page: Page, console_errors
):
    fake.answers = [f"Your parcel {XSS} arrives tomorrow."]
    fake.gate = threading.Semaphore(0)
    run = start(owner.workspace, chain(TRIGGER, generate()), {"body": "Where is my parcel?"})
    open_as(page, asgi_server, "olivia", f"/runs/{run.pk}/")
    expect(node_status(page, "draft")).to_have_attribute("data-status", "running", timeout=10_000)
    # Deltas are not replayed: the socket must have joined the run's group (its hello) before the first word.
    expect(page.locator('[data-connection="live"]')).to_have_count(1, timeout=10_000)
    node_status(page, "draft").click()
    card = page.locator('[data-draft-for="draft"]')
    inspector = page.locator('[data-draft="running"]')

    fake.gate.release()
    expect(card).to_have_text("Your", timeout=10_000)
    fake.gate.release()
    expect(card).to_have_text("Your parcel", timeout=10_000)
    fake.gate.release(len(XSS.split()))
    expect(inspector).to_have_text(f"Your parcel {XSS}", timeout=10_000)
    expect(node_status(page, "draft")).to_have_attribute("data-status", "running")

    fake.gate.release(10)
    expect(node_status(page, "draft")).to_have_attribute("data-status", "succeeded", timeout=10_000)
    expect(card).to_have_count(0)
    expect(page.get_by_text("arrives tomorrow.", exact=False).first).to_be_visible()
    assert node(wait_for(run), "draft").output["text"] == f"Your parcel {XSS} arrives tomorrow."
    assert page.evaluate("window.__xss") is None
    assert console_errors == []
