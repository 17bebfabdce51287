"""The node messages workers took from the broker and have not acknowledged: what a dead worker may have held.

Celery's Redis transport keeps every message a worker took in a hash (`unacked`) until the
worker acknowledges it (after the task ran: task_acks_late), and puts it back in the queue
only when that worker stops cleanly or after the visibility timeout (two hours,
config/settings.py). A worker killed while it held messages it had not started (held for a
countdown, or taken while its pool was busy) leaves them there, and their nodes ready, marked
sent and unclaimed until the reaper sends them again (ENGINE_REDISPATCH_SECONDS). So when a
worker process is found dead (engine.holders) every ready node a held message names is sent
again at once. Which worker took a message is not recorded: a live worker's held messages
are sent again too, and harmlessly, since a node sent twice is claimed once (the claim is
conditional) and the other message finds nothing to do.
"""

import base64
import json
import logging
from collections.abc import Iterator

from django.conf import settings
from django.utils import timezone

from engine.dispatch import dispatch
from engine.models import NodeRun, RunStatus
from engine.runs import CLAIMABLE

log = logging.getLogger(__name__)
OPEN_RUN = [RunStatus.QUEUED, RunStatus.RUNNING, RunStatus.WAITING]


def node_ids(entry: bytes, task: str) -> Iterator[int]:
    """The node ids of one `unacked` entry (`[message, exchange, routing key]`, as kombu stores it) of `task`.

    Celery's message (protocol 2, JSON) carries `[args, kwargs, embed]` in its body, base64-encoded
    by kombu's Redis transport; the node task's arguments are node ids.
    """
    message = json.loads(entry)[0]
    if message.get("headers", {}).get("task") != task or message.get("content-type") != "application/json":
        return
    body = message["body"]
    if message.get("properties", {}).get("body_encoding") == "base64":
        body = base64.b64decode(body)
    args = json.loads(body)[0]
    yield from (int(node_run_id) for node_run_id in args)


def held_node_ids() -> set[int]:
    """The nodes named by the node messages that workers took and have not acknowledged."""
    from engine.tasks import execute_node

    # The app the engine's tasks are bound to (the core does not import config); kombu's stubs know
    # only the base channel, not the Redis channel's client and key.
    with execute_node.app.connection_for_write() as broker:
        channel = broker.default_channel
        entries = channel.client.hvals(channel.unacked_key)  # type: ignore[attr-defined]
    return {node_run_id for entry in entries for node_run_id in node_ids(entry, execute_node.name)}


def resend_held() -> int:
    """Send again every ready node of an open run that a held message names (now, or with its countdown); how many."""
    if not settings.REDIS_URL:
        return 0
    held = held_node_ids()
    if not held:
        return 0
    now = timezone.now()
    nodes = NodeRun.objects.filter(pk__in=held, status__in=CLAIMABLE, wake_at__isnull=False, run__status__in=OPEN_RUN)
    found = [(pk, wake_at) for pk, wake_at in nodes.values_list("pk", "wake_at") if wake_at is not None]
    dispatch([pk for pk, wake_at in found if wake_at <= now], [(pk, at) for pk, at in found if at > now])
    if found:
        log.warning("sent again %d ready nodes whose messages a dead worker may have held", len(found))
    return len(found)
