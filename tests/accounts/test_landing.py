"""Where a user lands after signing in: the workspace used last, else the first they had; never by name."""

import re

from django.http import HttpRequest

from accounts.models import Membership, Role
from tests.factories import PASSWORD, MembershipFactory, UserFactory, WorkspaceFactory


def current_workspace(client) -> str:
    found = re.search(r"Workspace <strong>([^<]*)</strong>", client.get("/accounts/settings/").content.decode())
    assert found, "the settings page names no current workspace"
    return found.group(1)


def sign_out_and_in(client, username: str) -> None:
    assert client.post_form("/accounts/logout/").status_code == 302
    assert client.login(request=HttpRequest(), username=username, password=PASSWORD)


def test_it_does_not_land_the_victim_in_an_attackers_workspace_named_to_sort_first(outsider, login_as):
    attacker = MembershipFactory(
        user=UserFactory(username="mallory"), workspace=WorkspaceFactory(name="!Acme"), role=Role.OWNER
    )
    invited = login_as(attacker).post_form("/accounts/settings/invitations/", {"invitee": "oscar", "role": "owner"})
    assert invited.status_code == 302

    victim = login_as(outsider)
    assert current_workspace(victim) == outsider.workspace.name
    assert "!Acme" not in victim.get("/workflows/").content.decode().split("<main")[0]
    assert not Membership.objects.filter(workspace=attacker.workspace, user=outsider.user).exists()


def test_it_lands_in_the_first_workspace_when_none_was_used_yet(db, login_as):
    user = UserFactory(username="vera")
    first = MembershipFactory(user=user, workspace=WorkspaceFactory(name="Zeta"), role=Role.OWNER)
    MembershipFactory(user=user, workspace=WorkspaceFactory(name="!Acme"), role=Role.EDITOR)
    assert current_workspace(login_as(first)) == "Zeta"


def test_it_lands_in_the_workspace_used_last(outsider, login_as):
    """The victim accepts "!Acme", then goes back to their own: the next sign-in lands there."""
    attacker = MembershipFactory(
        user=UserFactory(username="mallory"), workspace=WorkspaceFactory(name="!Acme"), role=Role.OWNER
    )
    login_as(attacker).post_form("/accounts/settings/invitations/", {"invitee": "oscar", "role": "editor"})
    victim = login_as(outsider)
    [offer] = victim.get("/api/v1/invitations").json()
    victim.post_form(f"/accounts/invitations/{offer['id']}/accept/")
    assert current_workspace(victim) == "!Acme"

    victim.post_form(f"/accounts/workspaces/{outsider.workspace_id}/switch/")
    sign_out_and_in(victim, "oscar")
    assert current_workspace(victim) == outsider.workspace.name

    victim.post_form(f"/accounts/workspaces/{attacker.workspace_id}/switch/")
    sign_out_and_in(victim, "oscar")
    assert current_workspace(victim) == "!Acme"


def test_it_lands_in_a_workspace_just_created(teammate, login_as):
    client = login_as(teammate)
    client.post_form("/accounts/workspaces/", {"name": "Billing"})
    sign_out_and_in(client, "ted")
    assert current_workspace(client) == "Billing"
