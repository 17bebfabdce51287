"""Evaluation pages: a workflow's eval sets and waiting corrections, an eval set (rows, scorers, runs), an eval run
(live progress, aggregates, results), and "add to eval set" on a run's page."""

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.permissions import Action, can, get_for
from builder.models import Workflow, WorkflowVersion
from datasets.models import Dataset
from engine.models import Run
from evals import corrections, eval_runs, results, sets
from evals.forms import (
    AddToSetForm,
    CorrectionsForm,
    EvalRunForm,
    EvalSetForm,
    ImportForm,
    RowsForm,
    ScorerForm,
    scorer_initial,
)
from evals.models import EvalResult, EvalRun, EvalSet, Proposal, ProposalStatus
from evals.scorers import ScorerInvalid
from evals.sets import EvalSetInvalid, NewRow

SET_PAGE = "evals/eval_set.html"
RUN_PAGE = "evals/eval_run.html"
PER_PAGE = 50


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _refusal(form: Any, refused: EvalSetInvalid | ScorerInvalid) -> None:
    form.add_error(refused.field if refused.field in form.fields else None, str(refused))


@login_required
@require_http_methods(["GET", "POST"])
def workflow_evals_view(request: HttpRequest, workflow_id: int) -> HttpResponse:
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    form = EvalSetForm(request.POST or None)
    if request.method == "POST":
        get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
        if form.is_valid():
            data = form.cleaned_data
            try:
                made = sets.create_set(workflow, data["name"], request.user, data["description"])
            except EvalSetInvalid as refused:
                _refusal(form, refused)
            else:
                return redirect("evals:set-detail", made.pk)
    context = {
        "workflow": workflow,
        "eval_sets": workflow.eval_sets.all(),
        "corrections": corrections.setting_of(workflow),
        "proposals": Proposal.objects.filter(workflow=workflow, status=ProposalStatus.PENDING)[:100],
        "form": form,
        "can_edit": can(request.user, workflow.workspace_id, Action.EDIT),
    }
    return render(request, "evals/workflow_evals.html", context, status=422 if form.errors else 200)


def corrections_context(
    request: HttpRequest, workflow: Workflow, form: CorrectionsForm | None = None
) -> dict[str, Any]:
    """What the reviewer-corrections setting shows (on the Quality tab): the setting, and its form for editors."""
    setting = corrections.setting_of(workflow)
    if form is None:
        choices = [(eval_set.pk, eval_set.name) for eval_set in workflow.eval_sets.order_by("name")]
        form = CorrectionsForm(initial={"auto_add": setting.auto_add, "eval_set": setting.eval_set_id}, sets=choices)
    return {
        "workflow": workflow,
        "corrections": setting,
        "corrections_form": form,
        "can_edit_corrections": can(request.user, workflow.workspace_id, Action.EDIT),
    }


