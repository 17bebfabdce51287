"""Workflow list page of the current workspace: search, create, import, rename, duplicate, archive, export."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST
from django.views.decorators.vary import vary_on_headers

from accounts.permissions import Action, can, get_for, require
from accounts.views import current_membership, signed_in
from builder import calls, catalogue, transfer, workflows
from builder.models import Workflow, WorkflowVersion
from builder.workflow_forms import CreateForm, ImportForm, RenameForm
from engine import registry
from engine.graph import GraphInvalid
from engine.models import Run
from monitoring.views import run_list_page


def _listed(workspace_id: int, query: str, archived: bool) -> QuerySet[Workflow]:
    latest = WorkflowVersion.objects.filter(workflow=OuterRef("pk")).order_by("-number")
    last_run = Run.objects.filter(workflow_id=OuterRef("pk")).order_by("-created_at")
    found = Workflow.objects.filter(workspace_id=workspace_id, archived_at__isnull=not archived)
    if query:
        found = found.filter(Q(name__icontains=query) | Q(description__icontains=query))
    return found.annotate(
        version=Subquery(latest.values("number")[:1]),
        last_status=Subquery(last_run.values("status")[:1]),
        last_run_at=Subquery(last_run.values("created_at")[:1]),
    )


def _page(request: HttpRequest, status: int = 200, **forms: object) -> HttpResponse:
    """The list as the query string filters it; an htmx request gets only the table."""
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.VIEW)
    query = request.GET.get("q", "").strip()[:200]
    archived = request.GET.get("archived") == "1"
    context = {
        "workflows": _listed(me.workspace_id, query, archived),
        "q": query,
        "archived": archived,
        "filters": request.GET.urlencode(),
        "can_edit": can(request.user, me.workspace_id, Action.EDIT),
        "templates": catalogue.TEMPLATES.values(),
        "create_form": forms.get("create_form") or CreateForm(),
        "import_form": forms.get("import_form") or ImportForm(),
        "import_problems": forms.get("import_problems", []),
        "notice": forms.get("notice", ""),
    }
    template = "builder/workflow_list.html#table" if request.htmx else "builder/workflow_list.html"  # type: ignore[attr-defined]
    return render(request, template, context, status=status)


def _done(request: HttpRequest, notice: str) -> HttpResponse:
    """After a write: htmx swaps in the refreshed table; a plain form post follows the redirect."""
    if request.htmx:  # type: ignore[attr-defined]
        return _page(request, notice=notice)
    messages.success(request, notice)
    filters = request.GET.urlencode()
    return redirect(reverse("builder:workflow-list") + (f"?{filters}" if filters else ""))


@login_required
@require_GET
@vary_on_headers("HX-Request")
def workflow_list(request: HttpRequest) -> HttpResponse:
    return _page(request)


@login_required
@require_POST
def workflow_create(request: HttpRequest) -> HttpResponse:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.EDIT)
    form = CreateForm(request.POST)
    if not form.is_valid():
        return _page(request, status=422, create_form=form)
    template = catalogue.TEMPLATES[form.cleaned_data["template"]]
    workflow = workflows.create_workflow(me.workspace, form.cleaned_data["name"], signed_in(request), template=template)
    messages.success(request, f"Created {workflow.name} from the {template.name} template.")
    return redirect("builder:workflow-designer", workflow.pk)


@login_required
@require_POST
def workflow_import(request: HttpRequest) -> HttpResponse:
    me = current_membership(request)
    require(request.user, me.workspace_id, Action.EDIT)
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return _page(request, status=422, import_form=form)
    try:
        doc = transfer.read_file(form.cleaned_data["file"].read())
        workflow = transfer.import_workflow(me.workspace, doc, by=signed_in(request))
    except GraphInvalid as error:
        return _page(request, status=422, import_form=form, import_problems=error.problems)
    messages.success(request, f"Imported {workflow.name}. Nothing in it has run; publish it when ready.")
    return redirect("builder:workflow-designer", workflow.pk)


@login_required
@require_POST
def workflow_rename(request: HttpRequest, workflow_id: int) -> HttpResponse:
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    form = RenameForm(request.POST)
    if not form.is_valid():
        return _page(request, status=422, notice=f"Not renamed: {form.errors['name'][0]}")
    old = workflow.name
    workflows.rename_workflow(workflow, form.cleaned_data["name"], by=signed_in(request))
    return _done(request, f"Renamed {old} to {workflow.name}.")


@login_required
@require_POST
def workflow_duplicate(request: HttpRequest, workflow_id: int) -> HttpResponse:
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    copy = workflows.duplicate_workflow(workflow, by=signed_in(request))
    return _done(request, f"Duplicated {workflow.name} as {copy.name}.")


@login_required
@require_POST
def workflow_archive(request: HttpRequest, workflow_id: int) -> HttpResponse:
    workflow = get_for(request.user, Workflow, Action.EDIT, pk=workflow_id)
    archive = request.POST.get("archived") != "0"
    workflows.set_archived(workflow, archive, by=signed_in(request))
    return _done(request, f"{'Archived' if archive else 'Unarchived'} {workflow.name}.")


@login_required
@require_GET
def workflow_export(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """The draft, or ?version=N, as a JSON file download."""
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    number = request.GET.get("version", "")
    # There is never a version 0, so a value that is not a number answers 404 like a missing version.
    version = None if not number else int(number) if number.isdigit() else 0
    try:
        doc = transfer.export_workflow(workflow, version)
    except transfer.NoSuchVersion as missing:
        return HttpResponse(str(missing), status=404, content_type="text/plain")
    body = json.dumps(doc.model_dump(), indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="{transfer.export_filename(workflow, version)}"'
    return response


@login_required
@vary_on_headers("HX-Request")
def workflow_runs(request: HttpRequest, workflow_id: int) -> HttpResponse:
    return run_list_page(request, get_for(request.user, Workflow, Action.VIEW, pk=workflow_id))


# The provider and model pickers' suggestions (integrations/provider_api.py).
PROVIDERS_PATH = "/api/v1/providers"


@login_required
def workflow_designer(request: HttpRequest, workflow_id: int) -> HttpResponse:
    """The canvas island; it gets the draft, its revision and the node types inline so it draws at once."""
    workflow = get_for(request.user, Workflow, Action.VIEW, pk=workflow_id)
    boot = {
        "workflow": {"id": workflow.pk, "name": workflow.name, "revision": workflow.draft_revision},
        "graph": workflow.draft,
        "node_types": [kind.describe() for kind in registry.kinds()],
        "sample_input": workflow.sample_input,
        "problems": [problem.as_dict() for problem in calls.problems(workflow, workflow.draft)],
        "providers_url": PROVIDERS_PATH,
    }
    context = {"workflow": workflow, "boot": boot, "can_edit": can(request.user, workflow.workspace_id, Action.EDIT)}
    return render(request, "builder/designer.html", context)
