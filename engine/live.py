"""Prompts on the channel layer after a run changes: "look again", never the data itself.

Channels over Redis drops messages when a channel is full and groups expire, so consumers
treat these as hints and read the events from the database, which is the truth.
"""

import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from accounts.consumers import workspace_group
from engine.models import RunEvent

# Prompts stay small: a transaction with more events than this sends only "look again".
MAX_CARRIED = 50

log = logging.getLogger(__name__)


def run_group(run_id: int) -> str:
    return f"run-{run_id}"


def as_message(event: RunEvent) -> dict[str, Any]:
    """An event as the run websocket sends it (docs/websocket.md)."""
    return {
        "type": "event",
        "seq": event.seq,
        "event": event.type,
        "node_id": event.node_id,
        "payload": event.payload,
        "at": event.created_at.isoformat(),
    }


def publish(run_id: int, workspace_id: int, events: list[RunEvent], run_status: str | None) -> None:
    """Tell the run's viewers what was just committed; tell the workspace when the run's status moved.

    The events ride along so that viewers already up to date need not each query the database;
    a viewer that missed a prompt notices the gap and reads the database instead.
    """
    layer = get_channel_layer()
    if layer is None or not events:
        return
    last_seq = events[-1].seq
    carried = [as_message(event) for event in events] if len(events) <= MAX_CARRIED else []
    try:
        async_to_sync(layer.group_send)(run_group(run_id), {"type": "run.hint", "seq": last_seq, "events": carried})
        if run_status is not None:
            payload = {"type": "run.updated", "run": run_id, "status": run_status, "seq": last_seq}
            async_to_sync(layer.group_send)(
                workspace_group(workspace_id), {"type": "workspace.event", "payload": payload}
            )
    except Exception:  # a lost prompt costs latency only: the change is committed, readers catch up
        log.warning("could not publish run %s seq %s to the channel layer", run_id, last_seq, exc_info=True)
