"""Sending node ids to Celery, after the transaction that made them ready has committed.

A crash between commit and send loses the message, not the work: the node is stored as
ready (wake_at set), and the reaper sends every ready node that has not been sent recently.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from engine.models import NodeRun


def send_notices(delivery_ids: list[int]) -> None:
    from engine.tasks import deliver_webhook

    for delivery_id in delivery_ids:
        deliver_webhook.delay(delivery_id)


def dispatch_after_commit(ready: list[int], later: list[tuple[int, datetime]]) -> None:
    if ready or later:
        # The transaction that made these nodes ready stamped their dispatched_at already.
        transaction.on_commit(lambda: dispatch(ready, later, stamped=True))


def messages(ready: list[int]) -> list[list[int]]:
    """The ready nodes as task messages: one node each, or ENGINE_DISPATCH_SPREAD messages of several.

    A message costs the worker about as much as a node that does nothing (publishing, taking
    and acknowledging it), so a wide fan-out goes in fewer messages; a task runs the nodes of
    its message side by side. Spreading over this many keeps at least as many workers busy.
    """
    spread = settings.ENGINE_DISPATCH_SPREAD
    if len(ready) <= spread:
        return [[node_run_id] for node_run_id in ready]
    return [ready[i::spread] for i in range(spread)]


def dispatch(ready: list[int], later: list[tuple[int, datetime]] | None = None, *, stamped: bool = False) -> None:
    """Send now what is ready, and with a countdown what wakes soon; far wake-ups are the reaper's.

    Long countdowns are avoided on purpose: Redis redelivers an unacknowledged message after
    the visibility timeout, so a task parked for hours could run twice. What is sent gets
    `dispatched_at`, so the reaper leaves it alone for a while (unless `stamped` says the
    ready ones have it already).
    """
    from engine.tasks import execute_node

    now = timezone.now()
    horizon = now + timedelta(seconds=settings.ENGINE_COUNTDOWN_LIMIT_S)
    sent = [] if stamped else list(ready)
    for message in messages(ready):
        execute_node.delay(*message)
    for node_run_id, wake_at in later or []:
        if wake_at <= horizon:
            execute_node.apply_async((node_run_id,), countdown=max(0.0, (wake_at - now).total_seconds()))
            sent.append(node_run_id)
    if sent:
        NodeRun.objects.filter(pk__in=sent).update(dispatched_at=now)
