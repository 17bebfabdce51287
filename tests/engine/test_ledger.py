"""The effect ledger on the database: done effects are returned, in_flight ones waited for or repeated."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from engine import ledger
from engine.errors import NodeTimeout
from engine.event_types import EventType
from engine.models import Effect, EffectStatus, Run, RunEvent
from tests.factories import RunFactory

# A holder on another host: whether its process lives cannot be told from here.
ELSEWHERE = "elsewhere:4242:1234:otherspace/batch1"


def attempt(number: int, owner: str = "here:1:1:space/batch", seconds: float = 60) -> ledger.Holding:
    return ledger.Holding(owner, number, time.monotonic() + seconds)


def in_flight(run: Run, held_for_s: float, owner: str = ELSEWHERE, by: int = 1) -> Effect:
    """An effect that attempt `by` began and has not recorded, held for `held_for_s` more (negative: run out)."""
    until = timezone.now() + timedelta(seconds=held_for_s)
    return Effect.objects.create(run=run, node_id="n", key="mail", holder=owner, holder_attempt=by, held_until=until)


@pytest.fixture
def run(workspace):
    return RunFactory(workspace=workspace)


def test_the_ledger_returns_a_done_effect_without_repeating_it(run):
    calls: list[int] = []

    def send(n: int) -> dict[str, int]:
        calls.append(n)
        return {"sent": n}

    first = ledger.once(run.pk, "n", "mail", lambda: send(1), attempt(1))
    second = ledger.once(run.pk, "n", "mail", lambda: send(2), attempt(2))
    assert (first, second, calls) == ({"sent": 1}, {"sent": 1}, [1])


def test_it_records_the_attempt_holding_an_effect_in_flight(run):
    def look() -> dict[str, object]:
        effect = Effect.objects.get(run=run, node_id="n", key="mail")
        held = effect.held_until is not None and effect.held_until > timezone.now()
        return {"status": effect.status, "holder": effect.holder, "attempt": effect.holder_attempt, "held": held}

    seen = ledger.once(run.pk, "n", "mail", look, attempt(3, owner="w:1:2:s/b"))
    assert seen == {"status": EffectStatus.IN_FLIGHT, "holder": "w:1:2:s/b", "attempt": 3, "held": True}


def test_it_repeats_an_effect_whose_holding_ran_out_with_the_same_key(run):
    in_flight(run, held_for_s=-1)  # attempt 1 died mid-effect; nobody could tell until its holding ran out
    assert ledger.once(run.pk, "n", "mail", lambda: {"sent": True}, attempt(2)) == {"sent": True}
    effect = Effect.objects.get(run=run, node_id="n", key="mail")
    assert (effect.status, effect.attempts, effect.holder_attempt) == (EffectStatus.DONE, 2, 2)


def test_it_repeats_at_once_an_effect_whose_holder_was_found_dead(run):
    in_flight(run, held_for_s=600)
    RunEvent.objects.create(
        run=run, seq=1, type=EventType.NODE_CRASHED, node_id="n", payload={"attempt": 1, "reason": "worker_died"}
    )
    assert ledger.once(run.pk, "n", "mail", lambda: {"sent": True}, attempt(2)) == {"sent": True}


def test_it_does_not_repeat_an_effect_a_live_holder_has_in_flight(run):
    in_flight(run, held_for_s=600)
    # Its lease ran out (the reaper crashed it) but its process was not found dead: its call may still land.
    RunEvent.objects.create(
        run=run, seq=1, type=EventType.NODE_CRASHED, node_id="n", payload={"attempt": 1, "reason": "lease_expired"}
    )
    calls: list[int] = []
    with pytest.raises(NodeTimeout):
        ledger.once(run.pk, "n", "mail", lambda: calls.append(2), attempt(2, seconds=0.3))
    assert calls == []
    effect = Effect.objects.get(run=run, node_id="n", key="mail")
    assert (effect.status, effect.attempts, effect.holder_attempt) == (EffectStatus.IN_FLIGHT, 1, 1)


def test_a_call_that_raised_gives_up_its_holding_so_the_next_attempt_repeats_it_at_once(run):
    def refused() -> None:
        raise ConnectionError("reset by peer")

    with pytest.raises(ConnectionError):
        ledger.once(run.pk, "n", "mail", refused, attempt(1))
    assert Effect.objects.get(run=run, node_id="n", key="mail").held_until <= timezone.now()
    assert ledger.once(run.pk, "n", "mail", lambda: {"sent": True}, attempt(2)) == {"sent": True}
