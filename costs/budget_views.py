"""The budgets page: where each budget stands this month; owners create, edit and delete them."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.audit import record
from accounts.models import Membership, Role
from accounts.permissions import Action, get_for
from builder.models import Workflow
from costs import spending
from costs.forms import BudgetForm
from costs.views import member
from engine.models import Budget


def _workflows(workspace_id: int) -> dict[int, str]:
    return dict(Workflow.objects.filter(workspace_id=workspace_id).values_list("pk", "name"))


def _page(request: HttpRequest, me: Membership, form: BudgetForm | None, status: int = 200) -> HttpResponse:
    workflows = _workflows(me.workspace_id)
    budgets = list(Budget.objects.filter(workspace_id=me.workspace_id))
    context: dict[str, Any] = {
        "rows": [(status, workflows.get(status.budget.workflow_id or 0)) for status in spending.statuses(budgets)],
        "is_owner": me.role == Role.OWNER,
        "form": form,
    }
    return render(request, "costs/budgets.html", context, status=status)


@login_required
@require_http_methods(["GET", "POST"])
def budget_list(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        me = member(request)
        return _page(request, me, BudgetForm(workflows=_workflows(me.workspace_id)) if me.role == Role.OWNER else None)
    me = member(request, Action.MANAGE)
    form = BudgetForm(request.POST, workflows=_workflows(me.workspace_id))
    if not form.is_valid():
        return _page(request, me, form, status=422)
    budget = form.save(commit=False)
    budget.workspace_id, budget.created_by = me.workspace_id, request.user
    budget.save()
    record(request.user, "budget.created", workspace=me.workspace, target=budget)
    messages.success(request, f"Budget “{budget.name}” created.")
    return redirect("costs:budget-list")


@login_required
@require_http_methods(["GET", "POST"])
def budget_edit(request: HttpRequest, budget_id: int) -> HttpResponse:
    budget = get_for(request.user, Budget, Action.MANAGE, pk=budget_id)
    form = BudgetForm(request.POST or None, instance=budget, workflows=_workflows(budget.workspace_id))
    if request.method == "POST" and form.is_valid():
        form.save()
        record(request.user, "budget.changed", workspace=budget.workspace, target=budget)
        messages.success(request, f"Budget “{budget.name}” saved.")
        return redirect("costs:budget-list")
    status = 422 if request.method == "POST" else 200
    return render(request, "costs/budget_edit.html", {"form": form, "budget": budget}, status=status)


@login_required
@require_POST
def budget_delete(request: HttpRequest, budget_id: int) -> HttpResponse:
    budget = get_for(request.user, Budget, Action.MANAGE, pk=budget_id)
    record(request.user, "budget.deleted", workspace=budget.workspace, target=budget)
    budget.delete()
    messages.success(request, f"Budget “{budget.name}” deleted.")
    return redirect("costs:budget-list")
