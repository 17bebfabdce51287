"""Invitation pages: owners invite and revoke in Settings; the invitee accepts or declines; sign-in points at them."""

from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts import invitations, workspaces
from accounts.forms import InviteForm
from accounts.middleware import SESSION_KEY
from accounts.models import Invitation
from accounts.permissions import Action, get_for, require
from accounts.views import current_membership, render_settings, signed_in


class SignInView(auth_views.LoginView):
    """Django's sign-in; someone with invitations waiting is taken to them unless they were going elsewhere."""

    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def get_success_url(self) -> str:
        if not self.get_redirect_url() and invitations.pending_for(signed_in(self.request)).exists():
            return reverse("accounts:invitations")
        return super().get_success_url()


@login_required
@require_POST
def invitation_create(request: HttpRequest) -> HttpResponse:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.MANAGE)
    form = InviteForm(request.POST)
    if form.is_valid():
        try:
            invitations.invite(
                me.workspace, **form.invitee_fields(), role=form.cleaned_data["role"], by=signed_in(request)
            )
        except invitations.InvitationError as error:
            form.add_error("role" if error.field == "role" else "invitee", str(error))
    if not form.is_valid():
        return render_settings(request, me, form, status=422)
    # The same words whether or not the account exists: the page must not tell.
    messages.success(request, f"{invitations.SENT}.")
    return redirect("accounts:settings")


@login_required
@require_POST
def invitation_revoke(request: HttpRequest, invitation_id: int) -> HttpResponse:
    invitation = get_for(request.user, Invitation.objects.select_related("workspace"), Action.MANAGE, pk=invitation_id)
    invitations.revoke(invitation, by=signed_in(request))
    if request.htmx:  # type: ignore[attr-defined]
        return HttpResponse("")
    messages.success(request, f"Revoked the invitation of {invitation.invitee}.")
    return redirect("accounts:settings")


@login_required
@require_GET
def invitation_list(request: HttpRequest) -> HttpResponse:
    return render(request, "accounts/invitations.html", {"my_invitations": invitations.pending_for(signed_in(request))})


@login_required
@require_POST
def invitation_accept(request: HttpRequest, invitation_id: int) -> HttpResponse:
    user = signed_in(request)
    invitation = invitations.find_for(user, invitation_id)
    member = invitations.accept(invitation, user)
    workspaces.mark_used(member)
    request.session[SESSION_KEY] = member.workspace_id
    messages.success(request, f"You joined {invitation.workspace.name} as {member.get_role_display().lower()}.")
    return redirect("home")


@login_required
@require_POST
def invitation_decline(request: HttpRequest, invitation_id: int) -> HttpResponse:
    user = signed_in(request)
    invitation = invitations.find_for(user, invitation_id)
    invitations.decline(invitation, user)
    messages.success(request, f"Declined the invitation to {invitation.workspace.name}.")
    return redirect("accounts:invitations")
