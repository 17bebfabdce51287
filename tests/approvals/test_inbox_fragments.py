"""The live inbox's htmx requests: the list alone, or the open card alone, picked by the element they swap."""

import pytest

from accounts.models import AuditEntry
from tests.factories import ApprovalRequestFactory

pytestmark = pytest.mark.django_db
HTMX = {"HX-Request": "true"}


def test_it_serves_only_the_list_to_the_live_inbox(owner, login_as):
    approval = ApprovalRequestFactory(workspace=owner.workspace)
    html = login_as(owner).get("/inbox/", headers=HTMX).content.decode()
    assert html.lstrip().startswith('<div id="inbox-list"')
    assert f'id="approval-{approval.pk}"' in html
    assert "<html" not in html


def test_it_serves_the_list_or_the_card_of_an_open_item_by_the_element_swapped(owner, login_as):
    approval = ApprovalRequestFactory(workspace=owner.workspace)
    client = login_as(owner)
    url = f"/inbox/{approval.pk}/"
    listed = client.get(url, headers={**HTMX, "HX-Target": "div#inbox-list"}).content.decode()
    assert listed.lstrip().startswith('<div id="inbox-list"')
    card = client.get(url, headers={**HTMX, "HX-Target": "article#approval-card"}).content.decode()
    assert card.lstrip().startswith('<article id="approval-card"')
    assert approval.title in card
    assert not AuditEntry.objects.filter(action="approval.viewed").exists()

    page = client.get(url)
    assert "<html" in page.content.decode()
    # Browsers cache by address: the page and its fragments share one, so they must vary on the headers.
    assert {"HX-Request", "HX-Target"} <= {header.strip() for header in page["Vary"].split(",")}
    assert AuditEntry.objects.filter(action="approval.viewed").count() == 1
