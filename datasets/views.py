"""Dataset pages: the list with the upload and paste form, one dataset's rows, build one from earlier runs."""

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.permissions import Action, can, get_for, require
from accounts.views import current_membership
from builder.models import Workflow
from datasets import batches, store
from datasets.forms import BatchForm, DatasetForm, DeleteDatasetForm, FromRunsForm
from datasets.models import Batch, Dataset, Source
from datasets.templatetags.dataset_cells import cell

DETAIL = "datasets/dataset_detail.html"
FROM_RUNS = "datasets/dataset_from_runs.html"
ROWS_PER_PAGE = 50
RUNS_SHOWN = 200


@login_required
@require_http_methods(["GET", "POST"])
def dataset_list_view(request: HttpRequest) -> HttpResponse:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.VIEW)
    form = DatasetForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        require(request.user, me.workspace_id, Action.EDIT)
        if form.is_valid():
            try:
                dataset = _create(request, form.cleaned_data)
            except store.DatasetInvalid as invalid:
                form.add_error(invalid.field if invalid.field in form.fields else None, str(invalid))
            else:
                messages.success(request, f"“{dataset.name}” holds {dataset.row_count:,} rows.")
                return redirect("datasets:dataset-detail", dataset.pk)
        status = 422
    context = {
        "datasets": Dataset.objects.filter(workspace_id=me.workspace_id),
        "batches": Batch.objects.filter(workspace_id=me.workspace_id).select_related("workflow", "version", "run")[:20],
        "form": form,
        "can_edit": can(request.user, me.workspace_id, Action.EDIT),
        "max_rows": store.max_rows(),
        "max_bytes": store.max_file_bytes(),
    }
    return render(request, "datasets/dataset_list.html", context, status=status)


def _create(request: HttpRequest, data: dict[str, Any]) -> Dataset:
    me = current_membership(request)
    spec = store.DatasetSpec(data["name"], data["description"])
    if data["file"]:
        return store.from_upload(me.workspace, spec, data["file"], data["format"], request.user)
    return store.from_text(me.workspace, spec, data["text"], Source(data["paste_format"] or Source.CSV), request.user)


def render_detail(request: HttpRequest, dataset: Dataset, status: int = 200, **forms: Any) -> HttpResponse:
    rows = Paginator(dataset.rows.order_by("position"), ROWS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        "dataset": dataset,
        "rows": rows,
        "table": [(row, [cell(row.data.get(column, "")) for column in dataset.columns]) for row in rows],
        "can_edit": can(request.user, dataset.workspace_id, Action.EDIT),
        "delete_form": forms.get("delete_form") or DeleteDatasetForm(dataset_name=dataset.name),
        "batches": dataset.batches.select_related("workflow", "version", "run")[:20],
        "batch_form": forms.get("batch_form") or BatchForm(versions=batches.version_choices(dataset.workspace_id)),
    }
    # Paging swaps only the table (hx-get on the pager links).
    template = f"{DETAIL}#rows" if request.htmx else DETAIL  # type: ignore[attr-defined]
    return render(request, template, context, status=status)


@login_required
@require_GET
@vary_on_headers("HX-Request")
def dataset_detail_view(request: HttpRequest, dataset_id: int) -> HttpResponse:
    return render_detail(request, get_for(request.user, Dataset, Action.VIEW, pk=dataset_id))


@login_required
@require_POST
def dataset_delete_view(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset = get_for(request.user, Dataset, Action.EDIT, pk=dataset_id)
    form = DeleteDatasetForm(request.POST, dataset_name=dataset.name)
    if not form.is_valid():
        return render_detail(request, dataset, 422, delete_form=form)
    store.delete(dataset, request.user)
    messages.success(request, f"“{form.dataset_name}” and its rows were deleted.")
    return redirect("datasets:dataset-list")


@login_required
@require_http_methods(["GET", "POST"])
@vary_on_headers("HX-Request")
def from_runs_view(request: HttpRequest) -> HttpResponse:
    """Pick a workflow (its recent runs load over htmx), tick the runs whose inputs become rows."""
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.EDIT)
    workflows = list(Workflow.objects.filter(workspace_id=me.workspace_id, archived_at=None).values_list("pk", "name"))
    data = request.POST if request.method == "POST" else None
    chosen = _chosen_workflow(data or request.GET, {pk for pk, _ in workflows})
    runs = store.run_inputs(me.workspace_id, chosen, None, RUNS_SHOWN) if chosen else []
    form = FromRunsForm(data, workflows=workflows, runs=[run.pk for run in runs], initial={"workflow": chosen})
    status = 200
    if data is not None:
        if form.is_valid():
            spec = store.DatasetSpec(form.cleaned_data["name"], form.cleaned_data["description"])
            try:
                dataset = store.from_runs(me.workspace, spec, chosen or 0, form.cleaned_data["runs"], 0, request.user)
            except store.DatasetInvalid as invalid:
                form.add_error("name" if invalid.field == "name" else None, str(invalid))
            else:
                messages.success(request, f"“{dataset.name}” holds the inputs of {dataset.row_count:,} runs.")
                return redirect("datasets:dataset-detail", dataset.pk)
        status = 422
    previews = [(run, cell(run.input)) for run in runs]
    context = {"form": form, "workflows": workflows, "chosen": chosen, "runs": previews}
    template = f"{FROM_RUNS}#runs" if request.htmx and data is None else FROM_RUNS  # type: ignore[attr-defined]
    return render(request, template, context, status=status)


def _chosen_workflow(data: Any, allowed: set[int]) -> int | None:
    try:
        chosen = int(data.get("workflow") or 0)
    except ValueError:
        return None
    return chosen if chosen in allowed else None
