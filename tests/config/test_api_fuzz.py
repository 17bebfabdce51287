"""Every API operation, called with requests that schemathesis generates from our OpenAPI schema,
answers without a server error: through the real ASGI server, as an owner's browser session (which
reaches every operation, the session-only ones too) and with an all-scopes API token."""

import re
from collections import Counter
from collections.abc import Iterator
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import pytest
import requests
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
# Each pass: how many cases to send with each credential (the token gets the first of the session's).
PASSES = [
    # Valid input on the workspace's real objects: a made-up id would stop most requests at the 404.
    (GenerationMode.POSITIVE, True, {"session": 6, "token": 2}),
    # Made-up ids (64-bit overflow, words, floats) and input that breaks the schema.
    (GenerationMode.POSITIVE, False, {"session": 2}),
    (GenerationMode.NEGATIVE, False, {"session": 4}),
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
def credentials(bearer, session) -> Iterator[dict[str, dict[str, Any]]]:
    """Each credential's headers and cookies, and one kept-alive connection for its requests. A connection keeps
    no cookie a response sets: each request carries only its credential's, as a request of its own would."""
    with requests.Session() as as_token, requests.Session() as as_browser:
        for kept in (as_token, as_browser):
            kept.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        yield {"token": {"headers": bearer, "session": as_token}, "session": {**session, "session": as_browser}}


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


def exercise(
    strategy, sends: dict[str, int], credentials: dict[str, dict[str, Any]], base_url: str, statuses: Counter[int]
) -> list[str]:
    """Draw cases from `strategy` once and send the first `sends[name]` with each credential; the curl commands
    of those that answered 5xx."""
    server_errors: list[str] = []
    drawn = 0

    @given(case=strategy.filter(lambda case: not streams(case)))
    @settings(
        max_examples=max(sends.values()),
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def call(case):
        nonlocal drawn
        for name, count in sends.items():
            if drawn < count:
                response = case.call(base_url=base_url, timeout=30, **credentials[name])
                statuses[response.status_code] += 1
                if response.status_code >= 500:
                    server_errors.append(f"{response.status_code} {case.as_curl_command()}"[:2000])
        drawn += 1

    call()
    return server_errors


@pytest.mark.usefixtures("without_worker")  # the runs it may start stay queued, as they did before
def test_it_answers_no_server_error_to_generated_requests(asgi_server, bearer, credentials, real_ids):
    schema = schemathesis.openapi.from_url(f"{asgi_server}/api/v1/openapi.json", headers=bearer)
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) > 50
    server_errors: list[str] = []
    statuses: Counter[int] = Counter()

    for operation in operations:
        if operation.path.endswith("/stream"):
            continue  # Server-Sent Events until the run ends (tests/engine/test_run_stream.py covers it)
        names = re.findall(r"{(\w+)}", operation.path)
        for mode, on_real_objects, sends in PASSES:
            known = {name: real_ids[name] for name in names if name in real_ids} if on_real_objects else {}
            strategy = operation.as_strategy(generation_mode=mode, path_parameters=known or None)
            try:
                server_errors += exercise(strategy, sends, credentials, asgi_server, statuses)
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE  # an operation with no input has no invalid form

    assert server_errors == []
    # Most requests got past sign-in to the code under test (a 401 would mean the credentials broke).
    assert statuses[401] < sum(statuses.values()) // 10, statuses
