"""The comparison page of two eval runs of a workflow: deltas, score charts and row pairs, filtered to regressions."""

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from accounts.permissions import Action, get_for
from builder.models import Workflow
from evals import comparison
from evals.models import LARGEST_KEY, EvalRun


class CompareForm(forms.Form):
    base = forms.IntegerField(min_value=1, max_value=LARGEST_KEY, label="Base eval run")
    candidate = forms.IntegerField(min_value=1, max_value=LARGEST_KEY, label="Candidate eval run")
    only = forms.ChoiceField(required=False, choices=[(key, key) for key in comparison.FILTERS])
    after = forms.IntegerField(required=False, min_value=-1, max_value=LARGEST_KEY, label="After row index")


def runs_of(workflow: Workflow, base_id: int, candidate_id: int) -> tuple[EvalRun, EvalRun]:
    """The two eval runs, both of `workflow`; NotComparable names the one that is not."""
    found = {run.pk: run for run in EvalRun.objects.filter(workflow=workflow, pk__in=[base_id, candidate_id])}
    for name, pk in (("base", base_id), ("candidate", candidate_id)):
        if pk not in found:
            raise comparison.NotComparable(name, f"{workflow.name!r} has no eval run {pk}")
    return found[base_id], found[candidate_id]


@login_required
@require_GET
@vary_on_headers("HX-Request")
def eval_compare(request: HttpRequest, workflow_id: int) -> HttpResponse:
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    form = CompareForm(request.GET)
    context: dict[str, Any] = {"workflow": workflow, "form": form, "problem": None}
    if not form.is_valid():
        return render(request, "evals/compare.html", context, status=422)
    data = form.cleaned_data
    only = data["only"] or "all"
    after = -1 if data["after"] is None else data["after"]
    try:
        base, candidate = runs_of(workflow, data["base"], data["candidate"])
        summary = comparison.summarize(base, candidate)
    except comparison.NotComparable as problem:
        # Still running: the page says so and reloads itself until both runs are scored.
        context.update(problem=f"{problem.field}: {problem}", pending=problem.pending)
        return render(request, "evals/compare.html", context, status=200 if problem.pending else 422)
    rows, more = comparison.row_page(base, candidate, only, after)
    names = [spec["name"] for spec in candidate.scorers]
    context.update(
        summary=summary,
        rows=[(row, row.scores_html(names)) for row in rows],
        names=names,
        only=only,
        after=after,
        next_after=rows[-1].index if more else None,
        charts=comparison.distributions(base, candidate),
        filters=list(comparison.FILTERS),
    )
    template = "evals/compare.html#rows" if request.htmx else "evals/compare.html"  # type: ignore[attr-defined]
    return render(request, template, context)
