"""Settings → API tokens: create (the secret is shown once), list, revoke."""

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from accounts import tokens
from accounts.forms import TokenForm
from accounts.models import ApiToken, Role
from accounts.permissions import Action, require
from accounts.views import current_membership, signed_in


def _page(request: HttpRequest, form: TokenForm, secret: str = "", status: int = 200) -> HttpResponse:
    me = current_membership(request)
    listed = ApiToken.objects.filter(workspace_id=me.workspace_id).select_related("user")
    if me.role != Role.OWNER:
        listed = listed.filter(user_id=me.user_id)
    context = {"form": form, "tokens": listed, "secret": secret, "is_owner": me.role == Role.OWNER}
    return render(request, "accounts/tokens.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def token_list(request: HttpRequest) -> HttpResponse:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.VIEW)
    if request.method == "GET":
        return _page(request, TokenForm())
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _page(request, form, status=422)
    days = form.cleaned_data["expires_in_days"]
    expires = timezone.now() + timedelta(days=days) if days else None
    issued = tokens.issue(
        me.workspace, signed_in(request), form.cleaned_data["name"], form.cleaned_data["scopes"], expires
    )
    return _page(request, TokenForm(), secret=issued.secret, status=201)


@login_required
@require_POST
def token_revoke(request: HttpRequest, token_id: int) -> HttpResponse:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.VIEW)
    token = ApiToken.objects.filter(pk=token_id, workspace_id=me.workspace_id).first()
    if token is None or (me.role != Role.OWNER and token.user_id != me.user_id):
        raise Http404("No such token")
    tokens.revoke(token, by=signed_in(request))
    messages.success(request, f"Revoked {token.name}.")
    return redirect("accounts:tokens")
