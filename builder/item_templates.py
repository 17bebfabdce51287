"""Templates over many items, runnable offline on the built-in model: "Classify documents" and "Index documents".

Each is two workflows: a published one that handles a single document, and one whose
for_each node runs it for every document of its input. The for_each node names the first
by id, so the first is made in the workspace before the second's graph: by the catalogue
(`*_in`, for a new workflow of the user's) or by the demo (`add_*`, published, kept if there).
"""

import itertools
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction

from accounts.models import Workspace
from builder.demo import CATEGORIES
from builder.models import Workflow
from builder.versions import publish_version
from engine.providers import BUILTIN, BUILTIN_EMBEDDING_MODEL
from knowledge.models import KnowledgeBase

CLASSIFY_DOCUMENTS = "Classify documents"
CLASSIFY_ONE = "Classify a document"
INDEX_DOCUMENTS = "Index documents"
INDEX_ONE = "Index a document"
INDEXED = "Indexed documents"

DOCUMENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["title", "text"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 300},
        "text": {"type": "string", "minLength": 1, "maxLength": 200_000},
    },
}
DOCUMENTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["documents"],
    "properties": {"documents": {"type": "array", "items": DOCUMENT_SCHEMA, "maxItems": 10_000}},
}
SAMPLE_DOCUMENTS: dict[str, Any] = {
    "documents": [
        {"title": "Charged twice", "text": "I was charged twice for my subscription this month."},
        {"title": "Sync stopped", "text": "My notes stopped syncing between the tablet and the app."},
        {"title": "Change email", "text": "How do I change the email address of my account?"},
    ]
}
# Each item's input: the item's own fields, so one document of the list is one run's input.
ITEM_INPUT = {"title": "{{ item.title }}", "text": "{{ item.text }}"}


def _node(id: str, type: str, label: str, x: int, params: dict[str, Any], **settings: Any) -> dict[str, Any]:
    return {"id": id, "type": type, "label": label, "position": {"x": x, "y": 0}, "params": params, **settings}


def _chain(*nodes: dict[str, Any]) -> dict[str, Any]:
    edges = [
        {"id": f"e{i}", "source": a["id"], "source_handle": "out", "target": b["id"], "target_handle": "in"}
        for i, (a, b) in enumerate(itertools.pairwise(nodes), start=1)
    ]
    return {"schema_version": 1, "nodes": list(nodes), "edges": edges}


def _trigger(schema: dict[str, Any], label: str) -> dict[str, Any]:
    return _node("start", "trigger", label, 0, {"input_schema": schema})


def classify_one() -> dict[str, Any]:
    """One document in; its label and confidence out (the last node's output is the run's)."""
    return _chain(
        _trigger(DOCUMENT_SCHEMA, "Document"),
        _node(
            "topic", "classify", "Topic", 300, {"text": "{{ input.title }}\n\n{{ input.text }}", "labels": CATEGORIES}
        ),
        _node(
            "result",
            "transform",
            "Label",
            600,
            {
                "fields": {
                    "title": "{{ input.title }}",
                    "label": "{{ nodes.topic.label }}",
                    "confidence": "{{ nodes.topic.confidence }}",
                }
            },
        ),
    )


def index_one(knowledge_base: str) -> dict[str, Any]:
    """One document in: summarised by the model, the summary stored (and embedded) in the knowledge base."""
    summarise = {
        "system": "Summarise the document in two sentences for a search index.",
        "prompt": "{{ input.title }}\n\n{{ input.text }}",
        "max_tokens": 200,
    }
    store = {
        "knowledge_base": knowledge_base,
        "key": "{{ input.title }}",
        "title": "{{ input.title }}",
        "text": "{{ nodes.summary.text }}",
        "metadata": {"source": "index documents"},
    }
    return _chain(
        _trigger(DOCUMENT_SCHEMA, "Document"),
        _node("summary", "generate", "Summarise", 300, summarise),
        _node("store", "knowledge_upsert", "Store", 600, store),
    )


def over_documents(child_id: int, outputs: dict[str, str]) -> dict[str, Any]:
    """A list of documents in; the child workflow run for each, failures collected; `outputs` out."""
    each = {
        "workflow_id": child_id,
        "items": "input.documents",
        "input": ITEM_INPUT,
        "max_concurrency": 10,
        "on_item_failure": "continue",
    }
    return _chain(
        _trigger(DOCUMENTS_SCHEMA, "Documents"),
        _node("each", "for_each", "For each document", 300, each),
        _node("totals", "transform", "Totals", 600, {"fields": outputs}),
    )


