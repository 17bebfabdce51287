"""Model prices: the ones the migrations seed, and a new one added in the Django admin billing the next call."""

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from engine import costs
from engine.models import CostEntry, ModelPrice
from tests.engine.graphs import TRIGGER, chain, generate
from tests.engine.running import node as node_run
from tests.engine.running import start, wait_for
from tests.factories import UserFactory

ADD_PRICE = "/admin/engine/modelprice/add/"


# Not transactional: pytest-django runs these tests before every transactional one, whose
# flush afterwards would empty the table of the rows the migrations seeded.
@pytest.mark.django_db
def test_it_seeds_prices_for_common_models(workspace):
    seeded = {
        (price.provider_kind, price.model): (price.input_per_million, price.output_per_million, price.effective_from)
        for price in ModelPrice.objects.filter(workspace=None)
    }

    since = datetime(2025, 1, 1, tzinfo=UTC)
    assert seeded[("openai_compatible", "gpt-4o-mini")] == (Decimal("0.15"), Decimal("0.60"), since)
    assert seeded[("openai_compatible", "gpt-4.1")] == (Decimal("2.00"), Decimal("8.00"), since)
    assert seeded[("openai_compatible", "text-embedding-3-small")] == (Decimal("0.02"), Decimal(0), since)
    assert seeded[("builtin", "builtin-extractive")] == (Decimal(0), Decimal(0), since)
    found = costs.price_for(workspace.pk, "openai_compatible", "gpt-4o-mini", timezone.now())
    assert costs.cost_of(found, 1_000_000, 1_000_000) == Decimal("0.750000")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_an_admin_adds_a_price_in_the_admin_and_the_next_call_is_billed_at_it(workspace, provider, fake, price):
    client = Client(enforce_csrf_checks=True)
    client.force_login(UserFactory(username="ada", is_staff=True, is_superuser=True))
    form = client.get(ADD_PRICE).content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    since = timezone.now() - timedelta(minutes=1)
    body = {
        "workspace": "",
        "provider_kind": "openai_compatible",
        "model": "gpt-test",
        "input_per_million": "3",
        "output_per_million": "12",
        "effective_from_0": since.strftime("%Y-%m-%d"),
        "effective_from_1": since.strftime("%H:%M:%S"),
    }

    assert client.post(ADD_PRICE, body).status_code == 403  # no CSRF token
    response = client.post(ADD_PRICE, {**body, "csrfmiddlewaretoken": token})

    assert response.status_code == 302, response.content.decode()
    new = ModelPrice.objects.exclude(pk=price.pk).get(model="gpt-test")
    assert (new.workspace_id, new.input_per_million, new.output_per_million) == (None, Decimal(3), Decimal(12))
    assert new.created_by.username == "ada"
    run = wait_for(start(workspace, chain(TRIGGER, generate()), {"body": "hi"}))
    assert run.status == "succeeded", node_run(run, "draft").error
    entry = CostEntry.objects.get(run=run)
    # 1000 tokens in at $3 and 500 out at $12 per million, not at the month-old $2.50 and $10 ($0.0075).
    assert (entry.price_id, entry.cost) == (new.pk, Decimal("0.009000"))
