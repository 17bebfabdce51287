"""The per-workflow MCP tool setting, on the Versions page and over the workflows API."""

import pytest

from accounts.models import Role
from tests.builder.test_mcp_endpoint import LOOKUP, exposed
from tests.factories import MembershipFactory, UserFactory

pytestmark = pytest.mark.django_db


def test_an_editor_offers_a_workflow_as_a_tool_on_its_page_and_over_the_api(teammate, login_as):
    lookup = exposed(teammate, "Order lookup", LOOKUP, mcp_tool=False)
    client = login_as(teammate)

    offered = client.post_form(f"/workflows/{lookup.pk}/mcp-tool/", {"mcp_tool": "1"})
    page = client.get(f"/workflows/{lookup.pk}/versions/").content.decode()
    lookup.refresh_from_db()
    assert offered.status_code == 302
    assert lookup.mcp_tool is True
    assert f"<code>order_lookup_{lookup.pk}</code>" in page

    withdrawn = client.generic(
        "PATCH",
        f"/api/v1/workflows/{lookup.pk}",
        '{"mcp_tool": false}',
        content_type="application/json",
        headers={"X-CSRFToken": client.csrf_token()},
    )
    assert withdrawn.json()["mcp_tool"] is False
    assert withdrawn.json()["mcp_tool_name"] == f"order_lookup_{lookup.pk}"


def test_a_viewer_may_not_offer_a_workflow(owner, login_as):
    viewer = MembershipFactory(workspace=owner.workspace, user=UserFactory(username="val"), role=Role.VIEWER)
    lookup = exposed(owner, "Order lookup", LOOKUP, mcp_tool=False)

    response = login_as(viewer).post_form(f"/workflows/{lookup.pk}/mcp-tool/", {"mcp_tool": "1"})

    lookup.refresh_from_db()
    assert response.status_code == 403
    assert lookup.mcp_tool is False
