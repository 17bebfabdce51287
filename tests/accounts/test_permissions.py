import pytest
from django.core.exceptions import PermissionDenied
from django.http import Http404

from accounts.models import AuditEntry, Membership, Role
from accounts.permissions import Action, can, get_for, require, visible
from tests.factories import MembershipFactory, UserFactory


def test_it_lets_each_role_do_exactly_its_actions(workspace):
    expected = {
        Role.OWNER: {Action.VIEW, Action.EDIT, Action.REVIEW, Action.MANAGE},
        Role.EDITOR: {Action.VIEW, Action.EDIT},
        Role.REVIEWER: {Action.VIEW, Action.REVIEW},
        Role.VIEWER: {Action.VIEW},
    }
    for role, allowed in expected.items():
        member = MembershipFactory(workspace=workspace, role=role)
        assert {action for action in Action if can(member.user, workspace, action)} == allowed, role


def test_it_returns_the_membership_of_an_allowed_user(owner, workspace):
    assert require(owner.user, workspace, Action.MANAGE) == owner


def test_it_hides_the_workspace_from_an_outsider(outsider, workspace):
    with pytest.raises(Http404):
        require(outsider.user, workspace, Action.VIEW)


def test_it_refuses_a_teammate_whose_role_is_too_weak(teammate, workspace):
    with pytest.raises(PermissionDenied, match="Editor"):
        require(teammate.user, workspace, Action.MANAGE)


def test_it_treats_anonymous_users_as_outsiders(workspace):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(Http404):
        require(AnonymousUser(), workspace, Action.VIEW)


def test_it_fetches_a_workspace_object_for_a_member(owner, teammate):
    assert get_for(owner.user, Membership, Action.MANAGE, pk=teammate.pk) == teammate


def test_it_reports_another_workspaces_object_as_missing(outsider, teammate):
    with pytest.raises(Http404):
        get_for(outsider.user, Membership, Action.VIEW, pk=teammate.pk)


def test_it_refuses_a_member_the_action_on_an_object(teammate, owner):
    with pytest.raises(PermissionDenied):
        get_for(teammate.user, Membership, Action.MANAGE, pk=owner.pk)


def test_it_lists_only_objects_of_the_users_workspaces(owner, teammate, outsider):
    assert set(visible(owner.user, Membership)) == {owner, teammate}
    assert set(visible(outsider.user, Membership)) == {outsider}


def test_it_filters_the_list_by_action(owner, teammate):
    reviewer = MembershipFactory(workspace=owner.workspace, role=Role.REVIEWER)
    assert set(visible(reviewer.user, Membership, Action.MANAGE)) == set()
    assert set(visible(owner.user, Membership, Action.MANAGE)) == {owner, teammate, reviewer}


def test_it_works_for_any_workspace_owned_model(owner, outsider):
    """The audit log is scoped the same way as every other workspace object."""
    from accounts.audit import record

    mine = record(owner.user, "test.mine", workspace=owner.workspace)
    theirs = record(outsider.user, "test.theirs", workspace=outsider.workspace)
    assert list(visible(owner.user, AuditEntry.objects.exclude(action__startswith="user."))) == [mine]
    with pytest.raises(Http404):
        get_for(owner.user, AuditEntry, Action.VIEW, pk=theirs.pk)


def test_it_gives_no_rights_to_a_user_without_memberships(workspace):
    loner = UserFactory(username="loner")
    assert not any(can(loner, workspace, action) for action in Action)
