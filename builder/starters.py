"""Workflows every workspace starts with: the support-triage template, runnable offline on the built-in provider."""

from typing import Any

from accounts.models import Workspace
from builder.demo import SAMPLE_TICKET, SUPPORT_TRIAGE
from builder.models import Workflow
from builder.versions import publish_version

SUPPORT_TRIAGE_NAME = "Support triage"


def add_support_triage(workspace: Workspace) -> Workflow:
    """The template as a published workflow of the workspace; an existing one of that name is kept."""
    workflow, made = Workflow.objects.get_or_create(
        workspace=workspace,
        name=SUPPORT_TRIAGE_NAME,
        defaults={
            "draft": SUPPORT_TRIAGE,
            "sample_input": SAMPLE_TICKET,
            "description": "Classifies a ticket, drafts a reply, and sends it when confident; "
            "a person reviews the rest. Runs offline on the built-in model.",
        },
    )
    if made:
        publish_version(workflow, "Template: support triage", by=None)
    return workflow


def on_workspace_created(sender: Any, workspace: Workspace, **kwargs: Any) -> None:
    add_support_triage(workspace)
