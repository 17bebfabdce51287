"""An eval set's scorers edited in place over htmx (a refusal shown in the card, then saved, then removed), a
dataset imported into it, and the workflow's reviewer-corrections setting changed on its Quality tab, in a real
browser."""

from playwright.sync_api import Page, expect

from datasets import store
from evals import corrections
from evals.models import EvalRow, Scorer
from tests.browser.test_shell import open_as
from tests.evals.labelled import labelled_workflow


def test_an_owner_edits_and_removes_a_scorer_in_place(asgi_server, owner, page: Page, console_errors):
    _, _, eval_set = labelled_workflow(owner.workspace, owner.user)
    shape = Scorer.objects.get(eval_set=eval_set, name="shape")
    open_as(page, asgi_server, "olivia", f"/evals/sets/{eval_set.pk}/")

    row = page.locator('tr[data-scorer="shape"]')
    row.locator("summary").click()
    form = page.locator(f"#edit-scorer-{shape.pk}")
    form.get_by_label("Config").fill('{"pattern": "(about"}')
    with page.expect_response(lambda r: r.url.endswith(f"/scorers/{shape.pk}/")) as refused:
        form.get_by_role("button", name="Save scorer").click()
    expect(page.locator("#scorers")).to_contain_text("config.pattern: the regular expression does not compile")
    page.locator(f"#edit-scorer-{shape.pk}").get_by_label("Config").fill('{"pattern": "about"}')
    with page.expect_response(lambda r: r.url.endswith(f"/scorers/{shape.pk}/")) as saved:
        page.locator(f"#edit-scorer-{shape.pk}").get_by_role("button", name="Save scorer").click()
    expect(page.get_by_role("status")).to_contain_text("Saved the scorer shape")
    assert Scorer.objects.get(pk=shape.pk).config["pattern"] == "about"

    page.once("dialog", lambda dialog: dialog.accept())
    with page.expect_response(lambda r: r.url.endswith("/delete/")) as removed:
        page.locator(f"#remove-scorer-{shape.pk}").get_by_role("button", name="Remove").click()
    expect(page.locator('tr[data-scorer="shape"]')).to_have_count(0)
    expect(page.locator('tr[data-scorer="category_exact"]')).to_be_visible()
    assert [refused.value.status, saved.value.status, removed.value.status] == [422, 200, 200]
    assert list(Scorer.objects.filter(eval_set=eval_set).values_list("name", flat=True)) == ["category_exact"]
    assert [error for error in console_errors if "status of 422" not in error] == []


def test_an_owner_imports_a_dataset_with_its_expected_column(asgi_server, owner, page: Page, console_errors):
    _, _, eval_set = labelled_workflow(owner.workspace, owner.user)
    rows = [{"subject": "Password", "category": "account"}, {"subject": "Invoice", "category": "billing"}]
    store.from_rows(owner.workspace, store.DatasetSpec("More tickets", ""), rows, owner.user)
    open_as(page, asgi_server, "olivia", f"/evals/sets/{eval_set.pk}/")
    form = page.locator("#import-dataset")
    form.get_by_label("Dataset").select_option(label="More tickets (2 rows: subject, category)")
    form.get_by_label("Expected columns").fill("category")
    with page.expect_response(lambda r: r.url.endswith("/import/")) as imported:
        form.get_by_role("button", name="Import rows").click()
    expect(page.get_by_role("status")).to_contain_text("Added 2 rows from the dataset More tickets")
    expect(page.locator('#rows tr[data-row="5"]')).to_contain_text("More tickets row 2")
    assert imported.value.status == 200
    added = EvalRow.objects.filter(eval_set=eval_set, source="dataset").order_by("position")
    assert [(row.input, row.expected) for row in added] == [
        ({"subject": "Password"}, {"category": "account"}),
        ({"subject": "Invoice"}, {"category": "billing"}),
    ]
    assert console_errors == []


def test_an_owner_sends_corrections_to_an_eval_set_from_the_quality_tab(asgi_server, owner, page: Page, console_errors):
    workflow, _, eval_set = labelled_workflow(owner.workspace, owner.user)
    open_as(page, asgi_server, "olivia", f"/workflows/{workflow.pk}/quality/")
    card = page.locator("#eval-corrections")
    expect(card).to_contain_text("wait as a proposal")
    card.get_by_label("Add reviewer corrections as rows at once").check()
    card.get_by_label("Into the eval set").select_option(label="Labelled tickets")
    card.get_by_role("button", name="Save").click()
    expect(page.locator("#corrections-setting")).to_contain_text("added at once as a row of Labelled tickets")
    setting = corrections.setting_of(workflow)
    assert (setting.auto_add, setting.eval_set_id) == (True, eval_set.pk)
    assert console_errors == []
