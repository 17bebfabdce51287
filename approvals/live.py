"""Prompts to open inboxes after an approval appears or is decided; the list re-reads the database."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from accounts.consumers import workspace_group

log = logging.getLogger(__name__)


def publish(workspace_id: int, type: str, approval_id: int) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    payload = {"type": type, "approval": approval_id}
    try:
        async_to_sync(layer.group_send)(workspace_group(workspace_id), {"type": "workspace.event", "payload": payload})
    except Exception:  # a lost prompt costs latency only: the inbox refreshes on reconnect and on the next prompt
        log.warning("could not publish %s for approval %s", type, approval_id, exc_info=True)
