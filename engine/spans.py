"""The engine's trace spans: one per node attempt, one per model call (docs/observability.md).

Written against OpenTelemetry's API only. Until config/tracing.py installs the SDK (some OTEL_*
variable asks for traces) and calls `record`, no span is started at all: the API's no-op
tracer still attaches contexts and built spans, some 60 µs per node on the test machine.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context, trace
from opentelemetry.util.types import AttributeValue

tracer = trace.get_tracer("switchyard.engine")
_recording = False


def record() -> None:
    """Start making spans; config/tracing.py calls it once the SDK's tracer provider is set."""
    global _recording
    _recording = True


def current_context() -> context.Context | None:
    """The caller's trace context, to hand to a node thread: ThreadPoolExecutor does not carry it over."""
    return context.get_current() if _recording else None


@contextmanager
def node_attempt(
    parent: context.Context | None, run_id: int, node_id: str, kind: str, attempt: int
) -> Iterator[trace.Span]:
    """A node's code running on its node thread; the runner adds `switchyard.node.status` at the end."""
    if not _recording:
        yield trace.INVALID_SPAN
        return
    attributes: dict[str, AttributeValue] = {
        "switchyard.run.id": run_id,
        "switchyard.node.id": node_id,
        "switchyard.node.kind": kind,
        "switchyard.node.attempt": attempt,
    }
    with tracer.start_as_current_span(f"node {kind}", context=parent, attributes=attributes) as span:
        yield span


@contextmanager
def model_call(system: str, model: str) -> Iterator[trace.Span]:
    """One chat call to a provider, with the GenAI semantic conventions' request attributes."""
    if not _recording:
        yield trace.INVALID_SPAN
        return
    attributes: dict[str, AttributeValue] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": system,
        "gen_ai.request.model": model,
    }
    with tracer.start_as_current_span(f"chat {model}", kind=trace.SpanKind.CLIENT, attributes=attributes) as span:
        yield span


@contextmanager
def operation(name: str, attributes: dict[str, AttributeValue]) -> Iterator[trace.Span]:
    """A span for other work worth seeing in a trace (a knowledge search)."""
    if not _recording:
        yield trace.INVALID_SPAN
        return
    with tracer.start_as_current_span(name, attributes=attributes) as span:
        yield span


def trace_id() -> str:
    """The current trace's id in hex, or "" outside a recorded trace."""
    if not _recording:
        return ""
    span_context = trace.get_current_span().get_span_context()
    return trace.format_trace_id(span_context.trace_id) if span_context.is_valid else ""
