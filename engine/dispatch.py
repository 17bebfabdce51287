"""Sending node ids to Celery, after the transaction that made them ready has committed.

A crash between commit and send loses the message, not the work: the node is stored as
ready (wake_at set), and the reaper sends every ready node that has not been sent recently.
Two faults of the broker are noticed at once rather than after ENGINE_REDISPATCH_SECONDS: a
message that could not be published (Redis down) leaves its nodes unstamped, so the next
reaper tick sends them; and a Redis that lost its data (restarted without persistence, and
with it every message in flight) is noticed by the reaper (`broker_lost_messages`), which
then sends every ready node again. A node sent twice is claimed once: the claim is conditional.
"""

import contextvars
import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import partial
from typing import Any

import redis
from django.conf import settings
from django.db import transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerError

from engine.models import NodeRun

log = logging.getLogger(__name__)
# Kept in the broker's Redis: when it is gone, Redis lost its keys, and the messages it held with them.
BROKER_MARK = "switchyard:engine:broker-mark"
UNREACHABLE = (BrokerError, redis.RedisError, OSError)


def _options(node_run_ids: tuple[int, ...]) -> dict[str, Any]:
    """How a node message is published (celery-stubs do not list these options).

    It goes to the default queue, which the worker declares when it starts; on Redis a publish
    to it is an LPUSH to its list either way. Celery otherwise declares it with every message,
    and kombu binds a copy of the queue before finding it declared already: a fifth of a
    publish's CPU in the web process. Its arguments, node ids, are shown as `repr` shows them:
    Celery's own `saferepr`, made for arguments of any size, cost a sixth of the rest.
    """
    return {"declare": [], "argsrepr": repr(node_run_ids), "kwargsrepr": "{}"}


def send_notices(delivery_ids: list[int]) -> None:
    from engine.tasks import deliver_webhook

    for delivery_id in delivery_ids:
        deliver_webhook.delay(delivery_id)


class _Holding(threading.local):
    """The sends this thread holds (see `hold`), in order, each with its context; None while it sends at once."""

    sends: list[tuple[contextvars.Context, Callable[[], None]]] | None = None


_holding = _Holding()


def hold() -> None:
    """Hold this thread's sends from now until `release()`: for a request whose answer need not wait for the broker.

    The API's trigger answers 202 once its run is stored, and its node message leaves right
    after the answer (released when the request finishes), not before it: the caller does not
    wait for the publish. Holding risks nothing new. Between the commit and the send, the
    node is stored as ready and stamped as sent, as during any send. If the process dies
    first, the reaper sends it (ENGINE_REDISPATCH_SECONDS), as after a crash between commit
    and send. If the send fails, it is unstamped for the reaper's next tick, as any failed send.
    Each send leaves in the context it was made in, so its message carries the request's trace
    (config/tracing.py), which has ended by then.
    """
    if _holding.sends is None:
        _holding.sends = []


def release() -> None:
    """Send what this thread held, in order, and stop holding (nothing if it held nothing)."""
    sends, _holding.sends = _holding.sends, None
    for context, send in sends or []:
        context.run(send)


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
    if _holding.sends is not None:
        send = partial(dispatch, list(ready), list(later or []), stamped=stamped)
        _holding.sends.append((contextvars.copy_context(), send))
        return
    from engine.tasks import execute_node

    now = timezone.now()
    horizon = now + timedelta(seconds=settings.ENGINE_COUNTDOWN_LIMIT_S)
    sent = [] if stamped else list(ready)
    unsent: list[int] = []
    for message in messages(ready):
        args = tuple(message)
        if not _sent(partial(execute_node.apply_async, args, **_options(args))):
            unsent.extend(message)
    for node_run_id, wake_at in later or []:
        if wake_at <= horizon:
            countdown = max(0.0, (wake_at - now).total_seconds())
            args = (node_run_id,)
            if _sent(partial(execute_node.apply_async, args, countdown=countdown, **_options(args))):
                sent.append(node_run_id)
    lost = set(unsent)
    sent = [node_run_id for node_run_id in sent if node_run_id not in lost]
    if sent:
        NodeRun.objects.filter(pk__in=sent).update(dispatched_at=now)
    if unsent:
        # Not sent: the reaper's next tick sends them, instead of taking them for sent a while.
        NodeRun.objects.filter(pk__in=unsent).update(dispatched_at=None)


def _sent(publish: Callable[[], object]) -> bool:
    """Publish one message; False (logged) when the broker cannot be reached."""
    try:
        publish()
    except UNREACHABLE as error:
        log.warning("could not send a node message (%s); the reaper sends it again", error)
        return False
    return True


def broker_lost_messages() -> bool:
    """True when the broker's Redis lost its keys since the last look (and at the very first look).

    Messages are not in the database: when Redis restarts without its data, those in flight
    are gone, and the reaper sends every ready node again instead of waiting for
    ENGINE_REDISPATCH_SECONDS to pass. The embedded mode's broker lives in the process.
    """
    if not settings.REDIS_URL:
        return False
    from engine.tasks import execute_node

    try:
        # The app the engine's tasks are bound to (the core does not import config). kombu's
        # Redis channel holds its redis-py client; kombu's stubs know only the base channel.
        with execute_node.app.connection_for_write() as broker:
            return bool(broker.default_channel.client.set(BROKER_MARK, "1", nx=True))  # type: ignore[attr-defined]
    except UNREACHABLE:
        return False
