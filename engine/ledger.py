"""The effect ledger: each external side effect of a node happens once per run, node and key.

Before the effect a row is inserted as in_flight (unique per run, node and key), naming its
holder: the node attempt doing it (its lease owner and attempt number) and `held_until`, the
time by which that attempt's call has ended for sure (the attempt's deadline, plus a lease
to record the answer). After the effect, the row is marked done with the result. A
redelivered or retried node that finds `done` gets the stored result without repeating the
effect.

A later attempt that finds the effect `in_flight` repeats it only when its holder is
provably gone: its holding has run out, its call raised (the holding is then given up at
once), its worker process was found dead (its attempt crashed as `worker_died`, or /proc
says so on this host). A holder that may still be alive (its lease ran out on a slow
machine, and the reaper gave the node to a new attempt while the first one's call is still
in flight) is waited for instead: the later attempt reads the row until the holder's outcome
is recorded, or the holder is gone. A repeated effect carries the same idempotency key
(`effect_key`), which receivers use to drop the duplicate (at least once with a stable key).

Once the effect's answer has arrived, marking the row done is tried again through a
database blip (engine.transient.persist, for up to a lease): only a worker that died
mid-effect leaves an unknown outcome, so an effect is repeated only then, never after an
answer that was received.
"""

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from engine import holders
from engine.errors import NodeTimeout
from engine.event_types import EventType
from engine.models import Effect, EffectStatus, RunEvent
from engine.runs import CrashReason
from engine.transient import persist

log = logging.getLogger(__name__)
# How often a waiting attempt reads the row again: soon at first (most calls are short), then at most each second.
FIRST_LOOK_S, LAST_LOOK_S = 0.05, 1.0


def effect_key(run_id: int, node_id: str, key: str) -> str:
    """The Idempotency-Key sent with the effect; stable across attempts and redeliveries."""
    return f"switchyard-{run_id}-{node_id}-{key}"


@dataclass(frozen=True)
class Holding:
    """The node attempt that does an effect: its lease owner, attempt number and deadline (time.monotonic)."""

    owner: str
    attempt: int
    deadline: float

    def columns(self) -> dict[str, Any]:
        """The holder's columns of the effect's row; the holding lasts until the call has surely ended."""
        left = max(0.0, self.deadline - time.monotonic()) + settings.ENGINE_LEASE_S
        until = timezone.now() + timedelta(seconds=left)
        return {"holder": self.owner, "holder_attempt": self.attempt, "held_until": until}


def once(run_id: int, node_id: str, key: str, work: Callable[[], Any], holding: Holding) -> Any:
    """Do `work` unless this effect was done already (its stored result) or another attempt is doing it.

    Waits, reading the row, while a holder that may be alive has the effect in flight; raises
    NodeTimeout if this attempt's deadline comes first. The effect is repeated when its holder is
    gone (the module's docstring).
    """
    try:
        with transaction.atomic():
            record = Effect.objects.create(run_id=run_id, node_id=node_id, key=key, **holding.columns())
    except IntegrityError:
        record = _taken_over(run_id, node_id, key, holding)
        if record.status == EffectStatus.DONE:
            return record.result
    try:
        result = work()
    except BaseException:
        # Its call is over: a later attempt need not wait for the outcome of a call that raised.
        persist(
            lambda: _in_flight(record.pk, holding.owner, holding.attempt).update(held_until=timezone.now()),
            f"give up the effect {key} of node {node_id} of run {run_id}",
        )
        raise
    persist(
        lambda: Effect.objects.filter(pk=record.pk).update(status=EffectStatus.DONE, result=result),
        f"record the effect {key} of node {node_id} of run {run_id} as done",
    )
    return result


def _taken_over(run_id: int, node_id: str, key: str, holding: Holding) -> Effect:
    """The effect found in the ledger once it is done, or once this attempt has taken it over from a holder gone."""
    delay, said = FIRST_LOOK_S, False
    while True:
        found = Effect.objects.get(run_id=run_id, node_id=node_id, key=key)
        if found.status == EffectStatus.DONE:
            return found
        if _gone(found, holding):
            held = _in_flight(found.pk, found.holder, found.holder_attempt).filter(held_until=found.held_until)
            if held.update(attempts=F("attempts") + 1, **holding.columns()):
                return found
            continue  # another attempt took it over first, or its holder recorded the outcome: look again
        if time.monotonic() + delay >= holding.deadline:
            raise NodeTimeout(f"Attempt {found.holder_attempt}'s {key} was still in flight, its outcome unknown")
        if not said:
            log.warning(
                "attempt %s of node %s of run %s waits for the outcome of effect %s, in flight by attempt %s (%s) "
                "until %s, instead of repeating it",
                holding.attempt,
                node_id,
                run_id,
                key,
                found.holder_attempt,
                found.holder,
                found.held_until,
            )
            said = True
        time.sleep(delay)
        delay = min(LAST_LOOK_S, delay * 2)


def _gone(found: Effect, holding: Holding) -> bool:
    """Whether the holder of the in_flight effect `found` is provably no longer doing it (module docstring)."""
    if found.held_until is None or found.held_until <= timezone.now():
        return True  # run out, given up, or a row from before holders were recorded
    if (found.holder, found.holder_attempt) == (holding.owner, holding.attempt):
        return True  # this attempt's own earlier call with the same key
    died = RunEvent.objects.filter(
        run_id=found.run_id,
        node_id=found.node_id,
        type=EventType.NODE_CRASHED,
        payload__attempt=found.holder_attempt,
        payload__reason=CrashReason.WORKER_DIED,
    )
    return holders.ended(found.holder) or died.exists()


def _in_flight(pk: int, holder: str, attempt: int) -> QuerySet[Effect]:
    """The effect's row, while it is still in flight and held by that holder."""
    return Effect.objects.filter(pk=pk, status=EffectStatus.IN_FLIGHT, holder=holder, holder_attempt=attempt)


def bind(run_id: int, node_id: str, holding: Holding) -> Callable[[str, Callable[[], Any]], Any]:
    return lambda key, work: once(run_id, node_id, key, work, holding)
