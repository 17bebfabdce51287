"""A batch's download as the production server serves it (ASGI): every row, sent as it is read rather than read whole
first (datasets.batch_api.download_response)."""

import asyncio
import csv
import io
import warnings

import pytest

from accounts import tokens
from accounts.models import Scope
from config.asgi import application
from datasets import batches, results, store
from tests import asgi_calls
from tests.engine.graphs import chain, node
from tests.factories import WorkflowFactory, WorkflowVersionFactory

# The rows stay pending: no worker runs them, and a pending row is downloaded like any other.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("without_worker")]

ROWS = 1_200  # more than one part (batch_api.LINES_PER_PART) and more than one read (results.EXPORT_CHUNK)
# What Django says when, under ASGI, it reads a plain iterator to its end before sending any of it.
BUFFERED = "must consume synchronous iterators"


def test_a_download_under_asgi_is_sent_as_it_is_read_and_holds_every_row(owner):
    graph = chain(node("start", "trigger"), node("label", "transform", fields={"label": "{{ input.subject }}"}))
    version = WorkflowVersionFactory(workflow=WorkflowFactory(workspace=owner.workspace, draft=graph), graph=graph)
    rows = [{"subject": f"s{n}"} for n in range(ROWS)]
    dataset = store.from_rows(owner.workspace, store.DatasetSpec("Rows"), rows, owner.user)
    batch = batches.start_batch(batches.BatchSpec(dataset, version), owner.user)
    secret = tokens.issue(owner.workspace, owner.user, "ci", [Scope.DATASETS_READ.value], None).secret

    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        sent = asyncio.run(
            asgi_calls.request(
                application, "GET", f"/api/v1/batches/{batch.pk}/download", {"authorization": f"Bearer {secret}"}
            )
        )

    assert sent[0]["status"] == 200
    assert not [warning for warning in seen if BUFFERED in str(warning.message)]
    body = b"".join(message.get("body", b"") for message in sent[1:]).decode()
    table = list(csv.DictReader(io.StringIO(body)))
    assert [line["row"] for line in table] == [str(n) for n in range(1, ROWS + 1)]
    assert [line["input.subject"] for line in table] == [row["subject"] for row in rows]
    assert {line["status"] for line in table} == {results.PENDING}
