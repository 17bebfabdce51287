"""Templates a new workflow can start from; each gives a fresh copy of its graph."""

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from builder import demo
from builder.models import empty_graph


@dataclass(frozen=True)
class Template:
    slug: str
    name: str
    description: str
    graph: Callable[[], dict[str, Any]]


TEMPLATES: dict[str, Template] = {
    t.slug: t
    for t in (
        Template("blank", "Blank", "An empty canvas.", empty_graph),
        Template(
            "support-triage",
            "Support triage",
            "Route a ticket: draft a reply, or send urgent and refund tickets to a person for review.",
            # The demo module owns this graph (other features extend it); a copy keeps it unshared.
            lambda: copy.deepcopy(demo.TICKET_ROUTING),
        ),
    )
}


def choices() -> list[tuple[str, str]]:
    return [(t.slug, t.name) for t in TEMPLATES.values()]
