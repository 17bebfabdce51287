"""Batch pages: start one from a dataset's page, and a batch's page (live progress, results, downloads, retry
failed rows, cancel)."""

from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.permissions import Action, can, get_for
from builder.models import WorkflowVersion
from datasets import batches, results
from datasets.batch_api import download_response
from datasets.forms import BatchForm
from datasets.models import Batch, Dataset
from datasets.views import render_detail

BATCH = "datasets/batch_detail.html"
RESULTS_PER_PAGE = 50


@login_required
@require_POST
def batch_start_view(request: HttpRequest, dataset_id: int) -> HttpResponse:
    dataset = get_for(request.user, Dataset, Action.EDIT, pk=dataset_id)
    form = BatchForm(request.POST, versions=batches.version_choices(dataset.workspace_id))
    if form.is_valid():
        data = form.cleaned_data
        version = WorkflowVersion.objects.select_related("workflow").get(pk=data["version"])
        spec = batches.BatchSpec(dataset, version, data["concurrency"], batches.output_fields(data["output_fields"]))
        try:
            batch = batches.start_batch(spec, request.user)
        except batches.BatchInvalid as invalid:
            form.add_error(invalid.field if invalid.field in form.fields else None, str(invalid))
        else:
            return redirect("datasets:batch-detail", batch.pk)
    return render_detail(request, dataset, 422, batch_form=form)


def _page(request: HttpRequest, batch: Batch) -> dict[str, Any]:
    pages = Paginator(range(batch.row_count), RESULTS_PER_PAGE).get_page(request.GET.get("page"))
    rows = results.results(batch, pages.start_index() - 1, RESULTS_PER_PAGE) if batch.row_count else []
    return {"pages": pages, "rows": rows}


@login_required
@require_GET
@vary_on_headers("HX-Request")
def batch_detail_view(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_for(request.user, Batch.objects.select_related("workflow", "version", "run"), Action.VIEW, pk=batch_id)
    context = {
        "batch": batch,
        "progress": results.progress(batch),
        "can_edit": can(request.user, batch.workspace_id, Action.EDIT),
        **_page(request, batch),
    }
    # While the batch runs, the page polls its live part (progress and the results shown) over htmx.
    template = f"{BATCH}#live" if request.htmx else BATCH  # type: ignore[attr-defined]
    return render(request, template, context)


@login_required
@require_GET
def batch_download_view(request: HttpRequest, batch_id: int, format: str) -> StreamingHttpResponse:
    return download_response(request, get_for(request.user, Batch, Action.VIEW, pk=batch_id), format)


@login_required
@require_POST
def batch_retry_view(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_for(request.user, Batch.objects.select_related("run"), Action.EDIT, pk=batch_id)
    if batches.retry_failed_rows(batch, cast(User, request.user)):
        messages.success(request, "The failed rows run again; the rows that succeeded keep their results.")
    else:
        messages.error(request, "Nothing to retry: the batch is still running or no row failed.")
    return redirect("datasets:batch-detail", batch.pk)


@login_required
@require_POST
def batch_cancel_view(request: HttpRequest, batch_id: int) -> HttpResponse:
    batch = get_for(request.user, Batch, Action.EDIT, pk=batch_id)
    if batches.cancel(batch, cast(User, request.user)):
        messages.success(request, "The batch was cancelled with its running rows.")
    else:
        messages.error(request, "The batch had already ended.")
    return redirect("datasets:batch-detail", batch.pk)
