"""Templates too deep to read or too big to compute are answered with a 4xx where graphs and webhooks come in."""

import json
import time

import pytest
from django.test import Client

from builder.models import Workflow
from engine import webhooks
from engine.expressions import TOO_DEEP
from engine.models import Run
from tests.engine.graphs import TRIGGER, chain, node
from tests.factories import WorkflowFactory, WorkflowVersionFactory

DEEP = [
    "{{ " + " + ".join(["1"] * 3000) + " }}",
    "{{ input" + ".a" * 3000 + " }}",
    "{{ nodes.start" + ".a" * 3000 + " }}",
]
HUGE_INTEGER = "{{ (2**63)**64 * (2**63)**64 * (2**63)**64 * (2**63)**64 }}"
GRAPH = chain(TRIGGER, node("answer", "reply", answer="Re: {{ input.subject }}"))


@pytest.fixture
def client(owner, login_as):
    return login_as(owner)


def deep_graph(template: str) -> dict:
    return chain(TRIGGER, node("shape", "transform", fields={"x": template}), node("answer", "reply", answer="ok"))


def refused_as_too_deep(response) -> bool:
    problems = response.json()["error"]["details"]["problems"]
    return response.status_code == 422 and problems == [
        {"path": "nodes.1.params.fields.x", "code": "too_deep", "message": TOO_DEEP}
    ]


@pytest.mark.parametrize("template", DEEP)
def test_it_refuses_a_workflow_whose_template_is_too_deep_to_read(client, template):
    response = client.post_json("/api/v1/workflows", {"name": "Deep", "draft": deep_graph(template)})
    assert refused_as_too_deep(response), response.content[:300]
    assert not Workflow.objects.exists()


@pytest.mark.parametrize("template", DEEP)
def test_it_refuses_to_save_a_draft_whose_template_is_too_deep_to_read(client, template):
    workflow = client.post_json("/api/v1/workflows", {"name": "Deep"}).json()
    response = client.put(
        f"/api/v1/workflows/{workflow['id']}/draft",
        {"graph": deep_graph(template), "revision": 1},
        content_type="application/json",
        headers={"X-CSRFToken": client.csrf_token()},
    )
    assert refused_as_too_deep(response), response.content[:300]
    assert Workflow.objects.get(pk=workflow["id"]).draft_revision == 1


@pytest.mark.parametrize("template", DEEP)
def test_it_lists_a_template_too_deep_to_read_when_validating(client, template):
    workflow = client.post_json("/api/v1/workflows", {"name": "Deep"}).json()
    response = client.post_json(f"/api/v1/workflows/{workflow['id']}/validate", {"graph": deep_graph(template)})
    assert response.status_code == 200
    assert {"path": "nodes.1.params.fields.x", "code": "too_deep", "message": TOO_DEEP} in response.json()


@pytest.mark.parametrize("template", DEEP)
def test_it_refuses_to_import_a_workflow_whose_template_is_too_deep_to_read(client, template):
    response = client.post_json("/api/v1/workflows/import", {"name": "Deep", "graph": deep_graph(template)})
    assert refused_as_too_deep(response), response.content[:300]
    assert not Workflow.objects.filter(name="Deep").exists()


def test_a_draft_with_a_merely_long_expression_is_still_saved_with_its_problem(client):
    long_sum = "{{ " + " + ".join(["1"] * 60) + " }}"
    response = client.post_json("/api/v1/workflows", {"name": "Long", "draft": deep_graph(long_sum)})
    assert response.status_code == 201
    assert {"path": "nodes.1.params.fields.x", "code": "bad_expression", "message": "nested too deeply"} in (
        response.json()["problems"]
    )


@pytest.mark.parametrize("template", DEEP)
def test_it_refuses_a_webhook_mapping_too_deep_to_read(owner, login_as, template):
    flow = WorkflowFactory(workspace=owner.workspace, draft=GRAPH)
    response = login_as(owner).post_json(f"/api/v1/workflows/{flow.pk}/webhook", {"input_mapping": {"a": template}})
    assert response.status_code == 422
    assert response.json()["error"]["message"] == f"input_mapping.a: {TOO_DEEP}"


def post_signed(url: str, body: dict, secret: str):
    raw = json.dumps(body).encode()
    signature = webhooks.sign(secret, int(time.time()), raw)
    return Client().post(url, raw, content_type="application/json", headers={"X-Switchyard-Signature": signature})


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ({"subject": HUGE_INTEGER}, "numbers are limited to 4096 bits"),
        ({"subject": "{{ (input.n|int) * (input.n|int) }}"}, "numbers are limited to 4096 bits"),
        ({f"f{i}": "{{ 'a' * 199999 }}" for i in range(100)}, "characters in all"),
    ],
)
def test_a_webhook_whose_mapping_cannot_be_computed_answers_422_and_starts_nothing(owner, login_as, mapping, message):
    flow = WorkflowFactory(workspace=owner.workspace, draft=GRAPH)
    WorkflowVersionFactory(workflow=flow, number=1, graph=GRAPH)
    hook = login_as(owner).post_json(f"/api/v1/workflows/{flow.pk}/webhook", {"input_mapping": mapping}).json()
    response = post_signed(hook["url"], {"n": "9" * 4000}, hook["signing_secret"])
    assert response.status_code == 422
    error = response.json()["error"]["message"]
    assert error.startswith("input_mapping: ")
    assert message in error
    assert "Traceback" not in error
    assert not Run.objects.exists()
