"""Workflows as portable JSON documents: the export, and the checks an import must pass.

An import is data only: the graph is validated against this server's node types and nothing
in it runs. Shared by the API (workflow_api.py) and the pages (views.py)."""

from typing import Any, Literal

from django.contrib.auth.models import User
from django.utils.text import slugify
from ninja import Schema
from pydantic import Field, ValidationError

from accounts.audit import record
from accounts.models import Workspace
from builder.models import Workflow, WorkflowVersion
from builder.workflows import MALFORMED
from engine import graph as graphs
from engine import json_input

# Drafts may be unfinished (no trigger, dangling edges), but an import must not carry what this
# server cannot read or run: what a draft refuses (other shapes, oversize or too deeply nested
# graphs), unknown node types, bad parameters.
REFUSED_ON_IMPORT = MALFORMED | {"unknown_type", "bad_params"}
MAX_FILE_BYTES = graphs.MAX_GRAPH_BYTES + 100_000


class ExportDoc(Schema):
    format: Literal["switchyard-workflow"] = "switchyard-workflow"
    format_version: Literal[1] = 1
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=5000)
    graph: dict[str, Any]


class NoSuchVersion(LookupError):
    """The workflow has no published version of the number asked for."""


def export_workflow(workflow: Workflow, version: int | None = None) -> ExportDoc:
    """The draft, or the published version `version`, as a document; raises NoSuchVersion."""
    if version is None:
        graph = workflow.draft
    else:
        found = WorkflowVersion.objects.filter(workflow=workflow, number=version).first()
        if found is None:
            raise NoSuchVersion(f"version: {workflow.name!r} has no version {version}")
        graph = found.graph
    return ExportDoc(name=workflow.name, description=workflow.description, graph=graph)


def export_filename(workflow: Workflow, version: int | None = None) -> str:
    return f"{slugify(workflow.name) or 'workflow'}-{'draft' if version is None else f'v{version}'}.json"


def import_problems(graph: Any) -> list[graphs.Problem]:
    return [p for p in graphs.validate(graph) if p.code in REFUSED_ON_IMPORT]


def read_file(raw: bytes) -> ExportDoc:
    """The document in an uploaded file, or GraphInvalid listing every problem found, each with its path."""
    if len(raw) > MAX_FILE_BYTES:
        raise graphs.GraphInvalid([graphs.Problem("", "too_large", f"The file is over {MAX_FILE_BYTES} bytes")])
    try:
        data = json_input.parse(raw)
    except json_input.JsonRefused as refused:
        raise graphs.GraphInvalid([graphs.Problem("", "not_json", f"The file is refused: {refused}")]) from None
    if not isinstance(data, dict):
        raise graphs.GraphInvalid([graphs.Problem("", "schema", "The file must hold a JSON object")])
    problems: list[graphs.Problem] = []
    try:
        doc = ExportDoc.model_validate(data)
    except ValidationError as error:
        problems += [
            graphs.Problem(".".join(str(part) for part in e["loc"]), "schema", e["msg"]) for e in error.errors()
        ]
    if isinstance(data.get("graph"), dict):
        problems += [
            graphs.Problem(f"graph.{p.path}" if p.path else "graph", p.code, p.message)
            for p in import_problems(data["graph"])
        ]
    if problems:
        raise graphs.GraphInvalid(problems)
    return doc


def import_workflow(workspace: Workspace, doc: ExportDoc, by: User) -> Workflow:
    """A new workflow whose draft is the document's graph; raises GraphInvalid and creates nothing if refused."""
    refused = import_problems(doc.graph)
    if refused:
        raise graphs.GraphInvalid(refused)
    workflow = Workflow.objects.create(
        workspace=workspace, name=doc.name, description=doc.description, draft=doc.graph, created_by=by
    )
    record(by, "workflow.imported", workspace=workspace, target=workflow)
    return workflow
