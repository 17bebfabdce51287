"""Moving credentials written in clear into HTTP node headers into workspace secrets.

`move_header_credentials` finds them in every workflow's draft and published versions, makes a
secret of each distinct value (named WORKFLOW_NODE_HEADER), and rewrites the header to
`{{ secrets.NAME }}`. Published versions are rewritten too: a version is immutable in what it
does, and a reference to a secret holding the same value does the same; leaving them would
leave the credential in the database. Past runs' copies of the graph and their recorded
inputs, outputs, errors, events and effects get `[secret NAME]` in place of the value.
"""

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction

from builder.models import Workflow, WorkflowVersion
from engine import secrets, workspace_secrets
from engine.models import Effect, NodeRun, Run, RunEvent, WorkspaceSecret

CREDENTIAL_HEADERS = frozenset({"authorization", "x-api-key", "api-key", "cookie", "proxy-authorization"})
CREDENTIAL_WORDS = ("token", "secret", "key")


@dataclass
class Move:
    """One credential found: where, and the secret that holds it now (or would, in a dry run)."""

    workflow_id: int
    workflow_name: str
    node_id: str
    header: str
    secret: str
    places: list[str] = field(default_factory=list)


@dataclass
class Skip:
    workflow_id: int
    node_id: str
    header: str
    reason: str


@dataclass
class Report:
    moved: list[Move] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)


def is_credential_header(name: str) -> bool:
    lowered = name.lower()
    return lowered in CREDENTIAL_HEADERS or any(word in lowered for word in CREDENTIAL_WORDS)


def _header_values(graph: Any) -> Iterator[tuple[dict[str, Any], str, str]]:
    """(headers dict, node id, header name) of each HTTP node header that names a credential."""
    if not isinstance(graph, dict):
        return
    for node in graph.get("nodes") or []:
        if not isinstance(node, dict) or node.get("type") != "http_request":
            continue
        headers = (node.get("params") or {}).get("headers")
        if isinstance(headers, dict):
            for name, value in headers.items():
                if isinstance(value, str) and is_credential_header(name):
                    yield headers, str(node.get("id", "")), name


def _secret_name(workflow: Workflow, node_id: str, header: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Z0-9]+", "_", f"{workflow.name}_{node_id}_{header}".upper()).strip("_")
    base = (base if base[:1].isalpha() else f"W{workflow.pk}_{base}")[:60].rstrip("_")
    name, suffix = base, 2
    while name in taken:
        name, suffix = f"{base[: 60 - len(str(suffix))]}_{suffix}", suffix + 1
    taken.add(name)
    return name


def move_all(*, dry_run: bool) -> Report:
    """Move every clear-text header credential of every workflow; with dry_run, only report."""
    report = Report()
    for workflow in Workflow.objects.order_by("workspace_id", "pk"):
        with transaction.atomic():
            _move_workflow(workflow, report, dry_run)
    return report


def _move_workflow(workflow: Workflow, report: Report, dry_run: bool) -> None:
    locked = Workflow.objects.select_for_update().get(pk=workflow.pk)
    graphs: list[tuple[str, Any, WorkflowVersion | None]] = [("draft", locked.draft, None)]
    graphs += [(f"v{v.number}", v.graph, v) for v in WorkflowVersion.objects.filter(workflow=locked).order_by("number")]
    taken = workspace_secrets.names(locked.workspace_id)
    by_value: dict[tuple[str, str, str], Move] = {}
    revealed: dict[str, str] = {}
    changed: set[str] = set()
    for place, graph, _ in graphs:
        for headers, node_id, header in _header_values(graph):
            value = headers[header]
            if workspace_secrets.referenced(value):
                continue  # moved already
            if problem := _unmovable(value):
                report.skipped.append(Skip(locked.pk, node_id, header, f"{place}: {problem}"))
                continue
            move = by_value.get((node_id, header, value))
            if move is None:
                name = _secret_name(locked, node_id, header, taken)
                move = by_value[(node_id, header, value)] = Move(locked.pk, locked.name, node_id, header, name)
                report.moved.append(move)
                revealed[name] = value
                if not dry_run:
                    WorkspaceSecret.objects.create(
                        workspace_id=locked.workspace_id, name=name, value_encrypted=secrets.encrypt(value)
                    )
            move.places.append(place)
            headers[header] = reference(move.secret)
            changed.add(place)
    if dry_run or not changed:
        return
    if "draft" in changed:
        Workflow.objects.filter(pk=locked.pk).update(draft=locked.draft)
    for place, graph, version in graphs:
        if version is not None and place in changed:
            WorkflowVersion.objects.filter(pk=version.pk).update(graph=graph)
    _scrub_runs(locked.pk, revealed)


def reference(name: str) -> str:
    return "{{ secrets." + name + " }}"


def _unmovable(value: str) -> str:
    if not value.strip():
        return "the value is empty"
    if "{" in value:
        return "the value uses an expression; move it by hand"
    try:
        workspace_secrets.check_value(value)
    except workspace_secrets.SecretInvalid as error:
        return f"the value {error.message}"
    return ""


def _scrub_runs(workflow_id: int, revealed: dict[str, str]) -> None:
    """Past runs of the workflow: the moved values become `[secret NAME]` wherever they were recorded."""
    by_value = {value: name for name, value in revealed.items()}
    for run in Run.objects.filter(workflow_id=workflow_id).only("pk", "graph", "input", "output", "error"):
        # The run's own graph gets the reference, so that retrying the run sends the same value.
        rewritten = False
        for headers, _, header in _header_values(run.graph):
            if headers[header] in by_value:
                headers[header] = reference(by_value[headers[header]])
                rewritten = True
        _update(Run, run, revealed, ("graph", "input", "output", "error"), force=("graph",) if rewritten else ())
    for model, fields in ((NodeRun, ("input", "output", "error")), (RunEvent, ("payload",)), (Effect, ("result",))):
        for row in model.objects.filter(run__workflow_id=workflow_id).only("pk", *fields):
            _update(model, row, revealed, fields)


def _update(
    model: Any, row: Any, revealed: dict[str, str], fields: tuple[str, ...], force: tuple[str, ...] = ()
) -> None:
    changes = {}
    for name in fields:
        value = getattr(row, name)
        clean = workspace_secrets.redact(value, revealed)
        if clean != value or name in force:
            changes[name] = clean
    if changes:
        model.objects.filter(pk=row.pk).update(**changes)
