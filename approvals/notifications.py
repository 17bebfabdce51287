"""Email to the people an approval request is assigned to, unless they switched it off."""

from django.conf import settings
from django.contrib.auth.models import User
from django.core.mail import send_mass_mail
from django.db.models import Q
from django.urls import reverse

from accounts.models import Membership
from accounts.permissions import Action, roles_allowed
from approvals.models import ApprovalRequest, NotificationSetting


def recipients(request: ApprovalRequest) -> list[User]:
    """Assigned members who may review, have an address and have not opted out."""
    users = [a.user_id for a in request.assignees.all() if a.user_id]
    roles = [a.role for a in request.assignees.all() if a.role]
    members = Membership.objects.filter(
        Q(user_id__in=users) | Q(role__in=roles),
        workspace_id=request.workspace_id,
        role__in=roles_allowed(Action.REVIEW),
    )
    opted_out = NotificationSetting.objects.filter(email_on_approval=False).values("user_id")
    return list(
        User.objects.filter(pk__in=members.values("user_id"), is_active=True)
        .exclude(email="")
        .exclude(pk__in=opted_out)
        .order_by("pk")
    )


def email_assignees(request: ApprovalRequest) -> int:
    # SWITCHYARD_BASE_URL (optional) makes the link absolute; without it the path still tells where to look.
    link = getattr(settings, "SWITCHYARD_BASE_URL", "") + reverse("approvals:item", args=[request.pk])
    subject = f"Review needed: {request.title}"[:150]
    where = request.workflow_name or "a workflow"
    body = (
        f"{where} (run {request.run_id}) is waiting for your decision.\n\n{request.instructions}\n\nOpen it: {link}\n"
    )
    if request.deadline:
        body += f"Decide before {request.deadline:%Y-%m-%d %H:%M} UTC.\n"
    body += "\nYou can switch these emails off in the inbox.\n"
    messages = [(subject, body, settings.DEFAULT_FROM_EMAIL, [user.email]) for user in recipients(request)]
    return send_mass_mail(messages, fail_silently=False) if messages else 0