@login_required
@require_POST
def corrections_view(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """Change the workflow's reviewer-corrections setting; back to the Quality tab, or the form with what is wrong."""
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    choices = [(eval_set.pk, eval_set.name) for eval_set in workflow.eval_sets.order_by("name")]
    form = CorrectionsForm(request.POST, sets=choices)
    if form.is_valid():
        try:
            data = form.cleaned_data
            corrections.configure(workflow, data["auto_add"], data["eval_set"], _user(request))
        except EvalSetInvalid as refused:
            form.add_error("eval_set" if refused.field == "eval_set_id" else "auto_add", str(refused))
        else:
            messages.success(request, "The reviewer-corrections setting was saved.")
            return redirect("builder:workflow-quality", workflow.pk)
    return render(request, "evals/corrections.html", corrections_context(request, workflow, form), status=422)


def _set_context(request: HttpRequest, eval_set: EvalSet, **forms: Any) -> dict[str, Any]:
    """The eval set page; `forms` holds the bound forms to show again with their errors (`edit_form` for the scorer
    `editing`)."""
    versions = list(eval_set.workflow.versions.order_by("-number").values_list("number", flat=True))
    editing = forms.get("editing")
    scorer_rows = [
        (
            scorer,
            forms["edit_form"]
            if scorer.pk == editing
            else ScorerForm(initial=scorer_initial(scorer), prefix=f"scorer-{scorer.pk}"),
        )
        for scorer in eval_set.scorers.all()
    ]
    return {
        "eval_set": eval_set,
        "workflow": eval_set.workflow,
        "rows": eval_set.rows.all()[:200],
        "row_count": eval_set.rows.count(),
        "scorer_rows": scorer_rows,
        "editing": editing,
        "eval_runs": eval_set.eval_runs.all()[:50],
        "can_edit": can(request.user, eval_set.workspace_id, Action.EDIT),
        "rows_form": forms.get("rows_form") or RowsForm(),
        "import_form": forms.get("import_form") or ImportForm(datasets=dataset_choices(eval_set)),
        "scorer_form": forms.get("scorer_form") or ScorerForm(),
        "run_form": forms.get("run_form") or EvalRunForm(versions=versions),
    }


def dataset_choices(eval_set: EvalSet) -> list[tuple[int, str]]:
    datasets = Dataset.objects.filter(workspace_id=eval_set.workspace_id).order_by("name")[:200]
    return [(found.pk, f"{found.name} ({found.row_count} rows: {', '.join(found.columns)})") for found in datasets]


def set_page(request: HttpRequest, eval_set: EvalSet, status: int = 200, **forms: Any) -> HttpResponse:
    """The eval set page, or for htmx the card named by `card` alone (the part a form there swaps)."""
    card = forms.pop("card", None)
    template = f"{SET_PAGE}#{card}" if card and request.htmx else SET_PAGE  # type: ignore[attr-defined]
    return render(request, template, _set_context(request, eval_set, **forms), status=status)


def set_of(request: HttpRequest, set_id: int, action: Action) -> EvalSet:
    return get_for(request.user, EvalSet.objects.select_related("workflow"), action, pk=set_id)


@login_required
@require_GET
def set_detail_view(request: HttpRequest, set_id: int) -> HttpResponse:
    return render(request, SET_PAGE, _set_context(request, set_of(request, set_id, Action.VIEW)))


@login_required
@require_POST
def set_rows_view(request: HttpRequest, set_id: int) -> HttpResponse:
    eval_set = set_of(request, set_id, Action.EDIT)
    form = RowsForm(request.POST)
    if form.is_valid():
        rows = [NewRow(row["input"], row.get("expected")) for row in form.cleaned_data["rows"]]
        try:
            sets.add_rows(eval_set, rows, request.user)
        except EvalSetInvalid as refused:
            _refusal(form, refused)
        else:
            return redirect("evals:set-detail", eval_set.pk)
    return render(request, SET_PAGE, _set_context(request, eval_set, rows_form=form), status=422)


@login_required
@require_POST
def set_run_view(request: HttpRequest, set_id: int) -> HttpResponse:
    eval_set = set_of(request, set_id, Action.EDIT)
    versions = list(eval_set.workflow.versions.values_list("number", flat=True))
    form = EvalRunForm(request.POST, versions=versions)
    if form.is_valid():
        number = form.cleaned_data["version"]
        version = WorkflowVersion.objects.get(workflow=eval_set.workflow, number=number) if number else None
        try:
            started = eval_runs.start_eval_run(eval_set, version, request.user, form.cleaned_data["concurrency"])
        except EvalSetInvalid as refused:
            form.add_error(None, str(refused))
        else:
            return redirect("evals:run-detail", started.pk)
    return render(request, SET_PAGE, _set_context(request, eval_set, run_form=form), status=422)


@login_required
@require_POST
def proposal_view(request: HttpRequest, proposal_id: int, action: str) -> HttpResponse:
    proposal = get_for(request.user, Proposal, Action.EDIT, pk=proposal_id, status=ProposalStatus.PENDING)
    if action == "dismiss":
        corrections.dismiss(proposal, request.user)
        return redirect("evals:workflow-evals", proposal.workflow_id)
    eval_set = get_for(request.user, EvalSet, Action.EDIT, pk=request.POST.get("eval_set"), workflow=proposal.workflow)
    try:
        corrections.accept(proposal, eval_set, _user(request))
    except EvalSetInvalid as refused:
        messages.error(request, str(refused))
    return redirect("evals:workflow-evals", proposal.workflow_id)


@login_required
@require_GET
@vary_on_headers("HX-Request")
def run_detail_view(request: HttpRequest, eval_run_id: int) -> HttpResponse:
    eval_run = get_for(
        request.user, EvalRun.objects.select_related("eval_set", "workflow"), Action.VIEW, pk=eval_run_id
    )
    pages = Paginator(range(eval_run.row_count), PER_PAGE).get_page(request.GET.get("page"))
    rows = EvalResult.objects.filter(eval_run=eval_run).order_by("index")[pages.start_index() - 1 :][:PER_PAGE]
    context = {
        "eval_run": eval_run,
        "progress": results.progress(eval_run),
        "aggregates": eval_run.aggregates,
        "scorer_names": [scorer["name"] for scorer in eval_run.scorers],
        "pages": pages,
        "rows": rows,
    }
    # Until every row is scored, the page polls its live part (progress, aggregates, the results shown) over htmx.
    template = f"{RUN_PAGE}#live" if request.htmx else RUN_PAGE  # type: ignore[attr-defined]
    return render(request, template, context)


@login_required
@require_GET
def run_download_view(request: HttpRequest, eval_run_id: int) -> StreamingHttpResponse:
    eval_run = get_for(request.user, EvalRun, Action.VIEW, pk=eval_run_id)
    response = StreamingHttpResponse(results.csv_lines(eval_run), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="eval-run-{eval_run.pk}.csv"'
    return response


@login_required
@require_http_methods(["GET", "POST"])
def add_to_set_view(request: HttpRequest, run_id: int) -> HttpResponse:
    """The run page's "add to eval set" form (loaded into it over htmx), and adding the run as a row."""
    run = get_for(request.user, Run, Action.VIEW, pk=run_id)
    in_workspace = EvalSet.objects.filter(workspace_id=run.workspace_id)
    choices = list(in_workspace.filter(workflow_id=run.workflow_id)) if run.workflow_id is not None else []
    form = AddToSetForm(request.POST or None, sets=[(eval_set.pk, eval_set.name) for eval_set in choices])
    if request.method == "POST":
        get_for(request.user, Run, Action.EDIT, pk=run_id)
        if form.is_valid():
            eval_set = get_for(request.user, EvalSet, Action.EDIT, pk=form.cleaned_data["eval_set"])
            try:
                sets.row_from_run(eval_set, run, request.user, form.cleaned_data["expected"])
            except EvalSetInvalid as refused:
                _refusal(form, refused)
            else:
                messages.success(request, f"Run #{run.pk} was added to {eval_set.name!r}.")
                return redirect("monitoring:run-detail", run.pk)
    context = {
        "run": run,
        "form": form,
        "has_sets": bool(choices),
        "can_edit": can(request.user, run.workspace_id, Action.EDIT),
    }
    return render(request, "evals/add_to_set.html", context, status=422 if form.errors else 200)
