"""Templates a new workflow can start from; each gives a fresh copy of its graph."""

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from builder import agent_demo, demo
from builder.models import empty_graph


@dataclass(frozen=True)
class Template:
    slug: str
    name: str
    description: str
    graph: Callable[[], dict[str, Any]]
    sample_input: dict[str, Any] = field(default_factory=dict)


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
    )
}


def choices() -> list[tuple[str, str]]:
    return [(t.slug, t.name) for t in TEMPLATES.values()]
