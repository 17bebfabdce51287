"""The runs list follows runs live over the workspace socket."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_shell import open_as
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import start

pytestmark = pytest.mark.usefixtures("celery_worker")


def test_rows_appear_and_update_without_a_reload(asgi_server, owner, page: Page, console_errors):
    open_as(page, asgi_server, "olivia", "/runs/")
    expect(page.get_by_text("No runs match.")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    run = start(
        owner.workspace, chain(TRIGGER, node("pause", "delay", seconds=1.5), node("answer", "reply", answer="ok"))
    )
    row = page.locator(f"#run-{run.pk} [data-run-status]")
    expect(row).to_have_attribute("data-run-status", "waiting", timeout=5000)
    expect(row).to_have_attribute("data-run-status", "succeeded", timeout=10_000)
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    assert console_errors == []
