"""The main navigation: one entry per section, marked current by the URL namespace it owns."""

from typing import Any, NamedTuple

from django.http import HttpRequest
from django.urls import reverse


class Section(NamedTuple):
    label: str
    url_name: str
    view_prefix: str | tuple[str, ...]


SECTIONS = [
    Section("Workflows", "builder:workflow-list", "builder:"),
    Section("Runs", "monitoring:run-list", "monitoring:run"),
    Section("Inbox", "approvals:inbox", "approvals:"),
    Section("Knowledge", "knowledge:knowledge-base-list", "knowledge:"),
    Section("Datasets", "datasets:dataset-list", "datasets:"),
    Section("Costs", "costs:report", "costs:"),
    Section("Settings", "accounts:settings", ("accounts:", "integrations:")),
]


def navigation(request: HttpRequest) -> dict[str, Any]:
    match = getattr(request, "resolver_match", None)
    view_name = match.view_name if match else ""
    return {
        "nav_sections": [
            {"label": s.label, "url": reverse(s.url_name), "current": view_name.startswith(s.view_prefix)}
            for s in SECTIONS
        ]
    }
