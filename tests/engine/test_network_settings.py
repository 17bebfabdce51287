from accounts.models import AuditEntry, Workspace


def test_an_owner_sets_the_network_allowlist(owner, login_as):
    client = login_as(owner)
    page = client.get("/accounts/settings/network/")
    assert page.status_code == 200
    response = client.post(
        "/accounts/settings/network/",
        {"entries": "10.0.0.0/8\n\n  billing.internal:8443 \n"},
        headers={"X-CSRFToken": client.csrf_token()},
    )
    assert response.status_code == 302
    assert Workspace.objects.get(pk=owner.workspace_id).http_allowlist == ["10.0.0.0/8", "billing.internal:8443"]
    entry = AuditEntry.objects.get(action="workspace.allowlist_changed")
    assert entry.details == {"old": [], "new": ["10.0.0.0/8", "billing.internal:8443"]}


def test_it_names_a_malformed_entry_and_keeps_the_old_list(owner, login_as):
    Workspace.objects.filter(pk=owner.workspace_id).update(http_allowlist=["10.0.0.1"])
    client = login_as(owner)
    response = client.post(
        "/accounts/settings/network/", {"entries": "10.0.0.0/33"}, headers={"X-CSRFToken": client.csrf_token()}
    )
    assert response.status_code == 422
    assert "10.0.0.0/33" in response.content.decode()
    assert Workspace.objects.get(pk=owner.workspace_id).http_allowlist == ["10.0.0.1"]


def test_only_owners_change_the_allowlist(teammate, login_as):
    client = login_as(teammate)
    assert client.get("/accounts/settings/network/").status_code == 403
    response = client.post(
        "/accounts/settings/network/", {"entries": "10.0.0.1"}, headers={"X-CSRFToken": client.csrf_token()}
    )
    assert response.status_code == 403
    assert Workspace.objects.get(pk=teammate.workspace_id).http_allowlist == []
