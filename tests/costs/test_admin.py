"""The Django admin lists cost rows, prices and budgets with filters and search."""

import pytest

from tests.factories import BudgetFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("/admin/engine/costentry/?q=gpt-mini&cached__exact=0", "gpt-mini"),
        ("/admin/engine/costdaily/?q=Refunds", "Refunds"),
        ("/admin/engine/modelprice/?q=gpt-mini", "gpt-mini"),
        ("/admin/engine/budget/?q=Monthly&scope__exact=workspace_month", "Monthly cap"),
    ],
)
def test_it_lists_cost_rows_with_filters_and_search(client, spend, url, shown):
    BudgetFactory(name="Monthly cap")
    admin = UserFactory(username="ada", is_staff=True, is_superuser=True)
    client.force_login(admin)

    response = client.get(url)

    assert response.status_code == 200
    assert shown in response.content.decode()


def test_it_keeps_cost_entries_read_only(client, spend):
    client.force_login(UserFactory(username="ada", is_staff=True, is_superuser=True))
    assert client.get("/admin/engine/costentry/add/").status_code == 403
