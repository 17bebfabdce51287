"""The owners' page for workspace secrets: add, rotate and delete; values are write-only."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import record
from accounts.permissions import Action, get_for, require
from accounts.views import current_membership
from engine import workspace_secrets
from engine.models import WorkspaceSecret
from integrations.forms import RotateForm, SecretForm


def _page(request: HttpRequest, form: Form, status: int, rotating: WorkspaceSecret | None = None) -> HttpResponse:
    """The whole page, or for htmx only the card it swaps (`#secrets`)."""
    me = current_membership(request)
    found = WorkspaceSecret.objects.filter(workspace_id=me.workspace_id).select_related("created_by", "updated_by")
    context = {
        "secrets": found,
        "form": form if rotating is None else SecretForm(),
        "rotate_form": form if rotating is not None else RotateForm(),
        "rotating": rotating,
    }
    template = "integrations/secret_settings.html#card" if request.htmx else "integrations/secret_settings.html"  # type: ignore[attr-defined]
    return render(request, template, context, status=status)


def _done(request: HttpRequest, message: str) -> HttpResponse:
    messages.success(request, message)
    if request.htmx:  # type: ignore[attr-defined]
        return _page(request, SecretForm(), 200)
    return redirect("integrations:secret-settings")


@login_required
@require_http_methods(["GET", "POST"])
def secret_settings(request: HttpRequest) -> HttpResponse:
    """The list of secrets (names and dates) and a form that adds one."""
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.MANAGE)
    if request.method != "POST":
        return _page(request, SecretForm(), 200)
    form = SecretForm(request.POST)
    if not form.is_valid():
        return _page(request, form, 422)
    try:
        secret = workspace_secrets.create(
            me.workspace_id,
            form.cleaned_data["name"],
            form.cleaned_data["value"],
            request.user,  # type: ignore[arg-type]
        )
    except workspace_secrets.SecretInvalid as error:
        form.add_error(error.field, error.message)
        return _page(request, form, 422)
    record(request.user, "secret.created", workspace=me.workspace, target=secret, name=secret.name)
    return _done(request, f"Saved the secret {secret.name}. Its value will not be shown again.")


@login_required
@require_POST
def secret_rotate(request: HttpRequest, secret_id: int) -> HttpResponse:
    secret = get_for(request.user, WorkspaceSecret, Action.MANAGE, pk=secret_id)
    form = RotateForm(request.POST)
    if not form.is_valid():
        return _page(request, form, 422, rotating=secret)
    try:
        workspace_secrets.rotate(secret, form.cleaned_data["value"], request.user)  # type: ignore[arg-type]
    except workspace_secrets.SecretInvalid as error:
        form.add_error(error.field, error.message)
        return _page(request, form, 422, rotating=secret)
    record(request.user, "secret.rotated", workspace=secret.workspace, target=secret, name=secret.name)
    return _done(request, f"Replaced the value of {secret.name}.")


@login_required
@require_POST
def secret_delete(request: HttpRequest, secret_id: int) -> HttpResponse:
    secret = get_for(request.user, WorkspaceSecret, Action.MANAGE, pk=secret_id)
    record(request.user, "secret.deleted", workspace=secret.workspace, target=secret, name=secret.name)
    secret.delete()
    return _done(request, f"Deleted the secret {secret.name}. Nodes that use it now fail.")
