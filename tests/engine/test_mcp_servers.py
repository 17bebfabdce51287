"""MCP server registrations over the API and the owners' page: URLs are guarded, headers write-only and encrypted."""

import json
from collections.abc import Iterator

import pytest

from accounts.models import AuditEntry
from engine import mcp_servers, secrets
from engine.models import McpServer
from tests.factories import McpServerFactory
from tests.fake_mcp import FakeMcpServer

pytestmark = pytest.mark.django_db

SECRET = "Bearer mcp-credential-5521"
SERVER = {"name": "orders", "url": "https://mcp.example.com/mcp", "headers": {"Authorization": SECRET}}


@pytest.fixture(scope="module")
def outside() -> Iterator[FakeMcpServer]:
    server = FakeMcpServer()
    yield server
    server.close()


def write(client, method, url, data=None):
    return client.generic(
        method, url, data=json.dumps(data or {}), content_type="application/json",
        headers={"X-CSRFToken": client.csrf_token()},
    )  # fmt: skip


def test_an_owner_adds_a_server_whose_headers_are_never_returned(owner, login_as):
    client = login_as(owner)

    created = client.post_json("/api/v1/mcp-servers", SERVER)

    assert created.status_code == 201
    assert created.json()["header_names"] == ["Authorization"]
    assert SECRET not in created.content.decode()
    stored = McpServer.objects.get(name="orders")
    assert SECRET not in stored.headers_encrypted
    assert json.loads(secrets.decrypt(stored.headers_encrypted)) == {"Authorization": SECRET}
    assert SECRET not in client.get("/api/v1/mcp-servers").content.decode()
    assert SECRET not in str(AuditEntry.objects.values_list("details", flat=True))


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("http://169.254.169.254/mcp", "metadata"),
        ("http://10.1.2.3/mcp", "private"),
        ("http://127.0.0.1:8000/mcp", "loopback"),
        ("ftp://mcp.example.com/", "http:// or https://"),
    ],
)
def test_it_refuses_a_url_the_guard_refuses_naming_the_field(owner, login_as, url, reason):
    response = login_as(owner).post_json("/api/v1/mcp-servers", {**SERVER, "url": url})

    assert response.status_code == 422
    assert "body.url" in response.json()["error"]["message"]
    assert reason in response.json()["error"]["message"]
    assert not McpServer.objects.exists()


def test_a_bad_header_is_refused_without_quoting_its_value(owner, login_as):
    response = login_as(owner).post_json(
        "/api/v1/mcp-servers", {**SERVER, "headers": {"Host": "evil.example", "X-Key": "a\nb"}}
    )

    assert response.status_code == 422
    assert "body.headers" in response.json()["error"]["message"]
    assert "evil.example" not in response.content.decode()


def test_it_keeps_the_headers_on_a_rename_and_drops_them_when_the_url_moves(owner, login_as):
    server = McpServerFactory(workspace=owner.workspace, url="https://mcp.example.com/mcp", headers={"X-Key": "k-1234"})
    client = login_as(owner)

    renamed = write(client, "PATCH", f"/api/v1/mcp-servers/{server.pk}", {"name": "crm"})
    moved = write(client, "PATCH", f"/api/v1/mcp-servers/{server.pk}", {"url": "https://other.example.com/mcp"})

    assert renamed.json()["header_names"] == ["X-Key"]
    assert moved.json()["header_names"] == []
    server.refresh_from_db()
    assert server.headers_encrypted == ""
    assert mcp_servers.headers_of(server) == {}


def test_the_connection_test_lists_the_tools_or_says_why_not(owner, login_as, outside):
    owner.workspace.http_allowlist = ["127.0.0.1"]
    owner.workspace.save(update_fields=["http_allowlist"])
    good = McpServerFactory(workspace=owner.workspace, url=outside.url)
    down = McpServerFactory(workspace=owner.workspace, url="http://127.0.0.1:9/mcp")
    client = login_as(owner)

    listed = client.post_json(f"/api/v1/mcp-servers/{good.pk}/test").json()
    failed = client.post_json(f"/api/v1/mcp-servers/{down.pk}/test").json()

    assert listed["ok"] is True
    assert listed["error"] is None
    assert {tool["name"] for tool in listed["tools"]} == {"add", "lookup_order", "fail", "hang"}
    assert failed == {"ok": False, "tools": [], "error": f"MCP server {down.name} could not be reached at {down.url}"}


