import re

from django.http import HttpRequest
from django.test import Client

from accounts.models import AuditEntry, Invitation, Membership, Role, Workspace
from tests.factories import MembershipFactory, UserFactory


def csrf_from(response) -> str:
    found = re.search(r'name="csrf-token" content="([^"]+)"', response.content.decode())
    assert found, "the page carries no csrf-token meta tag"
    return found.group(1)


def post(client: Client, url: str, data: dict | None = None, **headers):
    token = csrf_from(client.get("/accounts/settings/"))
    return client.post(url, data or {}, headers={"X-CSRFToken": token, **headers})


def test_it_sends_anonymous_visitors_to_sign_in(client):
    response = client.get("/accounts/settings/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_it_lists_the_members_of_the_current_workspace(owner, teammate, outsider, login_as):
    page = login_as(owner).get("/accounts/settings/").content.decode()
    assert "olivia" in page
    assert "ted" in page
    assert "oscar" not in page


def test_it_adds_a_member_who_accepts_an_invitation(owner, login_as):
    newcomer = MembershipFactory(user=UserFactory(username="nina"), role=Role.OWNER)
    response = post(login_as(owner), "/accounts/settings/invitations/", {"invitee": "nina", "role": "reviewer"})
    assert response.status_code == 302
    assert not Membership.objects.filter(user=newcomer.user, workspace=owner.workspace).exists()
    invitation = Invitation.objects.get(workspace=owner.workspace)
    response = post(login_as(newcomer), f"/accounts/invitations/{invitation.pk}/accept/")
    assert response.status_code == 302
    assert Membership.objects.get(user=newcomer.user, workspace=owner.workspace).role == Role.REVIEWER
    entry = AuditEntry.objects.get(action="member.joined")
    assert (entry.actor_label, entry.details["role"], entry.details["invitation"]) == (
        "nina",
        "reviewer",
        invitation.pk,
    )


def test_it_does_not_tell_whether_a_username_exists(owner, login_as):
    client = login_as(owner)
    response = post(client, "/accounts/settings/invitations/", {"invitee": "ghost", "role": "viewer"})
    assert response.status_code == 302
    assert "Invitation sent." in client.get("/accounts/settings/").content.decode()
    assert not AuditEntry.objects.filter(action="member.joined").exists()


def test_it_refuses_to_invite_a_member(owner, teammate, login_as):
    response = post(login_as(owner), "/accounts/settings/invitations/", {"invitee": "ted", "role": "viewer"})
    assert response.status_code == 422
    assert "already a member" in response.content.decode()
    assert Membership.objects.get(pk=teammate.pk).role == Role.EDITOR


def test_it_changes_a_role_and_returns_the_row(owner, teammate, login_as):
    response = post(
        login_as(owner), f"/accounts/settings/members/{teammate.pk}/role/", {"role": "viewer"}, HX_Request="true"
    )
    assert response.status_code == 200
    assert f'id="member-{teammate.pk}"' in response.content.decode()
    assert Membership.objects.get(pk=teammate.pk).role == Role.VIEWER
    entry = AuditEntry.objects.get(action="member.role_changed")
    assert entry.details == {"old": "editor", "new": "viewer"}


def test_it_keeps_at_least_one_owner(owner, login_as):
    response = post(login_as(owner), f"/accounts/settings/members/{owner.pk}/role/", {"role": "viewer"})
    assert response.status_code == 422
    assert "at least one owner" in response.content.decode()
    assert Membership.objects.get(pk=owner.pk).role == Role.OWNER
    response = post(login_as(owner), f"/accounts/settings/members/{owner.pk}/remove/")
    assert response.status_code == 422
    assert Membership.objects.filter(pk=owner.pk).exists()


def test_it_removes_a_member(owner, teammate, login_as):
    response = post(login_as(owner), f"/accounts/settings/members/{teammate.pk}/remove/")
    assert response.status_code == 200
    assert not Membership.objects.filter(pk=teammate.pk).exists()
    assert AuditEntry.objects.get(action="member.removed").details == {"username": "ted"}


def test_it_forbids_non_owners_to_manage_members(owner, teammate, login_as):
    client = login_as(teammate)
    assert post(client, f"/accounts/settings/members/{owner.pk}/role/", {"role": "viewer"}).status_code == 403
    assert post(client, "/accounts/settings/invitations/", {"invitee": "olivia", "role": "viewer"}).status_code == 403
    assert Membership.objects.get(pk=owner.pk).role == Role.OWNER


def test_it_answers_404_for_another_workspaces_member(owner, outsider, login_as):
    client = login_as(outsider)
    assert post(client, f"/accounts/settings/members/{owner.pk}/role/", {"role": "viewer"}).status_code == 404
    assert post(client, f"/accounts/settings/members/{owner.pk}/remove/").status_code == 404
    assert Membership.objects.get(pk=owner.pk).role == Role.OWNER


def test_it_rejects_a_session_write_without_a_csrf_token(owner, teammate, login_as):
    response = login_as(owner).post(f"/accounts/settings/members/{teammate.pk}/role/", {"role": "viewer"})
    assert response.status_code == 403
    assert Membership.objects.get(pk=teammate.pk).role == Role.EDITOR


def test_it_creates_a_workspace_owned_by_its_creator(teammate, login_as):
    client = login_as(teammate)
    response = post(client, "/accounts/workspaces/", {"name": "Billing team"})
    assert response.status_code == 302
    created = Workspace.objects.get(name="Billing team")
    assert created.slug == "billing-team"
    assert Membership.objects.get(workspace=created, user=teammate.user).role == Role.OWNER
    assert "Billing team" in client.get("/accounts/settings/").content.decode().split("<main")[1][:400]


def test_it_switches_to_another_of_my_workspaces(owner, login_as):
    second = MembershipFactory(user=owner.user, role=Role.VIEWER)
    client = login_as(owner)
    response = post(client, f"/accounts/workspaces/{second.workspace_id}/switch/", {"next": "/runs/"})
    assert response["Location"] == "/runs/"
    assert second.workspace.name in client.get("/runs/").content.decode()


def test_it_refuses_to_switch_into_a_foreign_workspace_or_off_site(owner, outsider, login_as):
    client = login_as(owner)
    assert post(client, f"/accounts/workspaces/{outsider.workspace_id}/switch/").status_code == 404
    response = post(client, f"/accounts/workspaces/{owner.workspace_id}/switch/", {"next": "https://evil.example/"})
    assert response["Location"] == "/"


def test_it_shows_the_audit_log_to_owners_only(owner, teammate, login_as):
    post(login_as(owner), f"/accounts/settings/members/{teammate.pk}/role/", {"role": "viewer"})
    page = login_as(owner).get("/accounts/settings/audit/?action=member.")
    assert page.status_code == 200
    assert "member.role_changed" in page.content.decode()
    assert login_as(teammate).get("/accounts/settings/audit/").status_code == 403


def test_it_offers_a_workspace_to_a_user_without_one(db, client):
    UserFactory(username="solo")
    from tests.factories import PASSWORD

    assert client.login(request=HttpRequest(), username="solo", password=PASSWORD)
    assert "You are not in a workspace yet" in client.get("/accounts/settings/").content.decode()
    assert client.get("/workflows/").status_code == 404


def test_it_renders_every_section_of_the_navigation(owner, login_as):
    client = login_as(owner)
    for url, heading in [
        ("/workflows/", "Workflows"),
        ("/runs/", "Runs"),
        ("/inbox/", "Inbox"),
        ("/knowledge/", "Knowledge"),
        ("/datasets/", "Datasets"),
        ("/costs/", "Costs"),
        ("/accounts/settings/", "Settings"),
    ]:
        page = client.get(url).content.decode()
        assert f"<h1>{heading}</h1>" in page, url
        assert f'aria-current="page">{heading}</a>' in page, url


def test_it_sends_a_content_security_policy(owner, login_as):
    response = login_as(owner).get("/workflows/")
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-eval" not in policy
