"""OpenTelemetry traces for the web and worker processes: configured by the standard OTEL_* variables, off without them.

Off, nothing of the SDK is imported and the engine's spans (engine/spans.py) are the API's
no-ops. On, this process gets a tracer provider exporting over OTLP (HTTP/protobuf; the
endpoint, headers, service name, sampler and batching come from OTEL_* variables, read by the
SDK itself), and Django, Celery, psycopg and httpx are instrumented: an incoming W3C
`traceparent` is honoured, Celery messages carry the trace to the worker, and outbound HTTP
requests (http_request nodes, webhooks, knowledge fetches) send one.
"""

import os
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from engine import spans

_configured_in: int | None = None


def wanted(environ: Mapping[str, str] = os.environ) -> bool:
    """Traces are on when an OTEL_* variable asks for an exporter, unless OTEL_SDK_DISABLED says otherwise."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = environ.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return any(environ.get(name) for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"))


def configure(exporter: Any = None) -> bool:
    """Start tracing in this process if it is wanted (or `exporter` is given, as tests do); True if it is on.

    Called once per process: by config/asgi.py before Django loads its middleware, and by
    config/celery.py when a worker starts (prefork children inherit it; the SDK's batch
    processor restarts its thread after a fork).
    """
    global _configured_in
    if _configured_in == os.getpid():
        return True
    if exporter is None and not wanted():
        return False
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": _service_name()}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(_exporter()))
    trace.set_tracer_provider(provider)
    instrument()
    spans.record()
    _configured_in = os.getpid()
    return True


def _service_name() -> str:
    """OTEL_SERVICE_NAME, else switchyard (Resource.create would otherwise say unknown_service)."""
    return os.environ.get("OTEL_SERVICE_NAME", "").strip() or "switchyard"


def _exporter() -> Any:
    chosen = os.environ.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() or "otlp"
    protocol = os.environ.get(
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
    )
    if chosen == "console":
        from opentelemetry.sdk.trace.export import ConsoleSpanExporter

        return ConsoleSpanExporter()
    if chosen != "otlp":
        raise ImproperlyConfigured(f"OTEL_TRACES_EXPORTER={chosen!r} is not supported: use otlp, console or none")
    if protocol.strip() != "http/protobuf":
        raise ImproperlyConfigured(
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r} is not supported: use http/protobuf "
            "(an OpenTelemetry Collector takes OTLP over HTTP on port 4318)"
        )
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def instrument() -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    DjangoInstrumentor().instrument()
    CeleryInstrumentor().instrument()
    PsycopgInstrumentor().instrument()
    HTTPXClientInstrumentor().instrument()


def uninstrument() -> None:
    """Undo `instrument` (tests that turn tracing on for a while)."""
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

    for instrumentor in (DjangoInstrumentor(), CeleryInstrumentor(), PsycopgInstrumentor(), HTTPXClientInstrumentor()):
        instrumentor.uninstrument()
