"""The costs pages: who sees and who edits, the CSV equals the table, forms name bad fields."""

import csv
import io
from datetime import timedelta
from decimal import Decimal
from html.parser import HTMLParser

import pytest
from django.utils import timezone

from accounts.models import Role
from engine import budgets
from engine.models import Budget, ModelPrice
from tests.costs.billing import bill, run_in
from tests.factories import BudgetFactory, MembershipFactory, ModelPriceFactory, UserFactory, WorkflowFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def viewer(workspace):
    return MembershipFactory(workspace=workspace, user=UserFactory(username="vera"), role=Role.VIEWER)


class TableText(HTMLParser):
    """The text of each cell of one table, row by row, as a reader sees it."""

    def __init__(self, table_id: str) -> None:
        super().__init__()
        self.table_id, self.inside = table_id, False
        self.rows: list[list[str]] = []
        self.cell: str | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "table" and ("id", self.table_id) in attrs:
            self.inside = True
        elif self.inside and tag == "tr":
            self.rows.append([])
        elif self.inside and tag in ("td", "th"):
            self.cell = ""

    def handle_endtag(self, tag):
        if tag == "table":
            self.inside = False
        elif self.inside and tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(self.cell.strip())
            self.cell = None

    def handle_data(self, data):
        if self.cell is not None:
            self.cell += data


def table_on(page: str, table_id: str) -> list[list[str]]:
    parser = TableText(table_id)
    parser.feed(page)
    return parser.rows


@pytest.mark.parametrize("key", ["over-time", "workflow", "version", "node", "model", "provider", "trigger", "per-run"])
def test_it_exports_the_same_rows_as_the_table_on_the_page(owner, spend, login_as, key):
    client = login_as(owner)
    query = "?bucket=week&stack=model"
    page = client.get(f"/costs/{query}").content.decode()
    exported = client.get(f"/costs/export/{key}.csv{query}")

    assert exported.status_code == 200
    assert exported["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode())))
    assert len(rows) > 1
    assert rows == table_on(page, f"table-{key}")


def test_it_exports_the_top_runs_with_their_ids(owner, spend, login_as):
    client = login_as(owner)
    page = client.get("/costs/").content.decode()
    rows = list(csv.reader(io.StringIO(client.get("/costs/export/top-runs.csv").content.decode())))

    shown = table_on(page, "table-top-runs")
    assert [row[1:] for row in rows] == [row[1:] for row in shown]
    assert [f"#{row[0]}" for row in rows[1:]] == [row[0] for row in shown[1:]]
    assert f'href="/runs/{spend.refunds.pk}/"' in page


def test_it_shows_viewers_the_report_and_hides_it_from_outsiders(owner, viewer, outsider, spend, login_as):
    page = login_as(viewer).get("/costs/")
    assert page.status_code == 200
    assert "Triage" in page.content.decode()
    today = timezone.localdate()
    assert f'name="since" value="{today - timedelta(days=29)}"' in page.content.decode()
    assert "Theirs" not in page.content.decode()
    assert "Triage" not in login_as(outsider).get("/costs/").content.decode()


def test_it_names_the_field_of_a_bad_filter(owner, login_as):
    client = login_as(owner)
    response = client.get("/costs/?since=2026-05-02&until=2026-05-01")
    assert response.status_code == 422
    assert "The end date is before the start date" in response.content.decode()
    export = client.get("/costs/export/workflow.csv?workflow=abc")
    assert export.status_code == 422
    assert export.content.decode().startswith("workflow:")
    assert client.get("/costs/?bucket=year").status_code == 422
    assert client.get("/costs/export/nothing.csv").status_code == 404


def test_it_offers_the_billed_workflows_and_models_as_filters(owner, spend, login_as):
    client = login_as(owner)
    page = client.get("/costs/").content.decode()
    assert '<option value="gpt-mini">gpt-mini</option>' in page
    assert "Theirs" not in page
    filtered = client.get("/costs/?model=gpt-mini")
    assert filtered.status_code == 200
    assert '<option value="gpt-mini" selected>gpt-mini</option>' in filtered.content.decode()
    unbilled = client.get("/costs/?model=claude-x")
    assert unbilled.status_code == 422
    assert "claude-x is not one of the available choices" in unbilled.content.decode()


def test_it_answers_htmx_with_the_report_alone(owner, spend, login_as):
    response = login_as(owner).get("/costs/?stack=node_type", headers={"HX-Request": "true"})
    page = response.content.decode()
    assert page.lstrip().startswith('<div id="report">')
    assert "Spend per day by node type" in page


def test_it_lets_owners_create_budgets(owner, login_as):
    workflow = WorkflowFactory(workspace=owner.workspace, name="Triage")
    client = login_as(owner)
    body = {
        "name": "Triage monthly",
        "scope": "workflow_month",
        "workflow_id": workflow.pk,
        "limit": "50",
        "alert_percent": "75",
    }
    response = client.post("/costs/budgets/", body, headers={"X-CSRFToken": client.csrf_token()})

    assert response.status_code == 302
    budget = Budget.objects.get()
    assert (budget.workspace_id, budget.workflow_id, budget.limit, budget.created_by) == (
        owner.workspace_id,
        workflow.pk,
        Decimal(50),
        owner.user,
    )


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"limit": "-1"}, "limit", "more than zero"),
        ({"limit": "lots"}, "limit", "Enter a number"),
        ({"alert_percent": "150"}, "alert_percent", "from 1 to 100"),
        ({"scope": "forever"}, "scope", "Select a valid choice"),
        ({"scope": "workflow_month"}, "workflow_id", "needs a workflow"),
        ({"workflow_id": "999999"}, "workflow_id", "no such workflow"),
        ({"name": ""}, "name", "required"),
    ],
)
def test_it_names_the_field_of_a_bad_budget(owner, login_as, change, field, message):
    client = login_as(owner)
    body = {"name": "All", "scope": "workspace_month", "limit": "50", "alert_percent": "80", **change}
    response = client.post("/costs/budgets/", body, headers={"X-CSRFToken": client.csrf_token()})

    assert response.status_code == 422
    assert f'data-field="{field}"' in response.content.decode()
    assert message in response.content.decode()
    assert not Budget.objects.exists()


