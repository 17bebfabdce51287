"""Templates over many items, runnable offline on the built-in model: "Classify documents" and "Index documents".

Each is two published workflows: one that handles a single document, and one whose
for_each node runs it for every document of its input. The for_each node names the first
by id, so these are made in a workspace (`add_*`) rather than copied from the catalogue.
"""

import itertools
from typing import Any

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


def add_classify_documents(workspace: Workspace) -> Workflow:
    """The "Classify documents" workflow (and the one it runs per document), published; existing ones are kept."""
    with transaction.atomic():
        child = _published(
            workspace, CLASSIFY_ONE, classify_one(), SAMPLE_DOCUMENTS["documents"][0], "Classifies one document."
        )
        outputs = {
            "labels": "{{ nodes.each.results }}",
            "failures": "{{ nodes.each.failures }}",
            "cost": "{{ nodes.each.cost }}",
        }
        description = "Classifies every document of a list in parallel; gives the labels and the total cost."
        return _published(
            workspace, CLASSIFY_DOCUMENTS, over_documents(child.pk, outputs), SAMPLE_DOCUMENTS, description
        )


def add_index_documents(workspace: Workspace) -> Workflow:
    """The "Index documents" workflow (and the one it runs per document, and its knowledge base), published."""
    with transaction.atomic():
        KnowledgeBase.objects.get_or_create(
            workspace=workspace,
            name=INDEXED,
            defaults={
                "description": "Summaries stored by the Index documents workflow.",
                "embedding": f"{BUILTIN}|{BUILTIN_EMBEDDING_MODEL}",
            },
        )
        sample = SAMPLE_DOCUMENTS["documents"][0]
        child = _published(workspace, INDEX_ONE, index_one(INDEXED), sample, "Summarises one document and stores it.")
        outputs = {
            "indexed": "{{ nodes.each.counts.succeeded }}",
            "failures": "{{ nodes.each.failures }}",
            "cost": "{{ nodes.each.cost }}",
        }
        description = "Summarises every document of a list and stores it in a knowledge base; collects failures."
        return _published(workspace, INDEX_DOCUMENTS, over_documents(child.pk, outputs), SAMPLE_DOCUMENTS, description)


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
