"""A month of billed calls in the personas' workspace, and one call in an outsider's."""

import pytest

from tests.costs.billing import Spend, a_month_of_spend


@pytest.fixture
def spend(owner, outsider) -> Spend:
    return a_month_of_spend(owner, outsider)
