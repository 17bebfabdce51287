"""Workflows calling workflows: how the engine finds a called workflow, and the calls a draft may not publish.

The engine resolves the workflow of a subworkflow or for_each node through `resolve`,
registered at startup (engine.runs.children.register_resolver), since the core imports no app.
"""

from typing import Any

from builder.models import Workflow
from engine import graph as graphs
from engine.runs.children import CalledWorkflow, CallRefused, call_problems


def resolve(workspace_id: int, workflow_id: int, version: int | None) -> CalledWorkflow:
    """The workflow's pinned version (or its latest published one when `version` is None); CallRefused says why not."""
    workflow = Workflow.objects.filter(pk=workflow_id, workspace_id=workspace_id).first()
    if workflow is None:
        raise CallRefused(f"there is no workflow {workflow_id} in this workspace")
    if workflow.archived_at is not None:
        raise CallRefused(f"{workflow.name!r} is archived")
    found = workflow.versions.filter(number=version).first() if version else workflow.latest_version()
    if found is None:
        missing = f"no version {version}" if version else "no published version yet"
        raise CallRefused(f"{workflow.name!r} has {missing}")
    return CalledWorkflow(workflow.pk, workflow.name, found.pk, found.number, found.graph)


def problems(workflow: Workflow, graph: Any) -> list[graphs.Problem]:
    """Every problem of `graph` as the draft of `workflow`: validation's, and calls that come back to it."""
    found = graphs.validate(graph, workspace_id=workflow.workspace_id)
    if isinstance(graph, dict) and not any(p.code == "schema" for p in found):
        found += call_problems(workflow.workspace_id, workflow.pk, workflow.name, graph)
    return found
