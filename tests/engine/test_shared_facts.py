"""What model calls read first, shared by the calls of one run that start together (engine.providers.shared_facts)."""

import threading
import uuid

from django.db import OperationalError

from engine.providers import shared_facts
from engine.sql.lookups import CallFacts


class Reads:
    """A read of call facts that counts how often it ran; `hold` keeps it going until set."""

    def __init__(self, hold: threading.Event | None = None, fail: bool = False) -> None:
        self.count = 0
        self.started = threading.Event()
        self.hold = hold
        self.fail = fail

    def __call__(self) -> CallFacts:
        self.count += 1
        self.started.set()
        if self.hold is not None:
            assert self.hold.wait(30), "the test never released the read"
        if self.fail:
            raise OperationalError("the database went away")
        return CallFacts(price=None, budgets=[], tree=None, run=None)


def key() -> tuple[str, ...]:
    """A run, provider and model no other test uses: the shared reads live as long as the process."""
    return ("run", uuid.uuid4().hex, "gpt")


def test_calls_of_a_run_that_start_together_share_one_read():
    first, second, other = Reads(), Reads(), Reads()
    run = key()

    facts = shared_facts.call_facts(run, first)
    assert shared_facts.call_facts(run, second, within_s=3600) is facts
    shared_facts.call_facts(key(), other)

    assert (first.count, second.count, other.count) == (1, 0, 1), "another run or model reads its own"


def test_a_later_call_reads_afresh():
    first, later = Reads(), Reads()
    run = key()

    facts = shared_facts.call_facts(run, first)

    assert shared_facts.call_facts(run, later, within_s=0) is not facts
    assert later.count == 1


def during(first: Reads) -> tuple[CallFacts | OperationalError, CallFacts]:
    """A call whose read is `first` (held until the second call has begun), and a second call of the same run:
    what each got (the first's error, if its read failed)."""
    run, got = key(), dict[str, CallFacts | OperationalError]()
    second = Reads()

    def call(name: str, read: Reads, within_s: float) -> None:
        try:
            got[name] = shared_facts.call_facts(run, read, within_s=within_s)
        except OperationalError as error:
            got[name] = error

    reader = threading.Thread(target=call, args=("first", first, shared_facts.SHARED_S))
    reader.start()
    assert first.started.wait(30)
    follower = threading.Thread(target=call, args=("second", second, 3600))
    follower.start()
    assert first.hold is not None
    first.hold.set()
    reader.join(30)
    follower.join(30)
    answer = got["second"]
    assert isinstance(answer, CallFacts)
    assert second.count == (1 if first.fail else 0)
    return got["first"], answer


def test_a_call_that_starts_during_the_read_takes_what_it_read():
    first = Reads(hold=threading.Event())

    assert len(set(map(id, during(first)))) == 1, "both got the one read"
    assert first.count == 1


def test_a_failed_read_is_its_own_calls_error_only():
    failed, other = during(Reads(hold=threading.Event(), fail=True))

    assert isinstance(failed, OperationalError)
    assert isinstance(other, CallFacts), "the other call read for itself"
