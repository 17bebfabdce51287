"""A reviewer in Chromium: items arrive live, the draft is edited and approved, model output stays text."""

import pytest
from playwright.sync_api import Dialog, Page, expect

from accounts.models import Role
from approvals.decisions import Choice, decide
from tests.approvals.flows import TICKET, asking, start, triage
from tests.browser.test_shell import open_as
from tests.engine.running import wait_for
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.usefixtures("celery_worker")
XSS = '<script>window.__xss = 1</script><img src=x onerror="window.__xss = 2">'


def test_a_reviewer_sees_an_item_arrive_edits_the_draft_and_approves(asgi_server, owner, page: Page, console_errors):
    MembershipFactory(workspace=owner.workspace, user=UserFactory(username="rita"), role=Role.REVIEWER)
    open_as(page, asgi_server, "rita", "/inbox/")
    expect(page.get_by_text("Nothing waiting for review.")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    run = start(owner.workspace, triage())
    approval = asking(run)
    item = page.locator(f"#approval-{approval.pk}")
    expect(item).to_contain_text("Check the reply to Refund for order 1042", timeout=5000)
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"

    page.keyboard.press("j")
    expect(page.locator(f'[data-approval-card="{approval.pk}"]')).to_be_visible()
    page.keyboard.press("e")
    reply = page.locator('textarea[name="value__reply"]')
    expect(reply).to_be_focused()
    reply.fill("Hello, your refund of the double charge is on its way.")
    expect(page.locator("#diff-reply ins")).to_have_text(["your refund of the double charge is on its way."])
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("a")

    expect(page.get_by_text("Approved: Check the reply to Refund for order 1042")).to_be_visible()
    run = wait_for(run)
    assert run.output == {"answer": "Hello, your refund of the double charge is on its way."}
    assert console_errors == []


def test_an_open_item_decided_elsewhere_shows_its_new_state_in_place(asgi_server, owner, page: Page, console_errors):
    MembershipFactory(workspace=owner.workspace, user=UserFactory(username="rita"), role=Role.REVIEWER)
    run = start(owner.workspace, triage())
    approval = asking(run)
    open_as(page, asgi_server, "rita", f"/inbox/{approval.pk}/")
    card = page.locator("#approval-card")
    expect(card).to_have_attribute("data-status", "pending")
    page.evaluate("window.__sameDocument = true")

    decide(approval, owner.user, Choice("approve"))
    expect(card).to_have_attribute("data-status", "approved", timeout=5000)
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    # Only the card was swapped in: not the whole page inside it.
    assert (page.locator("#approval-card").count(), page.locator("h1").count()) == (1, 1)
    wait_for(run)
    assert console_errors == []


def test_model_output_in_the_inbox_runs_no_script(asgi_server, owner, page: Page):
    hostile = {**TICKET, "body": XSS, "classification": {"label": XSS, "confidence": 0.2, "reasons": [XSS]}}
    hostile["sources"] = [{"title": XSS, "score": 0.5, "text": XSS}]
    approval = asking(start(owner.workspace, triage(), input=hostile))
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    open_as(page, asgi_server, "olivia", f"/inbox/{approval.pk}/")
    expect(page.locator(".context-text").first).to_contain_text("<script>window.__xss = 1</script>")
    page.wait_for_timeout(300)
    assert page.evaluate("window.__xss") is None
    assert page.locator(".approval-card script, .approval-card img").count() == 0
    assert dialogs == []
