"""The costs page (filters, chart, tables) and its CSV export."""

import csv
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET
from django.views.decorators.vary import vary_on_headers

from accounts.models import Membership
from accounts.permissions import Action, require
from accounts.views import current_membership
from costs.forms import ReportForm
from costs.page import BUILDERS, ReportQuery, report, table
from costs.reports import GROUPINGS, Table
from engine import csv_cells
from engine.models import CostDaily


def member(request: HttpRequest, action: Action = Action.VIEW) -> Membership:
    me = current_membership(request)
    require(request.user, me.workspace_id, action)
    return me


def _query(request: HttpRequest, me: Membership) -> tuple[ReportForm, ReportQuery | None]:
    billed = CostDaily.objects.filter(workspace_id=me.workspace_id)
    workflows = dict(billed.exclude(workflow_id=0).values_list("workflow_id", "workflow_name").distinct())
    models = list(billed.order_by("model").values_list("model", flat=True).distinct())
    form = ReportForm(request.GET, workflows=workflows, models=models)
    if not form.is_valid():
        return form, None
    return form, ReportQuery.from_form(me.workspace_id, form.cleaned_data)


@login_required
@require_GET
@vary_on_headers("HX-Request")
def report_view(request: HttpRequest) -> HttpResponse:
    me = member(request)
    form, query = _query(request, me)
    context: dict[str, Any] = {"form": form, "query_string": request.GET.urlencode()}
    if query is not None:
        tables = report(query)
        over_time = tables["over-time"]
        context.update(
            summary=tables["summary"],
            over_time=over_time,
            chart={"headers": over_time.headers, "rows": over_time.rows},
            per_run=tables["per-run"],
            top_runs=tables["top-runs"],
            groupings=[tables[key] for key in GROUPINGS],
            filters=query.filters,
        )
    template = "costs/report.html#report" if request.htmx else "costs/report.html"  # type: ignore[attr-defined]
    return render(request, template, context, status=200 if query else 422)


@login_required
@require_GET
def export_view(request: HttpRequest, key: str) -> HttpResponse:
    """One table of the page as CSV, built by the same code as the table on the page."""
    me = member(request)
    if key not in BUILDERS:
        raise Http404(f"No table {key!r}")
    form, query = _query(request, me)
    if query is None:
        problems = "; ".join(f"{name}: {' '.join(str(e) for e in errors)}" for name, errors in form.errors.items())
        return HttpResponse(problems, status=422, content_type="text/plain")
    since, until = query.filters.since, query.filters.until
    return csv_download(table(query, key), f"costs-{key}-{since}-{until}.csv")


def csv_download(rows: Table, filename: str) -> HttpResponse:
    """A table as a CSV attachment; the Quality tab's export writes its tables with it too."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    writer = csv.writer(response)
    writer.writerow(rows.headers)
    writer.writerows([csv_cells.inert(cell) for cell in row] for row in rows.rows)
    return response