def test_it_lets_owners_edit_and_delete_budgets(owner, login_as):
    budget = BudgetFactory(workspace=owner.workspace, name="All")
    client = login_as(owner)
    headers = {"X-CSRFToken": client.csrf_token()}
    body = {"name": "All of it", "scope": "workspace_month", "limit": "75.5", "alert_percent": "90"}

    assert client.get(f"/costs/budgets/{budget.pk}/").status_code == 200
    assert client.post(f"/costs/budgets/{budget.pk}/", body, headers=headers).status_code == 302
    budget.refresh_from_db()
    assert (budget.name, budget.limit, budget.alert_percent) == ("All of it", Decimal("75.5"), 90)
    assert client.post(f"/costs/budgets/{budget.pk}/delete/", headers=headers).status_code == 302
    assert not Budget.objects.exists()


def test_it_shows_budgets_to_viewers_but_lets_only_owners_edit(owner, teammate, viewer, outsider, login_as):
    budget = BudgetFactory(workspace=owner.workspace, name="All")
    body = {"name": "Mine", "scope": "workspace_month", "limit": "1", "alert_percent": "80"}
    for member in (viewer, teammate):
        client = login_as(member)
        page = client.get("/costs/budgets/")
        assert page.status_code == 200
        assert "All" in page.content.decode()
        assert "New budget" not in page.content.decode()
        headers = {"X-CSRFToken": client.csrf_token()}
        assert client.post("/costs/budgets/", body, headers=headers).status_code == 403
        assert client.post(f"/costs/budgets/{budget.pk}/", body, headers=headers).status_code == 403
        assert client.post(f"/costs/budgets/{budget.pk}/delete/", headers=headers).status_code == 403
    client = login_as(outsider)
    headers = {"X-CSRFToken": client.csrf_token()}
    assert client.get(f"/costs/budgets/{budget.pk}/").status_code == 404
    assert client.post(f"/costs/budgets/{budget.pk}/delete/", headers=headers).status_code == 404
    assert "All" not in client.get("/costs/budgets/").content.decode()
    budget.refresh_from_db()
    assert budget.name == "All"


