"""Invitations: nobody joins a workspace without accepting, and the owner cannot tell who has an account."""

import re
from datetime import timedelta

from django.contrib.auth.models import User
from django.http import HttpRequest
from django.test import Client
from django.utils import timezone

from accounts import tokens
from accounts.models import AuditEntry, Invitation, InvitationStatus, Membership, Role, Scope
from tests.conftest import SessionClient
from tests.factories import PASSWORD, MembershipFactory, UserFactory


def sign_in(user: User) -> SessionClient:
    client = SessionClient(enforce_csrf_checks=True)
    assert client.login(request=HttpRequest(), username=user.username, password=PASSWORD)
    return client


def invite(client, invitee: str, role: str = "viewer"):
    return client.post_form("/accounts/settings/invitations/", {"invitee": invitee, "role": role})


def invite_over_api(client, workspace_id: int, **body):
    return client.post_json(f"/api/v1/workspaces/{workspace_id}/invitations", body)


def workspace_names(client) -> list[str]:
    return [w["name"] for w in client.get("/api/v1/workspaces").json()]


def flash(client) -> list[str]:
    page = client.get("/accounts/settings/").content.decode()
    return re.findall(r'<li class="flash-[a-z]+">([^<]*)</li>', page)


def test_it_makes_a_member_only_when_the_invitee_accepts(owner, outsider, login_as):
    assert invite(login_as(owner), "oscar", "reviewer").status_code == 302
    assert not Membership.objects.filter(workspace=owner.workspace, user=outsider.user).exists()

    oscar = login_as(outsider)
    assert "Support" not in workspace_names(oscar)
    assert f"/accounts/workspaces/{owner.workspace_id}/switch/" not in oscar.get("/workflows/").content.decode()
    assert "Support" in oscar.get("/accounts/invitations/").content.decode()
    [offer] = oscar.get("/api/v1/invitations").json()
    assert (offer["workspace_name"], offer["role"], offer["invited_by"]) == ("Support", "reviewer", "olivia")

    response = oscar.post_form(f"/accounts/invitations/{offer['id']}/accept/")
    assert response.status_code == 302
    assert Membership.objects.get(workspace=owner.workspace, user=outsider.user).role == Role.REVIEWER
    assert "Support" in workspace_names(oscar)
    assert oscar.get("/api/v1/invitations").json() == []
    trail = AuditEntry.objects.filter(workspace=owner.workspace).order_by("id")
    assert [(e.action, e.actor_label) for e in trail] == [
        ("invitation.created", "olivia"),
        ("invitation.accepted", "oscar"),
        ("member.joined", "oscar"),
    ]
    assert trail[0].details == {"invitee": "oscar", "role": "reviewer"}


def test_it_leaves_everything_as_it_was_when_the_invitee_declines(owner, outsider, login_as):
    invite(login_as(owner), "oscar", "editor")
    oscar = login_as(outsider)
    [offer] = oscar.get("/api/v1/invitations").json()

    assert oscar.post_json(f"/api/v1/invitations/{offer['id']}/decline").status_code == 204
    assert oscar.get("/api/v1/invitations").json() == []
    assert oscar.post_json(f"/api/v1/invitations/{offer['id']}/accept").status_code == 404
    assert not Membership.objects.filter(workspace=owner.workspace, user=outsider.user).exists()
    assert "Support" not in workspace_names(oscar)
    assert Invitation.objects.get().status == InvitationStatus.DECLINED
    assert AuditEntry.objects.filter(action="invitation.declined", actor_label="oscar").count() == 1


def test_it_refuses_anyone_but_the_invitee(owner, teammate, outsider, login_as):
    invite(login_as(owner), "oscar", "owner")
    invitation = Invitation.objects.get()
    mallory = MembershipFactory(user=UserFactory(username="mallory"), role=Role.OWNER)
    for intruder in (login_as(mallory), login_as(teammate), login_as(owner)):
        assert intruder.get("/api/v1/invitations").json() == []
        assert intruder.post_json(f"/api/v1/invitations/{invitation.pk}/accept").status_code == 404
        assert intruder.post_form(f"/accounts/invitations/{invitation.pk}/accept/").status_code == 404
        assert intruder.post_form(f"/accounts/invitations/{invitation.pk}/decline/").status_code == 404
    assert Invitation.objects.get().status == InvitationStatus.PENDING
    assert not Membership.objects.filter(workspace=owner.workspace, user=mallory.user).exists()
    assert Membership.objects.get(pk=teammate.pk).role == Role.EDITOR


def test_it_answers_the_same_for_unknown_and_existing_people(owner, outsider, login_as):
    client = login_as(owner)
    assert invite(client, "oscar").status_code == invite(client, "nobody-here").status_code == 302
    assert invite(client, "oscar@example.com").status_code == invite(client, "nobody@example.com").status_code == 302
    client.get("/accounts/settings/")  # consume the flash of the page form
    answers = [
        invite_over_api(client, owner.workspace_id, **who)
        for who in (
            {"username": "oscar"},
            {"username": "ghost"},
            {"email": "oscar@example.com"},
            {"email": "ghost@example.com"},
        )
    ]
    assert {a.status_code for a in answers} == {201}
    shapes = [
        {k: v for k, v in a.json().items() if k not in {"id", "invitee", "created_at", "expires_at"}} for a in answers
    ]
    assert all(shape == shapes[0] for shape in shapes)
    assert shapes[0]["message"] == "Invitation sent"


