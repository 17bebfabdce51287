"""The engine's Prometheus metrics, counted where the engine already records what happened.

Run and node counters come from the events of each committed change (`count_events`, called
by engine/events.py), model calls from their billing (engine/costs.py), node durations and
queue lag from the runner. Labels stay few and bounded: no run or node ids.

With PROMETHEUS_MULTIPROC_DIR set, every process (web, workers, their prefork children)
writes its values to files there and /metrics sums them (docs/observability.md). Each file is
named for the host and the process, not the process alone: containers sharing the directory
have their own process ids, and two of them would otherwise write one file.
"""

import os
import socket
from collections.abc import Iterable
from decimal import Decimal

from prometheus_client import Counter, Gauge, Histogram, multiprocess, values

from engine.event_types import EventType
from engine.models import RunEvent


def process_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    values.ValueClass = values.MultiProcessValue(process_name)
    # A restarted container has the same host name and often the same pid: its live gauges
    # (the open websockets) would start from the value the process before it left behind.
    multiprocess.mark_process_dead(process_name())

RUN_ENDINGS = {
    EventType.RUN_SUCCEEDED: "succeeded",
    EventType.RUN_FAILED: "failed",
    EventType.RUN_CANCELLED: "cancelled",
}
# Node work lasts from milliseconds (a branch) to an hour (GraphNode.timeout_s).
DURATION_BUCKETS = (0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60)

runs_started = Counter("switchyard_runs_started", "Runs started, by workflow id.", ["workflow"])
runs_ended = Counter(
    "switchyard_runs_ended", "Runs that ended, by workflow id and final status.", ["workflow", "status"]
)
node_duration = Histogram(
    "switchyard_node_duration_seconds",
    "Time a node's own code ran, by node kind and outcome (succeeded, failed).",
    ["kind", "outcome"],
    buckets=DURATION_BUCKETS,
)
queue_lag = Histogram(
    "switchyard_node_queue_lag_seconds",
    "Time from a node being due (ready, or its retry time) to a worker claiming it.",
    buckets=LAG_BUCKETS,
)
node_retries = Counter("switchyard_node_retries", "Failed node attempts that will be tried again.")
node_timeouts = Counter("switchyard_node_timeouts", "Node attempts stopped at their timeout.")
node_crashes = Counter(
    "switchyard_node_crashes", "Node attempts whose worker died (stopped beating, or its lease expired)."
)
reaper_redispatches = Counter(
    "switchyard_reaper_redispatches", "Due nodes the reaper sent again because their message looked lost or late."
)
model_calls = Counter(
    "switchyard_model_calls", "Billed model calls, by provider kind and model.", ["provider", "model"]
)
model_tokens = Counter(
    "switchyard_model_tokens",
    "Tokens of billed model calls, by direction (input, output).",
    ["provider", "model", "direction"],
)
model_cost = Counter(
    "switchyard_model_cost", "Cost of billed model calls, in the price table's currency.", ["provider", "model"]
)
budget_refusals = Counter("switchyard_budget_refusals", "Model calls refused because a budget was spent.")
# Set by the web layer's consumers (accounts/consumers.py); defined here so that every metric
# is made after the multiprocess set-up above.
websocket_connections = Gauge(
    "switchyard_websocket_connections", "Open websockets, by socket.", ["socket"], multiprocess_mode="livesum"
)


def count_events(workflow_id: int | None, events: Iterable[RunEvent]) -> None:
    """Count what one committed change of a run did; called after its commit."""
    workflow = str(workflow_id or "")
    for event in events:
        if event.type == EventType.RUN_QUEUED:
            runs_started.labels(workflow).inc()
        elif ending := RUN_ENDINGS.get(EventType(event.type)):
            runs_ended.labels(workflow, ending).inc()
        elif event.type == EventType.NODE_FAILED:
            if event.payload.get("code") == "timeout":
                node_timeouts.inc()
            if event.payload.get("retry_at"):
                node_retries.inc()
        elif event.type == EventType.NODE_CRASHED:
            node_crashes.inc()


def count_model_call(provider_kind: str, model: str, tokens_in: int, tokens_out: int, cost: Decimal) -> None:
    model_calls.labels(provider_kind, model).inc()
    model_tokens.labels(provider_kind, model, "input").inc(tokens_in)
    model_tokens.labels(provider_kind, model, "output").inc(tokens_out)
    model_cost.labels(provider_kind, model).inc(float(cost))
