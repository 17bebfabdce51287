"""Evidence for where the engine's wall time goes on the real worker, gathered after the timed repetitions.

Two probes, neither part of the figures: per-node gaps between RunEvents of the measured
chain runs (how long a ready node waits to be claimed, and claim to success), and what the
database backends do during one extra fan-out run, sampled from pg_stat_activity: a backend
waiting on a `Lock` is a worker thread queued behind another one's run-row lock.
"""

import statistics
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import datetime

import psycopg

SAMPLE_S = 0.005


def event_gaps(run_ids: list[int]) -> list[str]:
    """Median ms from node.queued to node.running (Celery hop, reconnect, claim), then to node.succeeded."""
    from engine.models import RunEvent

    seen: dict[tuple[int, str], dict[str, datetime]] = defaultdict(dict)
    rows = RunEvent.objects.filter(run_id__in=run_ids, type__in=["node.queued", "node.running", "node.succeeded"])
    for run_id, node_id, kind, at in rows.values_list("run_id", "node_id", "type", "created_at"):
        seen[(run_id, node_id)][kind] = at
    if not seen:
        return []

    def gap(start: str, end: str) -> float:
        return statistics.median((t[end] - t[start]).total_seconds() * 1000 for t in seen.values())

    return [
        f"  engine chain, from RunEvent times in the worker ({len(seen)} nodes): "
        f"queued -> running {gap('node.queued', 'node.running'):.1f} ms, "
        f"running -> succeeded {gap('node.running', 'node.succeeded'):.1f} ms (medians)"
    ]


def backend_states(database_url: str, database: str, work: Callable[[], float]) -> list[str]:
    """Run `work` while sampling the bench database's client backends; the average count in each state."""
    states: Counter[tuple[str, str]] = Counter()
    samples = 0
    stop = threading.Event()

    def sample() -> None:
        nonlocal samples
        with psycopg.connect(database_url, autocommit=True) as conn:
            while not stop.is_set():
                rows = conn.execute(
                    "SELECT coalesce(wait_event_type, 'on CPU'), coalesce(state, '') FROM pg_stat_activity "
                    "WHERE datname = %s AND backend_type = 'client backend' AND application_name NOT LIKE 'bench%%'",
                    (database,),
                ).fetchall()
                samples += 1
                states.update((str(wait), str(state)) for wait, state in rows)
                time.sleep(SAMPLE_S)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        wall = work()
    finally:
        stop.set()
        sampler.join(5)
    if not samples:
        return []
    described = {
        ("Lock", "active"): "waiting for a row lock (the run row)",
        ("Client", "idle in transaction"): "idle in transaction (holder computing in Python)",
        ("Client", "idle"): "connected, idle between transactions",
    }
    lines = [f"  backends during one extra engine fan-out ({wall:.2f} s, {samples} samples of pg_stat_activity):"]
    for (wait, state), count in states.most_common(5):
        label = described.get((wait, state), f"{wait} / {state}")
        lines.append(f"    {count / samples:5.2f} on average  {label}")
    return lines
