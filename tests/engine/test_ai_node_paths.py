"""An AI node through the fake server, on a worker logging at DEBUG: the API key is kept out of logs and sockets."""

from collections.abc import Iterator
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async

from engine.models import Run, RunEvent
from tests.accounts.test_consumers import connect as connect_workspace
from tests.accounts.test_consumers import session_cookie
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import start, wait_for
from tests.engine.test_consumers import connect as connect_run
from tests.engine.test_credentials import CANARY
from tests.factories import ProviderConfigFactory
from tests.fake_openai import Failure
from tests.workers import SharedWorker, Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]

ENDED_EVENTS = {"run.succeeded", "run.failed", "run.cancelled"}


@pytest.fixture(scope="module")
def worker_process(shared_worker: SharedWorker) -> Iterator[Worker]:
    """This module's worker logs everything down to DEBUG, so a leaked key would be in its output."""
    with shared_worker.replaced_by(loglevel="DEBUG") as worker:
        yield worker


def test_it_keeps_the_api_key_out_of_debug_logs_and_live_messages(owner, fake, celery_worker):
    ProviderConfigFactory(workspace=owner.workspace, name="fake", base_url=fake.url, api_key=CANARY)
    fake.latency_s = 0.5  # long enough for the run's socket to join before the node ends, so events arrive live
    fake.failures = [Failure(401, message="bad key"), Failure(500)]
    data = chain(TRIGGER, node("draft", "generate", provider="fake", model="gpt-test", prompt="hi"))
    cookie = session_cookie(owner)

    async def watch() -> tuple[Run, list[Any], list[Any]]:
        """Start a run with the workspace's socket open, join the run's socket, and read both until the run ends."""
        workspace_socket = connect_workspace(cookie)
        assert (await workspace_socket.connect())[0]
        workspace_messages = [await workspace_socket.receive_json_from(timeout=5)]
        run = await database_sync_to_async(start)(owner.workspace, data)
        run_socket = connect_run(cookie, run.pk)
        assert (await run_socket.connect())[0]
        run_messages = [await run_socket.receive_json_from(timeout=5)]
        while run_messages[-1].get("event") not in ENDED_EVENTS:
            run_messages.append(await run_socket.receive_json_from(timeout=30))
        while workspace_messages[-1].get("status") not in {"succeeded", "failed", "cancelled"}:
            workspace_messages.append(await workspace_socket.receive_json_from(timeout=30))
        await run_socket.disconnect()
        await workspace_socket.disconnect()
        return run, run_messages, workspace_messages

    failed, failed_run_messages, failed_workspace_messages = async_to_sync(watch)()
    succeeded, succeeded_run_messages, succeeded_workspace_messages = async_to_sync(watch)()

    assert (wait_for(failed).status, wait_for(succeeded).status) == ("failed", "succeeded")
    assert [seen.headers["authorization"] for seen in fake.seen] == [f"Bearer {CANARY}"] * 3
    assert "fake answered 401: bad key" in str(failed_run_messages)
    assert failed_run_messages[-1]["event"] == "run.failed"
    assert succeeded_run_messages[-1]["event"] == "run.succeeded"
    assert failed_workspace_messages[-1]["status"] == "failed"
    assert succeeded_workspace_messages[-1]["status"] == "succeeded"
    messages = [failed_run_messages, failed_workspace_messages, succeeded_run_messages, succeeded_workspace_messages]
    assert CANARY not in str(messages)
    assert CANARY not in str(list(RunEvent.objects.values_list("type", "payload")))
    log = celery_worker.output()
    # The SDK's and the HTTP client's own lines about each request were logged, and kept no key.
    assert "DEBUG openai._base_client: Sending HTTP Request: POST" in log
    assert "HTTP Request: POST " in log
    assert CANARY not in log
