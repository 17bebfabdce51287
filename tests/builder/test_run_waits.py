"""`wait=true` and MCP calls through the production ASGI stack: hundreds of waiting calls, no polling, other pages
still answer."""

import asyncio
import functools
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from typing import Any

import httpx
import httpx2
import pytest
from asgiref.sync import ThreadSensitiveContext
from django.db import connection
from django.db.backends.signals import connection_created
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp_types import CallToolResult, TextContent

from accounts import tokens
from accounts.models import Scope
from builder import run_waits
from engine.models import Run
from tests.engine.graphs import TRIGGER, chain, node
from tests.eventually import eventually
from tests.factories import WorkflowFactory, WorkflowVersionFactory
from tests.workers import Worker

GRAPH = chain(TRIGGER, node("answer", "reply", answer="hi"))
WAITING_CALLS = 200
# Calls are started a few at a time, each start taking a database connection of its own, so
# that the test stays well under PostgreSQL's connection limit; the waits then all overlap.
BATCH = 10
# Every call must still be waiting when its run ends: on a loaded machine, starting them all takes
# longer than the production cap of 60 s (tests/settings.py raises the cap for the test session).
WAIT_S = 600


class StatusReads:
    """Reads of a run's status by the test server's threads, counted by a test-only wrapper on their connections.

    Counts what the old polling read (the status by the run's id) as well as what a waiting call reads now.
    """

    def __init__(self) -> None:
        self.run_ids: list[int] = []
        self.lock = threading.Lock()
        self.test_thread = threading.current_thread()

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        by_id = '"engine_run"."id" = %s'
        reads_status = sql.startswith("SELECT") and '"engine_run"."status"' in sql and by_id in sql
        if reads_status and threading.current_thread() is not self.test_thread:
            with self.lock:
                self.run_ids.append(params[sql[: sql.index(by_id)].count("%s")])
        return execute(sql, params, many, context)

    def install(self, sender: Any, connection: Any, **kwargs: Any) -> None:
        if self not in connection.execute_wrappers:
            connection.execute_wrappers.append(self)

    def count(self) -> int:
        with self.lock:
            return len(self.run_ids)

    def read_runs_of(self, calls: int) -> bool:
        with self.lock:
            return len(set(self.run_ids)) >= calls


@pytest.fixture
def status_reads() -> Iterator[StatusReads]:
    reads = StatusReads()
    connection_created.connect(reads.install)
    yield reads
    connection_created.disconnect(reads.install)
    if reads in connection.execute_wrappers:
        connection.execute_wrappers.remove(reads)


@pytest.fixture
def client_loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop on its own thread for the HTTP client, so that the test's thread can watch the database."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="test-http-client", daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)
    loop.close()


