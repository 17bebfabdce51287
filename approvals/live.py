"""Prompts to open inboxes after an approval appears or is decided; the list re-reads the database."""

from engine.event_types import LiveMessage
from engine.live import to_workspace


def publish(workspace_id: int, type: LiveMessage, approval_id: int) -> None:
    to_workspace(workspace_id, {"type": type, "approval": approval_id})
