"""Model prices: the prices in force and their history; owners set a new price from now on."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods

from accounts.audit import record
from accounts.models import Membership, Role
from accounts.permissions import Action
from costs.forms import PriceForm
from costs.views import member
from engine.costs import price_for
from engine.models import ModelPrice


def _page(request: HttpRequest, me: Membership, form: PriceForm | None, status: int = 200) -> HttpResponse:
    history = ModelPrice.objects.filter(Q(workspace_id=me.workspace_id) | Q(workspace__isnull=True))
    history = history.select_related("created_by").order_by("provider_kind", "model", "-effective_from", "-id")
    now = timezone.now()
    pairs = dict.fromkeys((row.provider_kind, row.model) for row in history)
    current = [price for kind, model in pairs if (price := price_for(me.workspace_id, kind, model, now))]
    context = {
        "current": current,
        "history": history,
        "form": form,
        "is_owner": me.role == Role.OWNER,
    }
    return render(request, "costs/prices.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def price_list(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        me = member(request)
        if me.role != Role.OWNER:
            return _page(request, me, None)
        # "Change" links prefill the form with the price they change.
        initial = {key: request.GET[key] for key in PriceForm.Meta.fields if key in request.GET}
        return _page(request, me, PriceForm(initial=initial))
    me = member(request, Action.MANAGE)
    form = PriceForm(request.POST)
    if not form.is_valid():
        return _page(request, me, form, status=422)
    price = form.save(commit=False)
    # A new row, never an edit: calls billed before now keep the price they were billed at.
    price.workspace_id, price.created_by, price.effective_from = me.workspace_id, request.user, timezone.now()
    price.save()
    record(request.user, "price.changed", workspace=me.workspace, target=price)
    messages.success(
        request,
        f"{price.model} now costs ${price.input_per_million} in / ${price.output_per_million} out per million tokens.",
    )
    return redirect("costs:price-list")
