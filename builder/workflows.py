"""What a user does to a workflow from the list page: create, rename, duplicate, archive."""

import copy

from django.contrib.auth.models import User
from django.utils import timezone

from accounts.audit import record
from accounts.models import Workspace
from builder.catalogue import Template
from builder.models import Workflow


def create_workflow(workspace: Workspace, name: str, template: Template, by: User) -> Workflow:
    workflow = Workflow.objects.create(
        workspace=workspace,
        name=name,
        draft=template.graph(),
        sample_input=copy.deepcopy(template.sample_input),
        created_by=by,
    )
    record(by, "workflow.created", workspace=workspace, target=workflow, template=template.slug)
    return workflow


def rename_workflow(workflow: Workflow, name: str, by: User) -> None:
    old = workflow.name
    workflow.name = name
    workflow.save(update_fields=["name", "updated_at"])
    record(by, "workflow.renamed", workspace=workflow.workspace, target=workflow, old=old, new=name)


def duplicate_workflow(workflow: Workflow, by: User) -> Workflow:
    """A new workflow with a copy of the draft; versions and runs stay with the original."""
    copy = Workflow.objects.create(
        workspace=workflow.workspace,
        name=f"Copy of {workflow.name}"[:200],
        description=workflow.description,
        draft=workflow.draft,
        created_by=by,
    )
    record(by, "workflow.duplicated", workspace=workflow.workspace, target=copy, source=workflow.pk)
    return copy


def set_archived(workflow: Workflow, archived: bool, by: User) -> None:
    """Archived workflows leave the list, and their schedules and webhooks start no runs until unarchived."""
    workflow.archived_at = timezone.now() if archived else None
    workflow.save(update_fields=["archived_at", "updated_at"])
    record(
        by, "workflow.archived" if archived else "workflow.unarchived", workspace=workflow.workspace, target=workflow
    )
