"""What a model call reads first (lookups.call_facts), read once for the calls of one run that start together.

The branches of a fan-out call the same model at about the same moment, and each read the
same price, budgets, run and provider configuration: a round trip, and about a seventh of a
model-call node's CPU in the worker (docs/benchmarks.md, "Model-call fan-out"). The first
call of a run to a provider and model reads them; the calls of that run to the same that
start within SHARED_S of that read take what it read (those starting while it is under way
wait for it). Calls a second apart could have read either way: nothing orders the branches
of a fan-out. A later call, and every retry of a call (engine/providers/calls.py), reads
afresh. The spend itself is never taken from here: budgets.reserve locks and reads the
budgets' spends for every call.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any

from engine.sql import lookups

SHARED_S = 1.0
# Runs whose facts are kept at once, most recently read last; an older one is forgotten (and read again).
MOST = 1024

_lock = threading.Lock()
_reads: OrderedDict[Hashable, tuple[float, Future[lookups.CallFacts]]] = OrderedDict()


def call_facts(
    key: tuple[Any, ...], read: Callable[[], lookups.CallFacts], within_s: float = SHARED_S
) -> lookups.CallFacts:
    """What `read` gives, or what it gave for the same `key` (run, provider, model) less than `within_s` ago.

    A call whose shared read failed reads for itself, so that one error is not every call's.
    """
    now = time.monotonic()
    future: Future[lookups.CallFacts] = Future()
    with _lock:
        found = _reads.get(key)
        if found is not None and now - found[0] < within_s:
            shared: Future[lookups.CallFacts] | None = found[1]
        else:
            shared = None
            _reads[key] = (now, future)
            _reads.move_to_end(key)
            while len(_reads) > MOST:
                _reads.popitem(last=False)
    if shared is not None:
        try:
            return shared.result()
        except Exception:  # noqa: BLE001  (the reader's error was the reader's to report)
            return read()
    try:
        facts = read()
    except BaseException as error:
        with _lock:
            if _reads.get(key, (0.0, None))[1] is future:
                del _reads[key]
        future.set_exception(error)
        raise
    future.set_result(facts)
    return facts
