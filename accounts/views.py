"""Workspace settings pages: members and roles, switching and creating workspaces, the audit log."""

from typing import cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_GET, require_POST

from accounts import invitations, workspaces
from accounts.forms import InviteForm, RoleForm, WorkspaceForm
from accounts.middleware import SESSION_KEY
from accounts.models import AuditEntry, Membership, Role
from accounts.permissions import Action, get_for, membership, require


def signed_in(request: HttpRequest) -> User:
    """The user of a view behind login_required."""
    return cast(User, request.user)


def current_membership(request: HttpRequest) -> Membership:
    """The membership the request acts in: an API token's workspace, else the session's choice."""
    token_workspace = getattr(request.user, "token_workspace_id", None)
    found = membership(request.user, token_workspace) if token_workspace else getattr(request, "membership", None)
    if found is None:
        raise Http404("You are not a member of any workspace")
    return found


def render_settings(request: HttpRequest, me: Membership, invite_form: InviteForm, status: int = 200) -> HttpResponse:
    members = Membership.objects.filter(workspace_id=me.workspace_id).select_related("user").order_by("user__username")
    is_owner = me.role == Role.OWNER
    context = {
        "members": members,
        "is_owner": is_owner,
        "invite_form": invite_form,
        "sent": invitations.pending_in(me.workspace_id).select_related("invited_by") if is_owner else [],
        "my_invitations": invitations.pending_for(signed_in(request)),
        "workspace_form": WorkspaceForm(),
        "roles": Role.choices,
    }
    return render(request, "accounts/settings.html", context, status=status)


@login_required
@require_GET
def settings_page(request: HttpRequest) -> HttpResponse:
    me = getattr(request, "membership", None)
    if me is None:
        context = {"form": WorkspaceForm(), "my_invitations": invitations.pending_for(signed_in(request))}
        return render(request, "accounts/no_workspace.html", context)
    return render_settings(request, me, InviteForm())


@login_required
@require_POST
def member_role(request: HttpRequest, member_id: int) -> HttpResponse:
    member = get_for(request.user, Membership.objects.select_related("user", "workspace"), Action.MANAGE, pk=member_id)
    form = RoleForm(request.POST)
    error = ""
    if form.is_valid():
        try:
            workspaces.change_role(member, form.cleaned_data["role"], by=signed_in(request))
        except workspaces.MembershipError as problem:
            error = str(problem)
    else:
        error = "Choose one of the listed roles."
    context = {"member": member, "is_owner": True, "roles": Role.choices, "row_error": error}
    return render(request, "accounts/settings.html#member-row", context, status=422 if error else 200)


@login_required
@require_POST
def member_remove(request: HttpRequest, member_id: int) -> HttpResponse:
    member = get_for(request.user, Membership.objects.select_related("user", "workspace"), Action.MANAGE, pk=member_id)
    try:
        workspaces.remove_member(member, by=signed_in(request))
    except workspaces.MembershipError as problem:
        context = {"member": member, "is_owner": True, "roles": Role.choices, "row_error": str(problem)}
        return render(request, "accounts/settings.html#member-row", context, status=422)
    if member.user_id == request.user.pk:
        return HttpResponse(headers={"HX-Redirect": "/"})
    return HttpResponse("")


@login_required
@require_POST
def workspace_create(request: HttpRequest) -> HttpResponse:
    form = WorkspaceForm(request.POST)
    if not form.is_valid():
        messages.error(request, "A workspace needs a name of at most 100 characters.")
        return redirect("accounts:settings")
    workspace = workspaces.create_workspace(form.cleaned_data["name"], owner=signed_in(request))
    request.session[SESSION_KEY] = workspace.pk  # create_workspace marked it used
    messages.success(request, f"Created {workspace.name}; you are its owner.")
    return redirect("accounts:settings")


@login_required
@require_POST
def workspace_switch(request: HttpRequest, workspace_id: int) -> HttpResponse:
    member = require(request.user, workspace_id, Action.VIEW)
    request.session[SESSION_KEY] = member.workspace_id
    workspaces.mark_used(member)
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(target)
    return redirect("home")


@login_required
@require_GET
def audit_log(request: HttpRequest) -> HttpResponse:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.MANAGE)
    entries = AuditEntry.objects.filter(workspace_id=me.workspace_id)
    action = request.GET.get("action", "").strip()
    if action:
        entries = entries.filter(action__startswith=action)
    page = Paginator(entries, 50).get_page(request.GET.get("page"))
    return render(request, "accounts/audit.html", {"page": page, "action": action})
