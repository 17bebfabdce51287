"""From the workflow's Versions tab: evaluate the draft against v1, see its regression highlighted, hit the gate."""

from playwright.sync_api import Page, expect

from builder.models import PublishGate
from evals.models import EvalRun
from tests.browser.test_shell import open_as
from tests.engine.running import wait_for
from tests.evals.labelled import labelled_workflow


def test_it_compares_the_draft_with_v1_and_refuses_to_publish_it(
    in_process, asgi_server, owner, page: Page, console_errors
):
    workflow, _, eval_set = labelled_workflow(owner.workspace, owner.user)
    PublishGate.objects.create(workflow=workflow, eval_set=eval_set, scorer="category_exact", min_pass_rate=0.9)
    open_as(page, asgi_server, "olivia", f"/workflows/{workflow.pk}/versions/")
    page.get_by_role("button", name="Is the draft better than v1?").click()
    for eval_run in EvalRun.objects.filter(workflow=workflow):
        wait_for(eval_run.run)

    expect(page.locator("#regressions")).to_have_text("1 regression", timeout=15_000)
    regression = page.locator('tr[data-change="regression"]')
    expect(regression).to_have_count(1)
    expect(regression.locator("ins")).to_have_text("<i>billing</i>: ")
    expect(page.locator("score-chart").first).to_have_attribute("data-drawn", "2")
    page.get_by_role("link", name="Show regressions only").click()
    expect(page.locator("tbody tr[data-change]")).to_have_count(1)

    page.goto(f"{asgi_server}/workflows/{workflow.pk}/versions/")
    page.get_by_role("button", name="Publish as v2").click()
    refused = page.locator("#gate-refused")
    expect(refused).to_contain_text("min_pass_rate")
    expect(refused).to_contain_text("'category_exact' has a pass rate of 66.7% on the draft")
    assert workflow.versions.count() == 1
    # The refused publish answers 422, which Chromium logs as a failed load; nothing else may be logged.
    assert [error for error in console_errors if "status of 422" not in error] == []