def test_it_refuses_budget_writes_without_the_csrf_token(owner, login_as):
    response = login_as(owner).post("/costs/budgets/", {"name": "x", "scope": "workspace_month", "limit": "1"})
    assert response.status_code == 403
    assert not Budget.objects.exists()


def test_it_shows_spend_against_each_budget(owner, spend, login_as):
    BudgetFactory(workspace=owner.workspace, name="Tiny", limit=Decimal("0.01"))
    page = login_as(owner).get("/costs/budgets/").content.decode()
    assert "Limit reached" in page
    assert '<progress class="budget-bar over" max="100" value="100"' in page


def test_it_shows_what_model_calls_in_flight_hold_of_a_budget(owner, login_as):
    BudgetFactory(workspace=owner.workspace, name="Monthly AI", limit=Decimal("5"))
    run = run_in(owner.workspace)
    reservation = budgets.reserve(budgets.Scope(owner.workspace_id, None, run.pk, "draft", 1), Decimal("0.0125"))

    page = login_as(owner).get("/costs/budgets/").content.decode()
    assert "+ $0.0125 held by model calls in flight" in page

    budgets.release(reservation)
    assert "held by model calls in flight" not in login_as(owner).get("/costs/budgets/").content.decode()


def test_it_sets_a_new_price_from_now_and_keeps_the_old_one_for_past_calls(owner, login_as):
    price = ModelPrice.objects.create(
        provider_kind="openai_compatible",
        model="gpt-x",
        input_per_million=Decimal("2.50"),
        output_per_million=Decimal("10"),
        effective_from=timezone.now() - timedelta(days=1),
    )
    first = bill(run_in(owner.workspace))
    client = login_as(owner)
    form = client.get("/costs/prices/?provider_kind=openai_compatible&model=gpt-x").content.decode()
    assert 'value="gpt-x"' in form
    body = {
        "provider_kind": "openai_compatible",
        "model": "gpt-x",
        "input_per_million": "5",
        "output_per_million": "20",
    }
    assert client.post("/costs/prices/", body, headers={"X-CSRFToken": client.csrf_token()}).status_code == 302
    second = bill(run_in(owner.workspace))

    first.refresh_from_db()
    assert (first.cost, first.price_id) == (Decimal("0.007500"), price.pk)
    assert second.cost == Decimal("0.015000")
    new = ModelPrice.objects.get(workspace=owner.workspace, model="gpt-x")
    assert (new.workspace_id, new.created_by) == (owner.workspace_id, owner.user)
    history = table_on(client.get("/costs/prices/").content.decode(), "price-history")
    assert [row[2] for row in history[1:] if row[1] == "gpt-x"] == ["5.000000", "2.500000"]


def test_it_lets_only_owners_set_prices(owner, teammate, viewer, login_as):
    body = {
        "provider_kind": "openai_compatible",
        "model": "gpt-x",
        "input_per_million": "5",
        "output_per_million": "20",
    }
    for member in (viewer, teammate):
        client = login_as(member)
        assert "Set a price" not in client.get("/costs/prices/").content.decode()
        assert client.post("/costs/prices/", body, headers={"X-CSRFToken": client.csrf_token()}).status_code == 403
    assert not ModelPrice.objects.filter(model="gpt-x").exists()


def test_it_names_the_field_of_a_bad_price(owner, login_as):
    client = login_as(owner)
    body = {
        "provider_kind": "openai_compatible",
        "model": "gpt-x",
        "input_per_million": "-1",
        "output_per_million": "x",
    }
    response = client.post("/costs/prices/", body, headers={"X-CSRFToken": client.csrf_token()})
    page = response.content.decode()
    assert response.status_code == 422
    assert 'data-field="input_per_million"' in page
    assert "cannot be negative" in page
    assert 'data-field="output_per_million"' in page
    assert not ModelPrice.objects.filter(model="gpt-x").exists()


def test_it_exports_formula_like_names_as_text(owner, login_as):
    ModelPriceFactory(model="gpt-x")
    bill(
        run_in(
            owner.workspace, workflow_id=5, workflow_name='=HYPERLINK("http://evil.example","x")', trigger_kind="api"
        )
    )
    rows = list(csv.reader(io.StringIO(login_as(owner).get("/costs/export/workflow.csv").content.decode())))

    assert rows[1][:2] == ["5", '\'=HYPERLINK("http://evil.example","x")']