CLASSIFY_DOCUMENTS_DESCRIPTION = "Classifies every document of a list in parallel; gives the labels and the total cost."
INDEX_DOCUMENTS_DESCRIPTION = (
    "Summarises every document of a list and stores it in a knowledge base; collects failures."
)
CLASSIFY_OUTPUTS = {
    "labels": "{{ nodes.each.results }}",
    "failures": "{{ nodes.each.failures }}",
    "cost": "{{ nodes.each.cost }}",
}
INDEX_OUTPUTS = {
    "indexed": "{{ nodes.each.counts.succeeded }}",
    "failures": "{{ nodes.each.failures }}",
    "cost": "{{ nodes.each.cost }}",
}
CLASSIFY_ONE_DESCRIPTION = "Classifies one document."
INDEX_ONE_DESCRIPTION = "Summarises one document and stores it."


def add_classify_documents(workspace: Workspace) -> Workflow:
    """The "Classify documents" workflow (and the one it runs per document), published; existing ones are kept."""
    with transaction.atomic():
        sample = SAMPLE_DOCUMENTS["documents"][0]
        child = _published(workspace, CLASSIFY_ONE, classify_one(), sample, CLASSIFY_ONE_DESCRIPTION)
        graph = over_documents(child.pk, CLASSIFY_OUTPUTS)
        return _published(workspace, CLASSIFY_DOCUMENTS, graph, SAMPLE_DOCUMENTS, CLASSIFY_DOCUMENTS_DESCRIPTION)


def add_index_documents(workspace: Workspace) -> Workflow:
    """The "Index documents" workflow (and the one it runs per document, and its knowledge base), published."""
    with transaction.atomic():
        _knowledge_base(workspace)
        sample = SAMPLE_DOCUMENTS["documents"][0]
        child = _published(workspace, INDEX_ONE, index_one(INDEXED), sample, INDEX_ONE_DESCRIPTION)
        graph = over_documents(child.pk, INDEX_OUTPUTS)
        return _published(workspace, INDEX_DOCUMENTS, graph, SAMPLE_DOCUMENTS, INDEX_DOCUMENTS_DESCRIPTION)


def classify_documents_in(workspace: Workspace, name: str, by: User) -> dict[str, Any]:
    """For a new workflow named `name`: its per-document workflow made and published, and its graph calling it."""
    child = _made(workspace, f"{name}: {CLASSIFY_ONE.lower()}", classify_one(), CLASSIFY_ONE_DESCRIPTION, by)
    return over_documents(child.pk, CLASSIFY_OUTPUTS)


def index_documents_in(workspace: Workspace, name: str, by: User) -> dict[str, Any]:
    """For a new workflow named `name`: the knowledge base, its per-document workflow, and its graph calling it."""
    _knowledge_base(workspace)
    child = _made(workspace, f"{name}: {INDEX_ONE.lower()}", index_one(INDEXED), INDEX_ONE_DESCRIPTION, by)
    return over_documents(child.pk, INDEX_OUTPUTS)


def _knowledge_base(workspace: Workspace) -> None:
    KnowledgeBase.objects.get_or_create(
        workspace=workspace,
        name=INDEXED,
        defaults={
            "description": "Summaries stored by the Index documents workflow.",
            "embedding": f"{BUILTIN}|{BUILTIN_EMBEDDING_MODEL}",
        },
    )


def _made(workspace: Workspace, name: str, graph: dict[str, Any], description: str, by: User) -> Workflow:
    """A new workflow with `graph`, published as its first version."""
    sample = SAMPLE_DOCUMENTS["documents"][0]
    workflow = Workflow.objects.create(
        workspace=workspace, name=name[:200], draft=graph, sample_input=sample, description=description, created_by=by
    )
    publish_version(workflow, "Made by a template", by=by)
    return workflow


def _published(
    workspace: Workspace, name: str, graph: dict[str, Any], sample: dict[str, Any], description: str
) -> Workflow:
    workflow, made = Workflow.objects.get_or_create(
        workspace=workspace,
        name=name,
        defaults={"draft": graph, "sample_input": sample, "description": description},
    )
    if made:
        publish_version(workflow, f"Template: {name.lower()}", by=None)
    return workflow