def test_it_shows_the_same_message_on_the_page_for_unknown_and_existing_usernames(owner, outsider, login_as):
    client = login_as(owner)
    invite(client, "oscar")
    known = flash(client)
    invite(client, "ghost")
    assert flash(client) == known == ["Invitation sent."]


def test_it_waits_for_an_account_made_later_with_that_username(owner, login_as):
    invite(login_as(owner), "later")
    newcomer = sign_in(UserFactory(username="later"))
    [offer] = newcomer.get("/api/v1/invitations").json()
    joined = newcomer.post_json(f"/api/v1/invitations/{offer['id']}/accept")
    assert joined.status_code == 200
    assert (joined.json()["name"], joined.json()["role"]) == ("Support", "viewer")


def test_it_invites_by_email_the_account_with_that_address(owner, outsider, login_as):
    sent = invite_over_api(login_as(owner), owner.workspace_id, email="OSCAR@example.com", role="editor")
    assert sent.status_code == 201
    oscar = login_as(outsider)
    [offer] = oscar.get("/api/v1/invitations").json()
    assert oscar.post_json(f"/api/v1/invitations/{offer['id']}/accept").json()["role"] == "editor"
    assert Membership.objects.get(workspace=owner.workspace, user=outsider.user).role == Role.EDITOR


def test_it_binds_a_username_invitation_to_that_account(owner, outsider, login_as):
    """Renaming another account to the invited username later does not pass the invitation on."""
    invite(login_as(owner), "oscar")
    User.objects.filter(pk=outsider.user_id).update(username="oscar-renamed")
    impostor = sign_in(UserFactory(username="oscar"))
    assert impostor.get("/api/v1/invitations").json() == []


def test_it_lets_owners_revoke(owner, teammate, outsider, login_as):
    invite(login_as(owner), "oscar")
    invitation = Invitation.objects.get()
    url = f"/api/v1/workspaces/{owner.workspace_id}/invitations/{invitation.pk}"
    editor = login_as(teammate)
    assert editor.delete(url, headers={"X-CSRFToken": editor.csrf_token()}).status_code == 403
    stranger = login_as(outsider)
    assert stranger.delete(url, headers={"X-CSRFToken": stranger.csrf_token()}).status_code == 404
    listed = login_as(owner).get(f"/api/v1/workspaces/{owner.workspace_id}/invitations").json()
    assert [(i["invitee"], i["status"]) for i in listed] == [("oscar", "pending")]

    response = login_as(owner).post_form(f"/accounts/settings/invitations/{invitation.pk}/revoke/")
    assert response.status_code == 302
    assert Invitation.objects.get().status == InvitationStatus.REVOKED
    oscar = login_as(outsider)
    assert oscar.get("/api/v1/invitations").json() == []
    assert oscar.post_json(f"/api/v1/invitations/{invitation.pk}/accept").status_code == 404
    assert AuditEntry.objects.filter(action="invitation.revoked", actor_label="olivia").count() == 1


def test_it_lets_only_owners_invite(owner, teammate, login_as):
    editor = login_as(teammate)
    assert invite(editor, "oscar").status_code == 403
    assert invite_over_api(editor, owner.workspace_id, username="oscar").status_code == 403
    assert not Invitation.objects.exists()


def test_it_expires_invitations(owner, outsider, login_as):
    invite(login_as(owner), "oscar")
    invitation = Invitation.objects.get()
    assert timedelta(days=13) < invitation.expires_at - timezone.now() <= timedelta(days=14)
    Invitation.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    oscar = login_as(outsider)
    assert oscar.get("/api/v1/invitations").json() == []
    assert oscar.post_json(f"/api/v1/invitations/{invitation.pk}/accept").status_code == 404


def test_it_names_the_field_of_a_bad_invitation(owner, teammate, login_as):
    client = login_as(owner)
    nobody = invite_over_api(client, owner.workspace_id, role="viewer")
    assert nobody.status_code == 422
    assert nobody.json()["error"]["message"].startswith("body.username:")
    bad_address = invite_over_api(client, owner.workspace_id, email="not-an-address")
    assert bad_address.status_code == 422
    assert bad_address.json()["error"]["message"].startswith("body.email:")
    bad_role = invite_over_api(client, owner.workspace_id, username="oscar", role="king")
    assert bad_role.status_code == 422
    assert bad_role.json()["error"]["details"]["problems"][0]["path"] == "body.role"
    member = invite(client, "ted")
    assert member.status_code == 422
    assert "already a member" in member.content.decode()
    assert not Invitation.objects.exists()


def test_it_keeps_api_tokens_out_of_invitations(owner, outsider):
    issued = tokens.issue(owner.workspace, owner.user, "ci", list(Scope.values), None)
    response = Client().post(
        f"/api/v1/workspaces/{owner.workspace_id}/invitations",
        {"username": "oscar", "role": "owner"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {issued.secret}"},
    )
    assert response.status_code == 403
    assert not Invitation.objects.exists()


def test_it_takes_someone_with_invitations_to_them_after_sign_in(owner, outsider, login_as):
    invite(login_as(owner), "oscar")
    response = Client().post("/accounts/login/", {"username": "oscar", "password": PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == "/accounts/invitations/"
