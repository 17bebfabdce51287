"""Prompts on the channel layer after a run changes: "look again", never the data itself.

Channels over Redis drops messages when a channel is full and groups expire, so consumers
treat these as hints and read the events from the database, which is the truth.
"""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

from accounts.consumers import workspace_group

log = logging.getLogger(__name__)


def run_group(run_id: int) -> str:
    return f"run-{run_id}"


def publish(run_id: int, workspace_id: int, last_seq: int, run_status: str | None) -> None:
    """Tell the run's viewers to read up to `last_seq`; tell the workspace when the run's status moved."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(run_group(run_id), {"type": "run.hint", "seq": last_seq})
        if run_status is not None:
            payload = {"type": "run.updated", "run": run_id, "status": run_status, "seq": last_seq}
            async_to_sync(layer.group_send)(
                workspace_group(workspace_id), {"type": "workspace.event", "payload": payload}
            )
    except Exception:  # a lost prompt costs latency only: the change is committed, readers catch up
        log.warning("could not publish run %s seq %s to the channel layer", run_id, last_seq, exc_info=True)
