"""The review inbox: pending items with counts, one item's card, deciding, claiming, history, email switch."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.audit import record
from accounts.models import Membership
from accounts.permissions import Action, get_for, membership, require
from accounts.views import current_membership
from approvals import cards, decisions, diffs, inbox
from approvals.forms import FIELD_PREFIX, NotificationForm, choice_from
from approvals.models import ApprovalRequest, NotificationSetting


def _member(request: HttpRequest) -> Membership:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.VIEW)
    return me


def _listing(request: HttpRequest, me: Membership, selected: ApprovalRequest | None = None) -> dict[str, Any]:
    form = inbox.InboxForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    scope, sort = data.get("scope") or "all", data.get("sort") or "age"
    page = inbox.inbox_page(me, scope, sort, data.get("page") or 1)
    setting = NotificationSetting.objects.filter(user_id=me.user_id).first()
    query = request.GET.copy()
    query.pop("page", None)
    return {
        "form": form,
        "scope": scope,
        "sort": sort,
        "scopes": inbox.SCOPES,
        "sorts": inbox.SORTS,
        "page": page,
        "counts": inbox.counts(me),
        "selected": selected,
        "query": query.urlencode(),
        "email_on_approval": setting.email_on_approval if setting else True,
    }


def _swapping(request: HttpRequest) -> str:
    """The id of the element an htmx request swaps ("" for a whole page); htmx 4 names it `tag#id` in HX-Target."""
    if not request.htmx:  # type: ignore[attr-defined]
        return ""
    return (request.htmx.target or "").partition("#")[2]  # type: ignore[attr-defined]


@login_required
@require_GET
@vary_on_headers("HX-Request")
def inbox_view(request: HttpRequest) -> HttpResponse:
    me = _member(request)
    context = _listing(request, me)
    status = 200 if context["form"].is_valid() else 422
    # The live inbox re-fetches only its list over htmx (frontend/src/app.ts) when a prompt arrives.
    template = "approvals/inbox.html#list" if request.htmx else "approvals/inbox.html"  # type: ignore[attr-defined]
    return render(request, template, context, status=status)


@login_required
@require_GET
@vary_on_headers("HX-Request", "HX-Target")
def item_view(request: HttpRequest, approval_id: int) -> HttpResponse:
    """The inbox with one item's card; the live inbox (frontend/src/app.ts) swaps in just the list,
    or just the card when the item moved elsewhere (a refresh, not a view: nothing is recorded)."""
    approval = get_for(request.user, ApprovalRequest, Action.VIEW, pk=approval_id)
    me = membership(request.user, approval.workspace_id)
    swapping = _swapping(request)
    if swapping == "inbox-list":
        return render(request, "approvals/inbox.html#list", _listing(request, _member(request), approval))
    if swapping != "approval-card":
        record(request.user, "approval.viewed", workspace=approval.workspace, target=approval)
    context = cards.card(approval, request.user, me)  # type: ignore[arg-type]
    if swapping == "approval-card":
        return render(request, "approvals/inbox.html#card", context)
    return render(request, "approvals/inbox.html", {**_listing(request, _member(request), approval), **context})


@login_required
@require_GET
def tool_call_view(request: HttpRequest, run_id: int, node_id: str, key: str) -> HttpResponse:
    """An agent's proposed tool call (its run, node and `loop.seq` key) as its inbox item: the run trace links here."""
    approval = get_for(request.user, ApprovalRequest, Action.VIEW, run_id=run_id, node_id=node_id, tool_key=key)
    return redirect("approvals:item", approval.pk)


def _deciding(request: HttpRequest, approval_id: int) -> tuple[ApprovalRequest, Membership | None]:
    approval = get_for(request.user, ApprovalRequest, Action.VIEW, pk=approval_id)
    me = membership(request.user, approval.workspace_id)
    reason = decisions.refusal(request.user, me, approval)  # type: ignore[arg-type]
    if reason is not None and approval.is_pending:
        raise PermissionDenied(reason)
    return approval, me


def _again(
    request: HttpRequest, approval: ApprovalRequest, me: Membership | None, error: str, status: int
) -> HttpResponse:
    context = {**_listing(request, _member(request), approval), **cards.card(approval, request.user, me)}  # type: ignore[arg-type]
    return render(request, "approvals/inbox.html", {**context, "error": error}, status=status)


@login_required
@require_POST
def decide_view(request: HttpRequest, approval_id: int) -> HttpResponse:
    approval, me = _deciding(request, approval_id)
    user: User = request.user  # type: ignore[assignment]
    try:
        decided = decisions.decide(approval, user, choice_from(approval, request.POST))
    except decisions.Invalid as invalid:
        return _again(request, approval, me, f"{invalid.field}: {invalid}", 422)
    except decisions.Conflict as conflict:
        approval.refresh_from_db()
        return _again(request, approval, me, str(conflict), 409)
    if decided.is_pending:
        messages.success(
            request, f"Your approval is recorded; {decided.required_approvals - decided.approvals} more needed."
        )
    else:
        messages.success(request, f"{decided.get_status_display()}: {decided.title}")
    following = inbox.ordered(inbox.pending(_member(request)), "age").exclude(pk=decided.pk).first()
    return redirect(reverse("approvals:item", args=[following.pk]) if following else reverse("approvals:inbox"))


@login_required
@require_POST
def claim_view(request: HttpRequest, approval_id: int) -> HttpResponse:
    approval, me = _deciding(request, approval_id)
    try:
        decisions.claim(approval, request.user)  # type: ignore[arg-type]
    except decisions.Conflict as conflict:
        return _again(request, approval, me, str(conflict), 409)
    return redirect("approvals:item", approval.pk)


@login_required
@require_POST
def diff_view(request: HttpRequest, approval_id: int) -> HttpResponse:
    """The draft-versus-edit difference of one field, as the reviewer types (htmx)."""
    approval = get_for(request.user, ApprovalRequest, Action.VIEW, pk=approval_id)
    name = request.GET.get("field", "")
    spec = next((f for f in approval.fields if f["name"] == name), None)
    if spec is None:
        return HttpResponse(f"field: there is no editable field {name!r}", status=422, content_type="text/plain")
    text = request.POST.get(FIELD_PREFIX + name, "").replace("\r\n", "\n")
    draft = spec.get("value")
    segments = diffs.word_diff("" if draft is None else str(draft), text)
    return render(request, "approvals/inbox.html#diff", {"diff": segments, "edited": diffs.changed(segments)})


@login_required
@require_GET
def history_view(request: HttpRequest) -> HttpResponse:
    me = _member(request)
    form = inbox.HistoryForm(request.GET)
    page = inbox.history(me, form.cleaned_data) if form.is_valid() else inbox.Page([], 1, False)
    query = request.GET.copy()
    query.pop("page", None)
    context = {"form": form, "page": page, "query": query.urlencode()}
    return render(request, "approvals/history.html", context, status=200 if form.is_valid() else 422)


@login_required
@require_POST
def notifications_view(request: HttpRequest) -> HttpResponse:
    """Each user switches approval emails on or off for themselves."""
    _member(request)
    form = NotificationForm(request.POST)
    form.is_valid()
    on = bool(form.cleaned_data.get("email_on_approval"))
    NotificationSetting.objects.update_or_create(user_id=request.user.pk, defaults={"email_on_approval": on})
    record(request.user, "approval.notifications_changed", email_on_approval=on)
    messages.success(request, "You will get an email for new review items." if on else "Review emails are off.")
    return redirect("approvals:inbox")
