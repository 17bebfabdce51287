"""Templates a new workflow can start from; each gives a fresh copy of its graph."""

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth.models import User

from accounts.models import Workspace
from builder import agent_demo, demo, item_templates
from builder.models import empty_graph

# A template whose graph calls workflows: it makes them in the workspace (the new workflow's name
# names them) and gives the graph that calls them by id.
CallingGraph = Callable[[Workspace, str, User], dict[str, Any]]


@dataclass(frozen=True)
class Template:
    slug: str
    name: str
    description: str
    graph: Callable[[], dict[str, Any]]
    sample_input: dict[str, Any] = field(default_factory=dict)
    calling_graph: CallingGraph | None = None

    def draft(self, workspace: Workspace, name: str, by: User) -> dict[str, Any]:
        """The new workflow's draft; the workflows it calls are made (and published) first."""
        if self.calling_graph is not None:
            return self.calling_graph(workspace, name, by)
        return self.graph()


TEMPLATES: dict[str, Template] = {
    t.slug: t
    for t in (
        Template("blank", "Blank", "An empty canvas.", empty_graph),
        # The demo module owns these graphs (other features extend them); a copy keeps them unshared.
        Template(
            "support-triage",
            "Support triage",
            "Classify a ticket, search the help centre, draft a cited reply, and send it when "
            "confident; a person reviews the rest. Runs offline on the built-in model.",
            lambda: copy.deepcopy(demo.SUPPORT_TRIAGE),
            demo.SAMPLE_TICKET,
        ),
        Template(
            "ticket-routing",
            "Ticket routing",
            "Logic only: draft a reply, or send urgent and refund tickets to a person for review.",
            lambda: copy.deepcopy(demo.TICKET_ROUTING),
            demo.SAMPLE_TICKET,
        ),
        Template(
            "support-agent",
            "Support agent",
            "An agent answers a ticket with help-centre search and an order lookup; refunds wait for a "
            "person's approval. Runs offline on the built-in model's tool-use mode.",
            agent_demo.support_agent,
            agent_demo.SAMPLE_AGENT_TICKET,
        ),
        Template(
            "classify-documents",
            item_templates.CLASSIFY_DOCUMENTS,
            f"{item_templates.CLASSIFY_DOCUMENTS_DESCRIPTION} Also makes the workflow it runs per document.",
            empty_graph,
            item_templates.SAMPLE_DOCUMENTS,
            item_templates.classify_documents_in,
        ),
        Template(
            "index-documents",
            item_templates.INDEX_DOCUMENTS,
            f"{item_templates.INDEX_DOCUMENTS_DESCRIPTION} Also makes the workflow it runs per document.",
            empty_graph,
            item_templates.SAMPLE_DOCUMENTS,
            item_templates.index_documents_in,
        ),
    )
}


def choices() -> list[tuple[str, str]]:
    return [(t.slug, t.name) for t in TEMPLATES.values()]
