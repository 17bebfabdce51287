"""Who an approval may name as assignee: members of the run's workspace whose role may review."""

from collections.abc import Iterable, Iterator

from accounts.models import Membership
from accounts.permissions import Action, roles_allowed


def reviewers(workspace_id: int, user_ids: Iterable[int]) -> set[int]:
    """The ids among `user_ids` of members of the workspace whose role may review."""
    return set(
        Membership.objects.filter(
            workspace_id=workspace_id, user_id__in=list(user_ids), role__in=roles_allowed(Action.REVIEW)
        ).values_list("user_id", flat=True)
    )


def refused(workspace_id: int, user_ids: list[int]) -> Iterator[tuple[int, int]]:
    """(index, user id) of each id that is not a reviewing member.

    The message built from this must read the same for a user who does not exist and for one
    who is not a member, so assignee ids cannot be used to probe for accounts.
    """
    allowed = reviewers(workspace_id, user_ids) if user_ids else set()
    return ((index, user_id) for index, user_id in enumerate(user_ids) if user_id not in allowed)


def refusal_message(user_id: int) -> str:
    return f"User {user_id} is not a member of this workspace with a role that may review (owner or reviewer)"