def test_it_hides_another_workspaces_servers(owner, outsider, login_as):
    theirs = McpServerFactory(workspace=outsider.workspace)
    client = login_as(owner)

    assert client.get("/api/v1/mcp-servers").json() == []
    assert write(client, "PATCH", f"/api/v1/mcp-servers/{theirs.pk}", {"name": "mine"}).status_code == 404
    assert client.post_json(f"/api/v1/mcp-servers/{theirs.pk}/test").status_code == 404
    assert write(client, "DELETE", f"/api/v1/mcp-servers/{theirs.pk}").status_code == 404
    assert McpServer.objects.filter(pk=theirs.pk, name=theirs.name).exists()


def test_an_editor_may_not_manage_servers(teammate, login_as):
    response = login_as(teammate).post_json("/api/v1/mcp-servers", SERVER)

    assert response.status_code == 403
    assert not McpServer.objects.exists()


def test_an_owner_adds_tests_and_removes_a_server_on_the_page(owner, login_as, outside):
    owner.workspace.http_allowlist = ["127.0.0.1"]
    owner.workspace.save(update_fields=["http_allowlist"])
    client = login_as(owner)

    saved = client.post_form(
        "/accounts/settings/mcp/",
        {"name": "orders", "url": outside.url, "timeout_s": "10", "headers": f"Authorization: {SECRET}"},
    )
    server = McpServer.objects.get(name="orders")
    page = client.get("/accounts/settings/mcp/").content.decode()
    edit = client.get(f"/accounts/settings/mcp/{server.pk}/").content.decode()
    tested = client.post_form(f"/accounts/settings/mcp/{server.pk}/test/", headers={"HX-Request": "true"})
    removed = client.post_form(f"/accounts/settings/mcp/{server.pk}/delete/")

    assert saved.status_code == 302
    assert "Authorization" in page
    assert SECRET not in page
    assert SECRET not in edit
    assert tested.status_code == 200
    assert "<code>lookup_order</code>" in tested.content.decode()
    assert "<h1>" not in tested.content.decode()
    assert removed.status_code == 302
    assert not McpServer.objects.exists()


def test_the_page_refuses_a_metadata_url_and_does_not_echo_the_headers(owner, login_as):
    response = login_as(owner).post_form(
        "/accounts/settings/mcp/",
        {"name": "x", "url": "http://169.254.169.254/", "timeout_s": "5", "headers": f"Authorization: {SECRET}"},
    )

    assert response.status_code == 422
    assert "metadata" in response.content.decode()
    assert SECRET not in response.content.decode()


def test_an_editor_lists_server_names_and_their_tools_for_an_agent_but_nothing_else(
    teammate, outsider, login_as, outside
):
    teammate.workspace.http_allowlist = ["127.0.0.1"]
    teammate.workspace.save(update_fields=["http_allowlist"])
    server = McpServerFactory(workspace=teammate.workspace, name="orders", url=outside.url)
    theirs = McpServerFactory(workspace=outsider.workspace, name="theirs")
    client = login_as(teammate)

    assert client.get("/api/v1/mcp-servers/names").json() == [{"id": server.pk, "name": "orders"}]
    listed = client.get(f"/api/v1/mcp-servers/{server.pk}/tools").json()
    assert listed["ok"] is True
    assert {tool["name"] for tool in listed["tools"]} == {"add", "lookup_order", "fail", "hang"}
    assert client.get(f"/api/v1/mcp-servers/{theirs.pk}/tools").status_code == 404
    assert client.get("/api/v1/mcp-servers").status_code == 403, "the URLs and header names stay the owners'"
    reader = login_as(outsider)
    assert reader.get("/api/v1/mcp-servers/names").json() == [{"id": theirs.pk, "name": "theirs"}]
