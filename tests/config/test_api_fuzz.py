"""Every API operation, called with requests that schemathesis generates from our OpenAPI schema,
answers without a server error: through the real ASGI server, as an owner's browser session (which
reaches every operation, the session-only ones too) and with an all-scopes API token."""

import re
from collections import Counter
from typing import Any

import pytest
import schemathesis
from django.conf import settings as django_settings
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from accounts import tokens
from accounts.models import Scope
from datasets import batches, store
from tests.factories import (
    ApprovalRequestFactory,
    DocumentFactory,
    RunFactory,
    WorkflowFactory,
    WorkflowVersionFactory,
)

# Enough to reach every operation with valid and invalid input while the test stays near a minute on
# a 2-core machine; derandomized, so a failure reproduces and the test passes in any order.
PASSES = [
    # Valid input on the workspace's real objects: a made-up id would stop most requests at the 404.
    (GenerationMode.POSITIVE, True, 6, "session"),
    (GenerationMode.POSITIVE, True, 2, "token"),
    # Made-up ids (64-bit overflow, words, floats) and input that breaks the schema.
    (GenerationMode.POSITIVE, False, 2, "session"),
    (GenerationMode.NEGATIVE, False, 4, "session"),
]
TRIGGER_ONLY = {"schema_version": 1, "nodes": [{"id": "start", "type": "trigger"}], "edges": []}
CSRF = "fuzz" * 8  # a CSRF secret: 32 letters or digits


@pytest.fixture
def bearer(owner) -> dict[str, str]:
    issued = tokens.issue(owner.workspace, owner.user, "fuzz", list(Scope), None)
    return {"Authorization": f"Bearer {issued.secret}"}


@pytest.fixture
def session(owner, login_as) -> dict[str, dict[str, str]]:
    """The cookies and header of a signed-in browser; any CSRF secret works when cookie and header agree."""
    signed_in = login_as(owner)
    cookies = {django_settings.SESSION_COOKIE_NAME: signed_in.cookies[django_settings.SESSION_COOKIE_NAME].value}
    return {"headers": {"X-CSRFToken": CSRF}, "cookies": {**cookies, django_settings.CSRF_COOKIE_NAME: CSRF}}


@pytest.fixture
def real_ids(owner) -> dict[str, int]:
    workspace = owner.workspace
    approval = ApprovalRequestFactory(workspace=workspace, run=RunFactory(workspace=workspace))
    document = DocumentFactory(knowledge_base__workspace=workspace)
    dataset = store.from_rows(workspace, store.DatasetSpec("Fuzz"), [{"subject": "s"}], None)
    version = WorkflowVersionFactory(workflow__workspace=workspace, graph=TRIGGER_ONLY)
    batch = batches.start_batch(batches.BatchSpec(dataset, version), None)
    return {
        "workspace_id": workspace.pk,
        "workflow_id": WorkflowFactory(workspace=workspace).pk,
        "run_id": approval.run_id,
        "approval_id": approval.pk,
        "base_id": document.knowledge_base_id,
        "document_id": document.pk,
        "dataset_id": dataset.pk,
        "batch_id": batch.pk,
    }


def streams(case: Any) -> bool:
    """A trigger answered with Server-Sent Events until its run ends: here, with no worker, never."""
    return isinstance(case.body, dict) and case.body.get("stream") is True


def exercise(strategy, examples: int, send: dict[str, Any], base_url: str, statuses: Counter[int]) -> list[str]:
    """Send `examples` cases drawn from `strategy`; the curl commands of those that answered 5xx."""
    server_errors: list[str] = []

    @given(case=strategy.filter(lambda case: not streams(case)))
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def call(case):
        response = case.call(base_url=base_url, timeout=30, **send)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            server_errors.append(f"{response.status_code} {case.as_curl_command()}"[:2000])

    call()
    return server_errors


@pytest.mark.usefixtures("without_worker")  # the runs it may start stay queued, as they did before
def test_it_answers_no_server_error_to_generated_requests(asgi_server, bearer, session, real_ids):
    credentials = {"token": {"headers": bearer}, "session": session}
    schema = schemathesis.openapi.from_url(f"{asgi_server}/api/v1/openapi.json", headers=bearer)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) > 50
    server_errors: list[str] = []
    statuses: Counter[int] = Counter()

    for operation in operations:
        if operation.path.endswith("/stream"):
            continue  # Server-Sent Events until the run ends (tests/engine/test_run_stream.py covers it)
        names = re.findall(r"{(\w+)}", operation.path)
        for mode, on_real_objects, examples, signed in PASSES:
            known = {name: real_ids[name] for name in names if name in real_ids} if on_real_objects else {}
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=known or None)
            try:
                server_errors += exercise(strategy, examples, credentials[signed], asgi_server, statuses)
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE  # an operation with no input has no invalid form

    assert server_errors == []
    # Most requests got past sign-in to the code under test (a 401 would mean the credentials broke).
    assert statuses[401] < sum(statuses.values()) // 10, statuses
