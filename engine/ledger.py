"""The effect ledger: each external side effect of a node happens once per run, node and key.

Before the effect a row is inserted as in_flight (unique per run, node and key); after it,
the row is marked done with the result. A redelivered or retried node finds `done` and gets
the stored result without repeating the effect. Finding `in_flight` means an earlier attempt
died mid-effect and its outcome is unknown: the effect is repeated with the same
idempotency key (`effect_key`), which receivers use to drop the duplicate.

Once the effect's answer has arrived, marking the row done is tried again through a
database blip (engine.transient.persist, for up to a lease): only a worker that died
mid-effect leaves an unknown outcome, so an effect is repeated only then (at-least-once
with a stable key), never after an answer that was received.
"""

from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from engine.models import Effect, EffectStatus
from engine.transient import persist


def effect_key(run_id: int, node_id: str, key: str) -> str:
    """The Idempotency-Key sent with the effect; stable across attempts and redeliveries."""
    return f"switchyard-{run_id}-{node_id}-{key}"


def once(run_id: int, node_id: str, key: str, work: Callable[[], Any]) -> Any:
    try:
        with transaction.atomic():
            record = Effect.objects.create(run_id=run_id, node_id=node_id, key=key)
    except IntegrityError:
        record = Effect.objects.get(run_id=run_id, node_id=node_id, key=key)
        if record.status == EffectStatus.DONE:
            return record.result
        Effect.objects.filter(pk=record.pk).update(attempts=F("attempts") + 1)
    result = work()
    persist(
        lambda: Effect.objects.filter(pk=record.pk).update(status=EffectStatus.DONE, result=result),
        f"record the effect {key} of node {node_id} of run {run_id} as done",
    )
    return result


def bind(run_id: int, node_id: str) -> Callable[[str, Callable[[], Any]], Any]:
    return lambda key, work: once(run_id, node_id, key, work)
