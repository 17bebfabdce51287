"""The Quality tab of a workflow: how its published versions do in production, as charts, tables and CSV."""

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from accounts.permissions import Action, get_for
from builder.models import Workflow
from builder.quality import CHARTED, TABLES, QualityQuery, report
from builder.workflow_forms import QualityForm
from costs.views import csv_download
from evals.views import corrections_context


def _query(request: HttpRequest, workflow: Workflow) -> tuple[QualityForm, QualityQuery | None]:
    form = QualityForm(request.GET)
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    return form, QualityQuery(workflow.workspace_id, workflow.pk, data["since"], data["until"], data["bucket"])


@login_required
@require_GET
@vary_on_headers("HX-Request")
def workflow_quality(request: HttpRequest, workflow_id: int) -> HttpResponse:
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    form, query = _query(request, workflow)
    context: dict[str, Any] = {"workflow": workflow, "form": form, "query_string": request.GET.urlencode()}
    if not request.htmx:  # type: ignore[attr-defined]
        context.update(corrections_context(request, workflow))
    if query is not None:
        tables = report(query)
        over_time, versions = tables["over-time"], tables["by-version"]
        context.update(
            query=query,
            by_version=versions,
            over_time=over_time,
            charted=CHARTED,
            chart={
                "over_time": {"headers": over_time.headers, "rows": over_time.rows},
                "by_version": {"headers": versions.headers, "rows": versions.rows},
            },
        )
    template = "builder/workflow_quality.html#report" if request.htmx else "builder/workflow_quality.html"  # type: ignore[attr-defined]
    return render(request, template, context, status=200 if query else 422)


@login_required
@require_GET
def quality_export(request: HttpRequest, workflow_id: int, key: str) -> HttpResponse:
    """One table of the tab as CSV, built by the same code as the table on the page."""
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    if key not in TABLES:
        raise Http404(f"No table {key!r}")
    form, query = _query(request, workflow)
    if query is None:
        problems = "; ".join(f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items())
        return HttpResponse(problems, status=422, content_type="text/plain")
    filename = f"quality-{workflow.pk}-{key}-{query.since}-{query.until}.csv"
    return csv_download(TABLES[key](query), filename)