@pytest.mark.usefixtures("without_worker")
def test_hundreds_of_waiting_calls_do_not_poll_and_end_with_their_runs(
    asgi_server, owner, settings, status_reads, client_loop
):
    settings.API_TOKEN_TRIGGERS_PER_MINUTE = 10_000
    # The safety re-read for dropped prompts comes after the test, not during it.
    settings.RUN_WAIT_RECHECK_SECONDS = 600
    workflow = WorkflowFactory(workspace=owner.workspace, name="Echo", draft=GRAPH)
    WorkflowVersionFactory(workflow=workflow, number=1, graph=GRAPH)
    secret = tokens.issue(owner.workspace, owner.user, "waits", [Scope.RUNS_TRIGGER, Scope.WORKFLOWS_READ], None).secret
    http = httpx.AsyncClient(
        base_url=asgi_server,
        headers={"Authorization": f"Bearer {secret}"},
        timeout=WAIT_S,
        limits=httpx.Limits(max_connections=WAITING_CALLS + 10),
    )

    def soon(work: Any) -> Future[httpx.Response]:
        return asyncio.run_coroutine_threadsafe(work, client_loop)

    trigger = f"/api/v1/workflows/{workflow.pk}/runs"
    calls: list[Future[httpx.Response]] = []
    # No worker yet: every run stays queued, so each call joins its run's group and waits.
    for _ in range(WAITING_CALLS // BATCH):
        calls += [soon(http.post(trigger, json={"wait": True, "timeout_s": WAIT_S})) for _ in range(BATCH)]
        eventually(
            functools.partial(status_reads.read_runs_of, len(calls)),
            timeout=60,
            message=f"each of {len(calls)} calls to read its run once",
        )
    assert Run.objects.filter(workflow_id=workflow.pk).count() == WAITING_CALLS
    read_while_waiting = status_reads.count()

    # Another page answers while every call waits, and no waiting call reads its run again.
    for _ in range(20):
        page = soon(http.get(f"/api/v1/workflows/{workflow.pk}")).result(timeout=60)
        assert page.status_code == 200
    assert not any(call.done() for call in calls)
    assert status_reads.count() == read_while_waiting, "a waiting call read its run without being prompted"

    # A worker of its own: the shared one, started now, would first drop the queued messages.
    worker = Worker()
    try:
        answers = [call.result(timeout=WAIT_S) for call in calls]
        worker.settle()
    finally:
        worker.stop()
    assert {answer.status_code for answer in answers} == {200}
    assert {(answer.json()["status"], str(answer.json()["output"])) for answer in answers} == {
        ("succeeded", "{'answer': 'hi'}")
    }
    # Once prompted, a call reads its run again: a few times per run (one per prompt), not 20 a second.
    assert status_reads.count() - read_while_waiting <= WAITING_CALLS * 10
    soon(http.aclose()).result(timeout=10)


@pytest.mark.usefixtures("without_worker")
def test_a_waiting_call_answers_202_with_the_run_when_time_is_up(asgi_server, owner, client_loop):
    workflow = WorkflowFactory(workspace=owner.workspace, name="Echo", draft=GRAPH)
    WorkflowVersionFactory(workflow=workflow, number=1, graph=GRAPH)
    secret = tokens.issue(owner.workspace, owner.user, "waits", [Scope.RUNS_TRIGGER], None).secret

    async def call(body: dict[str, object]) -> httpx.Response:
        async with httpx.AsyncClient(base_url=asgi_server, headers={"Authorization": f"Bearer {secret}"}) as http:
            return await http.post(f"/api/v1/workflows/{workflow.pk}/runs", json=body)

    answer = asyncio.run_coroutine_threadsafe(call({"wait": True, "timeout_s": 0.5}), client_loop).result(timeout=60)
    assert (answer.status_code, answer.json()["status"]) == (202, "queued")
    # The answer took the view's placeholder's place innermost (config/waiting_answers.py): the middleware
    # above it set their headers on it as on the plain trigger's answer.
    plain = asyncio.run_coroutine_threadsafe(call({}), client_loop).result(timeout=60)
    for header in ("Content-Type", "X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy"):
        assert header in plain.headers
        assert answer.headers[header] == plain.headers[header]


def test_calls_whose_runs_end_together_read_a_few_at_a_time():
    """Hundreds of waits ending at once would each read on a connection of its own, past max_connections."""
    calls = 3 * run_waits.READERS
    lock = threading.Lock()
    release = threading.Event()
    reading = {"now": 0, "peak": 0}

    def probe() -> bool:
        with lock:
            reading["now"] += 1
            reading["peak"] = max(reading["peak"], reading["now"])
        release.wait(30)
        with lock:
            reading["now"] -= 1
        return True

    async def one_call() -> bool:
        async with ThreadSensitiveContext():  # as each ASGI request has: a thread of its own
            return await run_waits.read(probe)

    async def all_calls() -> list[bool]:
        tasks = [asyncio.ensure_future(one_call()) for _ in range(calls)]
        while reading["now"] < run_waits.READERS:
            await asyncio.sleep(0.01)
        release.set()
        return await asyncio.gather(*tasks)

    assert asyncio.run(all_calls()) == [True] * calls
    assert reading["peak"] == run_waits.READERS


@pytest.mark.usefixtures("without_worker")
def test_a_waiting_call_whose_run_is_deleted_answers_410(asgi_server, owner, settings, client_loop):
    # The waiting call looks again this often: the deletion sends no prompt.
    settings.RUN_WAIT_RECHECK_SECONDS = 0.2
    workflow = WorkflowFactory(workspace=owner.workspace, name="Echo", draft=GRAPH)
    WorkflowVersionFactory(workflow=workflow, number=1, graph=GRAPH)
    secret = tokens.issue(owner.workspace, owner.user, "waits", [Scope.RUNS_TRIGGER], None).secret

    async def call() -> httpx.Response:
        headers = {"Authorization": f"Bearer {secret}"}
        async with httpx.AsyncClient(base_url=asgi_server, headers=headers, timeout=60) as http:
            return await http.post(f"/api/v1/workflows/{workflow.pk}/runs", json={"wait": True, "timeout_s": 30})

    answer = asyncio.run_coroutine_threadsafe(call(), client_loop)
    run = eventually(lambda: Run.objects.filter(workflow_id=workflow.pk).first(), timeout=30, message="the run")
    Run.objects.filter(pk=run.pk).delete()

    response = answer.result(timeout=90)
    assert response.status_code == 410
    assert response.json()["error"]["message"] == f"Run {run.pk} was deleted while this call waited for it"


@pytest.mark.usefixtures("without_worker")
def test_an_mcp_call_whose_run_is_deleted_while_it_waits_is_an_error_result(asgi_server, owner, settings, client_loop):
    settings.RUN_WAIT_RECHECK_SECONDS = 0.2
    settings.MCP_CALL_WAIT_SECONDS = 30
    workflow = WorkflowFactory(workspace=owner.workspace, name="Echo", draft=GRAPH, mcp_tool=True)
    WorkflowVersionFactory(workflow=workflow, number=1, graph=GRAPH)
    secret = tokens.issue(owner.workspace, owner.user, "claude", [Scope.MCP], None).secret

    async def call() -> CallToolResult:
        http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {secret}"}, timeout=60)
        async with http, Client(streamable_http_client(f"{asgi_server}/mcp/", http_client=http)) as client:
            return await client.call_tool(f"echo_{workflow.pk}", {})

    answer = asyncio.run_coroutine_threadsafe(call(), client_loop)
    run = eventually(lambda: Run.objects.filter(workflow_id=workflow.pk).first(), timeout=30, message="the run")
    Run.objects.filter(pk=run.pk).delete()

    result = answer.result(timeout=90)
    assert result.is_error is True
    message = f"Run {run.pk} was deleted while this call waited for it"
    assert [block.text for block in result.content if isinstance(block, TextContent)] == [message]
    assert result.structured_content == {"run_id": run.pk, "status": "deleted", "error": message}
