"""LOG_FORMAT=json on a real worker: one JSON object per line, the node's ids on its lines, no secret in any."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from engine import workspace_secrets
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import start, wait_for
from tests.engine.test_workspace_secrets import CANARY
from tests.fakes import RecordingServer, Reply
from tests.workers import SharedWorker, Worker

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("celery_worker")]


@pytest.fixture(scope="module")
def worker_process(shared_worker: SharedWorker) -> Iterator[Worker]:
    """At INFO httpx logs each request's URL, which here carries the secret."""
    with shared_worker.replaced_by(loglevel="INFO", env={"LOG_FORMAT": "json"}) as worker:
        yield worker


def json_lines(output: str) -> list[dict[str, Any]]:
    """The log records; Celery's start-up banner goes to stdout before logging is set up, and is skipped."""
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_it_writes_json_lines_with_the_node_ids_and_no_secret(owner, celery_worker):
    workspace_secrets.create(owner.workspace_id, "CANARY", CANARY, owner.user)
    server = RecordingServer(Reply(body={"echo": CANARY}))
    call = node("call", "http_request", url=server.url + "/v1?key={{ secrets.CANARY }}")
    try:
        run = wait_for(start(owner.workspace, chain(TRIGGER, call)))
    finally:
        server.close()

    assert run.status == "succeeded"
    assert server.received[0].path == f"/v1?key={CANARY}"
    output = celery_worker.output()
    assert CANARY not in output
    records = json_lines(output)
    [request] = [r for r in records if r["logger"] == "httpx" and r.get("run_id") == run.pk]
    assert {key: request[key] for key in ("level", "node_id", "attempt")} == {
        "level": "INFO",
        "node_id": "call",
        "attempt": 1,
    }
    assert "/v1?key=[secret CANARY]" in request["message"]
    assert {"time", "level", "logger", "message"} <= set(records[0])
