"""The owners' network settings page: the private destinations nodes may reach, and the webhook signing secret."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import record
from accounts.models import Workspace
from accounts.permissions import Action, require
from accounts.views import current_membership
from engine.webhooks import signing_secret
from integrations.forms import AllowlistForm


@login_required
@require_http_methods(["GET", "POST"])
def network_settings(request: HttpRequest) -> HttpResponse:
    """Owners choose which private destinations HTTP nodes and callbacks may reach."""
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.MANAGE)
    workspace = me.workspace
    if request.method == "POST":
        form = AllowlistForm(request.POST)
        if form.is_valid():
            old, workspace.http_allowlist = workspace.http_allowlist, form.cleaned_data["entries"]
            workspace.save(update_fields=["http_allowlist"])
            record(
                request.user,
                "workspace.allowlist_changed",
                workspace=workspace,
                target=workspace,
                old=old,
                new=workspace.http_allowlist,
            )
            messages.success(request, "Saved the network allowlist.")
            return redirect("integrations:network-settings")
        context = {"form": form, "webhook_secret": signing_secret(workspace.pk)}
        return render(request, "integrations/network_settings.html", context, status=422)
    form = AllowlistForm(initial={"entries": "\n".join(workspace.http_allowlist)})
    return render(
        request, "integrations/network_settings.html", {"form": form, "webhook_secret": signing_secret(workspace.pk)}
    )


@login_required
@require_POST
def rotate_webhook_secret(request: HttpRequest) -> HttpResponse:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.MANAGE)
    Workspace.objects.filter(pk=me.workspace_id).update(webhook_secret="")
    signing_secret(me.workspace_id)
    record(request.user, "workspace.webhook_secret_rotated", workspace=me.workspace, target=me.workspace)
    messages.success(request, "Made a new webhook signing secret; update your receivers.")
    return redirect("integrations:network-settings")
