"""What a user does to a workflow, from the list page or the API: create, rename, describe, duplicate, archive."""

import copy
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from accounts.audit import record
from accounts.models import Workspace
from builder.catalogue import Template
from builder.models import Workflow, empty_graph
from engine import graph as graphs

# Drafts may be unfinished, but never a different shape or oversized.
MALFORMED = {"schema", "too_large", "too_deep", "too_many_nodes", "too_many_edges"}


def refuse_malformed(graph: Any) -> None:
    """Raises GraphInvalid when `graph` cannot be a draft at all; unfinished drafts pass."""
    broken = [p for p in graphs.validate(graph) if p.code in MALFORMED]
    if broken:
        raise graphs.GraphInvalid(broken)


@transaction.atomic  # a template's called workflows are made with it, or not at all
def create_workflow(
    workspace: Workspace,
    name: str,
    by: User,
    *,
    description: str = "",
    draft: dict[str, Any] | None = None,
    template: Template | None = None,
) -> Workflow:
    """A new workflow whose draft is the template's graph (with its sample input and the workflows it
    calls), or `draft`, or an empty graph. Raises GraphInvalid, creating nothing, when `draft` is malformed."""
    details: dict[str, Any] = {}
    sample_input: dict[str, Any] = {}
    if template is not None:
        draft, sample_input = template.draft(workspace, name, by), copy.deepcopy(template.sample_input)
        details["template"] = template.slug
    elif draft is None:
        draft = empty_graph()
    else:
        refuse_malformed(draft)
    workflow = Workflow.objects.create(
        workspace=workspace,
        name=name,
        description=description,
        draft=draft,
        sample_input=sample_input,
        created_by=by,
    )
    record(by, "workflow.created", workspace=workspace, target=workflow, **details)
    return workflow


def rename_workflow(workflow: Workflow, name: str, by: User) -> None:
    old = workflow.name
    workflow.name = name
    workflow.save(update_fields=["name", "updated_at"])
    record(by, "workflow.renamed", workspace=workflow.workspace, target=workflow, old=old, new=name)


def describe_workflow(workflow: Workflow, description: str, by: User) -> None:
    workflow.description = description
    workflow.save(update_fields=["description", "updated_at"])
    record(by, "workflow.described", workspace=workflow.workspace, target=workflow)


def duplicate_workflow(workflow: Workflow, by: User) -> Workflow:
    """A new workflow with a copy of the draft; versions and runs stay with the original."""
    duplicate = Workflow.objects.create(
        workspace=workflow.workspace,
        name=f"Copy of {workflow.name}"[:200],
        description=workflow.description,
        draft=workflow.draft,
        created_by=by,
    )
    record(by, "workflow.duplicated", workspace=workflow.workspace, target=duplicate, source=workflow.pk)
    return duplicate


def set_archived(workflow: Workflow, archived: bool, by: User) -> None:
    """Archived workflows leave the list, and their schedules and webhooks start no runs until unarchived."""
    workflow.archived_at = timezone.now() if archived else None
    workflow.save(update_fields=["archived_at", "updated_at"])
    record(
        by, "workflow.archived" if archived else "workflow.unarchived", workspace=workflow.workspace, target=workflow
    )


def offer_as_mcp_tool(workflow: Workflow, offered: bool, by: User) -> None:
    """Offered, its latest published version is a tool at the workspace's MCP endpoint (builder/mcp_tools.py)."""
    workflow.mcp_tool = offered
    workflow.save(update_fields=["mcp_tool", "updated_at"])
    record(
        by,
        "workflow.mcp_tool_on" if offered else "workflow.mcp_tool_off",
        workspace=workflow.workspace,
        target=workflow,
    )
