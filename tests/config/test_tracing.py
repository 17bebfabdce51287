"""Traces: off unless OTEL_* variables ask; on, one trace from the API call to the worker's model and HTTP calls."""

import json
import logging
from collections.abc import Iterator

import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from config import tracing
from engine import spans
from engine.log_context import NodeFields
from engine.models import Run
from knowledge.search import search
from tests.engine.graphs import TRIGGER, chain, generate, node
from tests.engine.running import wait_for
from tests.eventually import eventually
from tests.factories import KnowledgeBaseFactory, WorkflowFactory, WorkflowVersionFactory
from tests.fakes import RecordingServer, Reply
from tests.workers import SharedWorker, Worker, run_python

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"

# Imports the ASGI application, as uvicorn does, and reports what tracing set up. (redis-py imports
# parts of the SDK for its own optional metrics whenever it is installed, so that is not asked.)
PROBE = """
import json, sys
import config.asgi
from opentelemetry import trace
from engine import spans
print(json.dumps({"instrumented": any(name.startswith("opentelemetry.instrumentation.") for name in sys.modules),
                  "provider": type(trace.get_tracer_provider()).__name__,
                  "recording": spans.tracer.start_span("probe").is_recording()}))
"""


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, False),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, False),
    ],
)
def test_it_is_on_only_when_otel_variables_ask(environ, on):
    assert tracing.wanted(environ) is on


def test_it_instruments_nothing_and_records_nothing_when_off(tmp_path):
    env = {"PATH": "/usr/bin:/bin", "SWITCHYARD_DATA_DIR": str(tmp_path)}
    result = run_python(PROBE, env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "instrumented": False,
        "provider": "ProxyTracerProvider",
        "recording": False,
    }


@pytest.fixture(scope="module")
def receiver() -> Iterator[RecordingServer]:
    """A fake OTLP/HTTP collector: it answers 200 to every export and keeps the request bodies."""
    server = RecordingServer(Reply(body=b""))
    yield server
    server.close()


@pytest.fixture(scope="module")
def worker_process(shared_worker: SharedWorker, receiver: RecordingServer) -> Iterator[Worker]:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url, "OTEL_BSP_SCHEDULE_DELAY": "50", "OTEL_SERVICE_NAME": "worker"}
    with shared_worker.replaced_by(env=env) as worker:
        yield worker


@pytest.fixture(scope="module")
def web_spans() -> Iterator[InMemorySpanExporter]:
    """Tracing in this (the web) process for the module's tests, into memory.

    The SDK takes one tracer provider per process, and pytest-django runs this module's
    transactional test apart from the others, tearing this fixture down and setting it up
    again in between: the second time, the provider is kept and given a new exporter.
    """
    exporter = InMemorySpanExporter()
    provider = trace.get_tracer_provider()
    if isinstance(provider, TracerProvider):
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        tracing.instrument()
    else:
        assert tracing.configure(exporter=exporter)
    yield exporter
    tracing.uninstrument()
    exporter.shutdown()  # it keeps nothing more for the rest of the session


def exported_spans(receiver: RecordingServer) -> list:
    spans = []
    for request in receiver.requests("/v1/traces"):
        export = ExportTraceServiceRequest()
        export.ParseFromString(request.body)
        spans += [span for batch in export.resource_spans for scope in batch.scope_spans for span in scope.spans]
    return spans


def attributes(span) -> dict:
    return {a.key: getattr(a.value, a.value.WhichOneof("value")) for a in span.attributes}


@pytest.mark.django_db(transaction=True)
def test_one_trace_runs_from_the_api_call_to_the_model_and_http_calls(
    owner, login_as, provider, price, web_spans, receiver, celery_worker, settings
):
    settings.TRACE_URL_TEMPLATE = "https://traces.example.com/trace/{trace_id}"
    target = RecordingServer(Reply(body={"ok": True}))
    graph = chain(TRIGGER, generate(), node("call", "http_request", url=target.url))
    owner.workspace.http_allowlist = ["127.0.0.1"]
    owner.workspace.save(update_fields=["http_allowlist"])
    flow = WorkflowFactory(workspace=owner.workspace, draft=graph)
    WorkflowVersionFactory(workflow=flow, number=1, graph=graph)
    client = login_as(owner)
    try:
        response = client.post(
            f"/api/v1/workflows/{flow.pk}/runs",
            {"input": {"body": "hi"}},
            content_type="application/json",
            headers={"X-CSRFToken": client.csrf_token(), "traceparent": TRACEPARENT},
        )
        run = wait_for(Run.objects.get(pk=response.json()["id"]))
    finally:
        target.close()

    assert run.status == "succeeded"
    [outbound] = target.received
    sent = {name.lower(): value for name, value in outbound.headers.items()}
    assert sent["traceparent"].split("-")[1] == TRACE_ID  # request → Celery → worker → node → outbound HTTP
    [request_span] = [s for s in web_spans.get_finished_spans() if s.name.startswith("POST ")]
    assert trace.format_trace_id(request_span.context.trace_id) == TRACE_ID
    page = client.get(f"/runs/{run.pk}/").content.decode()
    assert f'href="https://traces.example.com/trace/{TRACE_ID}"' in page

    def worker_spans() -> list:
        spans = exported_spans(receiver)
        return spans if {"node generate", "node http_request", "chat gpt-test"} <= {s.name for s in spans} else []

    spans = eventually(worker_spans, timeout=10)
    assert {span.trace_id.hex() for span in spans if span.name.startswith(("node ", "chat "))} == {TRACE_ID}
    [node_span] = [s for s in spans if s.name == "node generate"]
    assert attributes(node_span) == {
        "switchyard.run.id": run.pk,
        "switchyard.node.id": "draft",
        "switchyard.node.kind": "generate",
        "switchyard.node.attempt": 1,
        "switchyard.node.status": "succeeded",
    }
    [model_span] = [s for s in spans if s.name == "chat gpt-test"]
    assert model_span.parent_span_id == node_span.span_id
    assert attributes(model_span) == {
        "gen_ai.operation.name": "chat",
        "gen_ai.system": provider.kind,
        "gen_ai.request.model": "gpt-test",
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 500,
        "switchyard.cost": pytest.approx(0.0075),
    }


@pytest.mark.django_db
def test_a_knowledge_search_is_a_span(web_spans):
    base = KnowledgeBaseFactory()

    assert search(base, "refund policy", top_k=3) == []

    [span] = [s for s in web_spans.get_finished_spans() if s.name == "knowledge search"]
    assert dict(span.attributes or {}) == {
        "switchyard.knowledge_base.id": base.pk,
        "switchyard.search.top_k": 3,
        "switchyard.search.passages": 0,
    }


def test_a_log_line_in_a_trace_carries_its_id(web_spans):
    record = logging.LogRecord("engine.runner", logging.INFO, __file__, 1, "claimed", None, None)
    with spans.tracer.start_as_current_span("task") as span:
        assert NodeFields().filter(record)
    assert record.__dict__["trace_id"] == trace.format_trace_id(span.get_span_context().trace_id)
