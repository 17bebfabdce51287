"""Publishing a workflow together with the called workflows whose drafts have changed.

Only calls to the latest version count (a pinned version is fixed whatever its draft says),
and only workflows of the caller's own workspace are ever looked at.
"""

from collections.abc import Iterable
from dataclasses import dataclass

from django.contrib.auth.models import User
from django.db import transaction

from builder import calls, versions
from builder.models import Workflow, WorkflowVersion
from engine import graph as graphs
from engine.runs.children import called_workflows


@dataclass(frozen=True)
class ChildProblem:
    """A problem of one workflow's draft in a publish of several."""

    workflow_id: int
    workflow_name: str
    path: str
    code: str
    message: str

    def as_dict(self) -> dict[str, object]:
        return {
            "workflow_id": self.workflow_id,
            "workflow": self.workflow_name,
            "path": self.path,
            "code": self.code,
            "message": self.message,
        }


class PublishRefused(Exception):
    """Nothing was published: `problems` names each workflow and path that blocked it."""

    def __init__(self, problems: list[ChildProblem]) -> None:
        super().__init__("; ".join(f"{p.workflow_name!r} {p.path}: {p.message}" for p in problems[:3]))
        self.problems = problems


class NotAChangedChild(ValueError):
    pass


def _latest_calls(workflow: Workflow) -> Iterable[int]:
    draft = workflow.draft if isinstance(workflow.draft, dict) else {}
    return (params["workflow_id"] for _, params in called_workflows(draft) if not params.get("version"))


def _changed(workflow: Workflow) -> bool:
    latest = workflow.latest_version()
    return latest is None or latest.graph != workflow.draft


def changed_children(workflow: Workflow) -> list[Workflow]:
    """Workflows `workflow`'s draft calls as latest, directly or through their own drafts, whose draft
    differs from their latest version (or that were never published); callees before their callers."""
    found: list[Workflow] = []
    seen = {workflow.pk}

    def visit(caller: Workflow) -> None:
        for called_id in _latest_calls(caller):
            if called_id in seen:
                continue
            seen.add(called_id)
            called = Workflow.objects.filter(
                pk=called_id, workspace_id=workflow.workspace_id, archived_at__isnull=True
            ).first()
            if called is None:
                continue  # refused by the caller's own validation
            visit(called)
            if _changed(called):
                found.append(called)

    visit(workflow)
    return found


@transaction.atomic
def publish_with_children(
    workflow: Workflow, note: str, by: User | None, child_ids: Iterable[int]
) -> list[WorkflowVersion]:
    """Publish the chosen changed children (callees first), then `workflow`, all or nothing.

    Raises NotAChangedChild for an id that is not one of `changed_children`, and PublishRefused,
    having published nothing, when any of the drafts has a problem.
    """
    chosen = set(child_ids)
    children = changed_children(workflow)
    unknown = chosen - {child.pk for child in children}
    if unknown:
        ids = ", ".join(str(pk) for pk in sorted(unknown))
        raise NotAChangedChild(f"workflow {ids}: not a workflow this draft calls as latest with unpublished changes")
    published: list[WorkflowVersion] = []
    problems: list[ChildProblem] = []
    # Each one is validated after the ones it calls are published, so the recursion check
    # follows the versions this publish makes; a failure rolls every one of them back.
    for each in [child for child in children if child.pk in chosen] + [workflow]:
        found = calls.problems(each, each.draft)
        problems += [ChildProblem(each.pk, each.name, p.path, p.code, p.message) for p in found]
        if not found:
            each_note = note if each is workflow else f"Published with {workflow.name!r}"
            published.append(versions.publish_version(each, each_note, by))
    if problems:
        raise PublishRefused(problems)
    return published


def problems_with_children(workflow: Workflow, children: list[Workflow]) -> list[graphs.Problem]:
    """The draft's problems once `children` are published: a call to one never published yet is not one."""
    unpublished = {child.pk for child in children if child.latest_version() is None}
    draft = workflow.draft if isinstance(workflow.draft, dict) else {}
    waiting = {
        f"{where}.workflow_id"
        for where, params in called_workflows(draft)
        if params["workflow_id"] in unpublished and not params.get("version")
    }
    return [problem for problem in calls.problems(workflow, workflow.draft) if problem.path not in waiting]
