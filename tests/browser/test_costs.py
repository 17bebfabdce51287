"""The costs page draws its chart from the table beside it, and redraws it for new filters."""

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_shell import open_as
from tests.costs.billing import Spend, a_month_of_spend


@pytest.fixture
def spend(owner, outsider) -> Spend:
    return a_month_of_spend(owner, outsider)


def test_it_draws_the_chart_beside_its_table(asgi_server, owner, spend, page: Page, console_errors):
    open_as(page, asgi_server, "olivia", "/costs/")

    chart = page.locator("cost-chart")
    expect(chart).to_have_attribute("data-drawn", "2")
    box = chart.locator("canvas").bounding_box()
    assert box is not None
    assert (box["width"] > 200, box["height"] > 200) == (True, True)
    table = page.locator("#table-over-time")
    expect(table.locator("thead th")).to_have_text(["Period", "Triage", "Refunds", "Total"])
    expect(table.locator("tbody tr")).to_have_count(30)
    expect(page.locator("#table-top-runs tbody tr").first.get_by_role("link")).to_have_text(f"#{spend.refunds.pk}")

    page.locator("select[name=stack]").select_option("model")
    page.locator("select[name=bucket]").select_option("week")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("#table-over-time thead th")).to_have_text(["Period", "gpt-x", "gpt-mini", "Total"])
    expect(page.locator("cost-chart")).to_have_attribute("data-drawn", "2")
    assert "stack=model" in page.url
    assert console_errors == []


def test_it_loads_chart_js_only_on_the_costs_page(asgi_server, owner, page: Page):
    open_as(page, asgi_server, "olivia", "/runs/")
    scripts = page.locator("script[src]").evaluate_all("nodes => nodes.map(node => node.src)")
    assert scripts
    assert not any("costs" in src for src in scripts)
    page.goto(f"{asgi_server}/costs/")
    scripts = page.locator("script[src]").evaluate_all("nodes => nodes.map(node => node.src)")
    assert any("/static/dist/assets/costs-" in src for src in scripts)
