"""Publishing a workflow's draft and starting runs pinned to a version."""

from typing import Any

from django.contrib.auth.models import User
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import F, Max, OuterRef, QuerySet, Subquery
from django.utils import timezone

from accounts.audit import record
from builder import calls
from builder.models import Workflow, WorkflowVersion
from engine import graph as graphs
from engine.models import Run
from engine.runs import Options, RunSource, start_run


class NothingPublished(Exception):
    pass


@transaction.atomic
def publish_version(workflow: Workflow, note: str, by: User | None) -> WorkflowVersion:
    """Freeze the draft as the next version; raises GraphInvalid if the draft does not validate or calls itself."""
    problems = calls.problems(workflow, workflow.draft)
    if problems:
        raise graphs.GraphInvalid(problems)
    Workflow.objects.select_for_update().filter(pk=workflow.pk).first()
    number = (workflow.versions.aggregate(top=Max("number"))["top"] or 0) + 1
    version = WorkflowVersion.objects.create(
        workflow=workflow, number=number, graph=workflow.draft, note=note, created_by=by
    )
    record(by, "workflow.published", workspace=workflow.workspace, target=version, number=number, note=note)
    return version


@transaction.atomic
def restore_version(workflow: Workflow, version: WorkflowVersion, by: User | None) -> None:
    """Copy a version back into the draft. The revision moves on, so a designer still holding the
    old draft gets a 409 on its next save instead of silently overwriting the restore."""
    Workflow.objects.filter(pk=workflow.pk).update(
        draft=version.graph, draft_revision=F("draft_revision") + 1, updated_at=timezone.now()
    )
    workflow.refresh_from_db(fields=["draft", "draft_revision", "updated_at"])
    record(by, "workflow.restored", workspace=workflow.workspace, target=workflow, number=version.number)


def _callbacks(workflow: Workflow, extra: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(url for url in (workflow.completion_url, *extra) if url)


def run_version(version: WorkflowVersion, input: Any, options: Options, callback_urls: tuple[str, ...] = ()) -> Run:
    workflow = version.workflow
    source = RunSource(
        workspace_id=workflow.workspace_id,
        # Read when first needed: a version this process validated before is not read again (with_latest).
        graph=lambda: version.graph,
        workflow_id=workflow.pk,
        workflow_name=workflow.name,
        version_id=version.pk,
        version_number=version.number,
        callback_urls=_callbacks(workflow, callback_urls),
    )
    return start_run(source, input, options)


def with_latest(workflows: QuerySet[Workflow]) -> QuerySet[Workflow]:
    """`workflows` with their latest version's id and number read in the same query: run_latest then needs no
    query of its own (the API trigger's path, docs/benchmarks.md). Not its graph: a process reads a version's
    graph once, the first time it runs it (graphs.of_version)."""
    latest = WorkflowVersion.objects.filter(workflow=OuterRef("pk")).order_by("-number")
    return workflows.annotate(
        latest_id=Subquery(latest.values("pk")[:1]),
        latest_number=Subquery(latest.values("number")[:1]),
    )


def _latest(workflow: Workflow) -> WorkflowVersion | None:
    if not hasattr(workflow, "latest_id"):
        return workflow.latest_version()
    if workflow.latest_id is None:
        return None
    # Only what run_version reads: a version is never edited, so these are its columns as stored. Its graph is
    # left deferred: read from the database if this process has not validated the version yet.
    values = [workflow.latest_id, workflow.pk, workflow.latest_number]  # type: ignore[attr-defined]
    version = WorkflowVersion.from_db(DEFAULT_DB_ALIAS, ["id", "workflow_id", "number"], values)
    version.workflow = workflow
    return version


def run_latest(workflow: Workflow, input: Any, options: Options, callback_urls: tuple[str, ...] = ()) -> Run:
    """A run of the latest published version (read with the workflow if it came through with_latest)."""
    version = _latest(workflow)
    if version is None:
        raise NothingPublished(f"{workflow.name!r} has no published version yet")
    return run_version(version, input, options, callback_urls)


def run_draft(workflow: Workflow, input: Any, options: Options, callback_urls: tuple[str, ...] = ()) -> Run:
    """A test run of the draft as it is now; it keeps its own copy of the graph."""
    source = RunSource(
        workspace_id=workflow.workspace_id,
        graph=workflow.draft,
        workflow_id=workflow.pk,
        workflow_name=workflow.name,
        callback_urls=_callbacks(workflow, callback_urls),
    )
    options.is_test = True
    return start_run(source, input, options)
