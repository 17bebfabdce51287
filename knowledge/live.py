"""Prompts to the workspace's open knowledge pages when a document moves; the page re-reads the database."""

from engine.event_types import LiveMessage
from engine.live import to_workspace
from knowledge.models import Document


def document_moved(document: Document, status: str, progress: int) -> None:
    to_workspace(
        document.workspace_id,
        {
            "type": LiveMessage.KNOWLEDGE_DOCUMENT,
            "knowledge_base": document.knowledge_base_id,
            "document": document.pk,
            "status": status,
            "progress": progress,
        },
    )
