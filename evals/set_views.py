"""The eval set page's editing forms: adding, changing and removing scorers (htmx swaps the scorers card), and
importing a dataset's rows (the rows card). Editors and owners only; a refusal is shown on the page (422)
naming the field."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.views.decorators.http import require_POST

from accounts.permissions import Action, get_for
from datasets.models import Dataset
from evals import sets
from evals.forms import ImportForm, ScorerForm
from evals.models import EvalSet, Scorer
from evals.scorers import ScorerInvalid, ScorerSpec
from evals.sets import EvalSetInvalid
from evals.views import dataset_choices, set_of, set_page

CARD = "scorers"


def _spec(form: ScorerForm) -> ScorerSpec:
    data = form.cleaned_data
    return ScorerSpec(
        data["name"], data["kind"], data["field"], data["config"], data["threshold"], data["expected_field"]
    )


def _refused(form: Any, refused: EvalSetInvalid | ScorerInvalid) -> None:
    """The refusal on the form field it names (`config.pattern` on config, with its path), else on the form."""
    name = refused.field.split(".")[0]
    message = f"{refused.field}: {refused}" if "." in refused.field else str(refused)
    form.add_error(name if name in form.fields else None, message)


def _saved(request: HttpRequest, eval_set: EvalSet, message: str, card: str = CARD) -> HttpResponse:
    messages.success(request, message)
    if request.htmx:  # type: ignore[attr-defined]
        return set_page(request, eval_set, card=card)
    return redirect("evals:set-detail", eval_set.pk)


@login_required
@require_POST
def scorer_add_view(request: HttpRequest, set_id: int) -> HttpResponse:
    eval_set = set_of(request, set_id, Action.EDIT)
    form = ScorerForm(request.POST)
    if form.is_valid():
        try:
            made = sets.save_scorer(eval_set, _spec(form), request.user)
        except (EvalSetInvalid, ScorerInvalid) as refused:
            _refused(form, refused)
        else:
            return _saved(request, eval_set, f"Added the scorer {made.name}.")
    return set_page(request, eval_set, 422, card=CARD, scorer_form=form)


def _scorer(request: HttpRequest, set_id: int, scorer_id: int) -> tuple[EvalSet, Scorer]:
    eval_set = set_of(request, set_id, Action.EDIT)
    return eval_set, get_object_or_404(Scorer, pk=scorer_id, eval_set=eval_set)


@login_required
@require_POST
def scorer_edit_view(request: HttpRequest, set_id: int, scorer_id: int) -> HttpResponse:
    """Change a scorer: its name, kind, fields, settings and threshold (eval runs already made keep the old one)."""
    eval_set, scorer = _scorer(request, set_id, scorer_id)
    form = ScorerForm(request.POST, prefix=f"scorer-{scorer.pk}")
    if form.is_valid():
        try:
            saved = sets.save_scorer(eval_set, _spec(form), request.user, scorer)
        except (EvalSetInvalid, ScorerInvalid) as refused:
            _refused(form, refused)
        else:
            return _saved(request, eval_set, f"Saved the scorer {saved.name}.")
    return set_page(request, eval_set, 422, card=CARD, editing=scorer.pk, edit_form=form)


@login_required
@require_POST
def scorer_delete_view(request: HttpRequest, set_id: int, scorer_id: int) -> HttpResponse:
    eval_set, scorer = _scorer(request, set_id, scorer_id)
    sets.delete_scorer(scorer, request.user)
    return _saved(request, eval_set, f"Removed the scorer {scorer.name}.")


@login_required
@require_POST
def import_view(request: HttpRequest, set_id: int) -> HttpResponse:
    """Rows from a dataset of the workspace, every one checked against the trigger first (all or none)."""
    eval_set = set_of(request, set_id, Action.EDIT)
    form = ImportForm(request.POST, datasets=dataset_choices(eval_set))
    if form.is_valid():
        dataset = get_for(
            request.user, Dataset, Action.VIEW, pk=form.cleaned_data["dataset"], workspace_id=eval_set.workspace_id
        )
        try:
            made = sets.rows_from_dataset(eval_set, dataset, form.cleaned_data["expected_columns"], request.user)
        except EvalSetInvalid as refused:
            name = {"dataset_id": "dataset"}.get(refused.field, refused.field)
            form.add_error(name if name in form.fields else None, str(refused))
        else:
            return _saved(request, eval_set, f"Added {len(made)} rows from the dataset {dataset.name}.", "rows")
    return set_page(request, eval_set, 422, card="rows", import_form=form)
