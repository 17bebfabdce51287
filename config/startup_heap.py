"""Leaving what a process loaded at start out of the garbage collector's full collections (gc.freeze).

A full collection (generation 2) walks every object the process tracks. In a web process that
is about 300,000 objects, nearly all of them modules, classes, functions and settings loaded at
start, none of which ever becomes garbage. One such walk took 146 ms on a 2-core machine, once
every few thousand requests, and every request in flight in that process waited for it: the
p99 of an otherwise 2 ms request (docs/benchmarks.md, "API trigger throughput", fourteenth
round). Frozen, those objects are skipped, and a full collection walks only what came since:
1.5 ms. A frozen object is never freed, even if it later becomes unreachable; what start
loads lives as long as the process anyway.
"""

import gc
import logging

log = logging.getLogger(__name__)


def freeze() -> int:
    """Free the garbage made so far, then freeze every object left; how many were frozen."""
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.info("froze %d objects loaded at start: full collections skip them", frozen)
    return frozen


def freeze_web() -> int:
    """Load what a web process's first request would (the URLconf, so every view module), then `freeze`."""
    from django.urls import get_resolver

    get_resolver().url_patterns  # noqa: B018  (evaluating it imports the URLconf and every view it names)
    return freeze()
