"""Prompts to open inboxes after an approval appears or is decided; the list re-reads the database."""

from engine.live import to_workspace


def publish(workspace_id: int, type: str, approval_id: int) -> None:
    to_workspace(workspace_id, {"type": type, "approval": approval_id})
