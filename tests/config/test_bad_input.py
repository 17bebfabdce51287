"""Bad input answers 4xx naming the problem, never 500: JSON nested 10,000 deep at every entry point
that reads JSON, null in PATCH bodies, ids past 64 bits in every path, NUL characters."""

import json
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from accounts import tokens
from accounts.models import Scope
from builder.models import Schedule, Workflow
from config.api import api
from knowledge.models import Document
from tests.factories import KnowledgeBaseFactory, ProviderConfigFactory, WorkflowFactory

pytestmark = pytest.mark.django_db

DEEP = 10_000
DEEP_ARRAY = "[" * DEEP + "]" * DEEP
DEEP_OBJECT = '{"a":' * DEEP + "1" + "}" * DEEP
TOO_DEEP = "nested deeper than 64 levels"
HUGE = 2**73


@pytest.fixture
def client(owner, login_as):
    return login_as(owner)


@pytest.fixture
def base(owner):
    return KnowledgeBaseFactory(workspace=owner.workspace)


@pytest.fixture
def workflow(owner):
    return WorkflowFactory(workspace=owner.workspace)


def csrf(client) -> dict[str, str]:
    return {"X-CSRFToken": client.csrf_token()}


def send_json(client, method: str, url: str, text: str):
    return getattr(client, method)(url, text, content_type="application/json", headers=csrf(client))


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("post", "/api/v1/knowledge-bases/{base}/documents/text"),
        ("post", "/api/v1/knowledge-bases/{base}/query"),
        ("post", "/api/v1/workflows/import"),
        ("put", "/api/v1/workflows/{workflow}/draft"),
        ("post", "/api/v1/workflows/{workflow}/schedules"),
        ("patch", "/api/v1/knowledge-bases/{base}"),
    ],
)
@pytest.mark.parametrize("deep", [DEEP_ARRAY, DEEP_OBJECT], ids=["array", "object"])
def test_it_refuses_a_deep_api_body_naming_the_problem(client, base, workflow, method, url, deep):
    response = send_json(client, method, url.format(base=base.pk, workflow=workflow.pk), deep)
    assert response.status_code == 400
    assert response.json()["error"] == {"code": "invalid_json", "message": f"body: {TOO_DEEP}", "details": {}}


def test_it_refuses_a_deep_body_at_the_unsigned_webhook(client, workflow):
    made = send_json(client, "post", f"/api/v1/workflows/{workflow.pk}/webhook", json.dumps({"signed": False}))
    assert made.status_code == 201
    response = Client().post(made.json()["url"], DEEP_OBJECT, content_type="application/json")
    assert response.status_code == 422
    assert response.json()["error"]["message"] == f"body: {TOO_DEEP}"


def test_it_refuses_deep_upload_metadata_over_the_api(client, base):
    file = SimpleUploadedFile("a.md", b"# A\n\ntext", "text/markdown")
    response = client.post(
        f"/api/v1/knowledge-bases/{base.pk}/documents", {"files": [file], "metadata": DEEP_OBJECT}, headers=csrf(client)
    )
    assert response.status_code == 422
    assert response.json()["error"]["message"] == f"body.metadata: metadata {TOO_DEEP}"
    assert not Document.objects.exists()


@pytest.mark.parametrize(
    ("path", "fields"),
    [
        ("upload/", {"files": [SimpleUploadedFile("a.md", b"# A", "text/markdown")]}),
        ("text/", {"title": "T", "text": "some text"}),
        ("url/", {"url": "https://example.com/"}),
    ],
)
def test_the_knowledge_pages_refuse_deep_metadata_with_the_field(client, base, path, fields):
    response = client.post(f"/knowledge/{base.pk}/{path}", {**fields, "metadata": DEEP_OBJECT}, headers=csrf(client))
    assert response.status_code == 422
    assert TOO_DEEP in response.content.decode()
    assert not Document.objects.exists()


def test_the_query_page_refuses_deep_filters(client, base):
    response = client.get(f"/knowledge/{base.pk}/query/", {"q": "refunds", "filters": DEEP_OBJECT})
    assert response.status_code == 422
    assert TOO_DEEP in response.content.decode()


def test_the_import_page_refuses_a_deep_file(client):
    file = SimpleUploadedFile("flow.json", DEEP_ARRAY.encode(), "application/json")
    response = client.post("/workflows/import/", {"file": file}, headers=csrf(client))
    assert response.status_code == 422
    assert TOO_DEEP in response.content.decode()
    assert not Workflow.objects.exists()


def test_the_schedule_form_refuses_deep_input(client, workflow):
    form = {"cron": "0 9 * * *", "timezone": "UTC", "input": DEEP_OBJECT}
    response = client.post(f"/workflows/{workflow.pk}/schedules/", form, headers=csrf(client))
    assert response.status_code == 422
    assert response.context["form"].errors["input"] == [f"input: {TOO_DEEP}"]
    assert not Schedule.objects.exists()


@pytest.mark.parametrize("field", ["name", "description", "archived"])
def test_it_refuses_null_in_a_workflow_patch_naming_the_field(client, workflow, field):
    response = send_json(client, "patch", f"/api/v1/workflows/{workflow.pk}", json.dumps({field: None}))
    assert response.status_code == 422
    assert response.json()["error"]["message"] == f"Invalid fields: body.{field}"
    workflow.refresh_from_db()
    assert workflow.name
    assert workflow.archived_at is None


@pytest.mark.parametrize("field", ["name", "kind", "base_url", "chat_models", "headers", "timeout_s"])
def test_it_refuses_null_in_a_provider_patch_and_keeps_a_null_key_meaning_keep(client, owner, field):
    config = ProviderConfigFactory(workspace=owner.workspace, api_key="sk-kept")
    url = f"/api/v1/provider-configs/{config.pk}"
    assert send_json(client, "patch", url, json.dumps({field: None})).status_code == 422
    assert send_json(client, "patch", url, json.dumps({"api_key": None})).status_code == 200


def test_it_refuses_nul_characters_in_bodies_and_query_strings(client, owner):
    body = send_json(client, "post", "/api/v1/workflows", json.dumps({"name": "a\u0000b"}))
    assert body.status_code == 400
    assert body.json()["error"]["message"] == "body: name: text cannot contain the NUL character (\\u0000)"
    query = client.get("/api/v1/runs", {"status": "a\x00"})
    assert query.status_code == 422
    assert query.json()["error"]["message"] == "Invalid fields: query.status"
    assert not Workflow.objects.exists()


def api_operations() -> list[tuple[str, str]]:
    paths = api.get_openapi_schema()["paths"]
    return [(method, path) for path, operations in paths.items() for method in operations if "{" in path]


@pytest.mark.parametrize(("method", "path"), api_operations())
def test_no_api_operation_fails_on_an_id_past_64_bits(owner, method, path):
    issued = tokens.issue(owner.workspace, owner.user, "ci", list(Scope), None)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {issued.secret}")
    url = re.sub(r"{\w+}", str(HUGE), path)
    body = {} if method in ("get", "delete") else {"data": "{}", "content_type": "application/json"}
    response = getattr(client, method)(url, **body)
    assert response.status_code < 500, response.content
    assert response.status_code != 200


def page_patterns(resolvers=None, prefix: str = "") -> list[str]:
    found = []
    for entry in resolvers if resolvers is not None else get_resolver().url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver) and not route.startswith(("api/", "admin/")):
            found += page_patterns(entry.url_patterns, route)
        elif isinstance(entry, URLPattern) and "<int:" in route:
            found.append(route)
    return found


@pytest.mark.parametrize("route", page_patterns())
@pytest.mark.parametrize("method", ["get", "post"])
def test_no_page_fails_on_an_id_past_64_bits(client, route, method):
    url = "/" + re.sub(r"<int:\w+>", str(HUGE), route)
    response = getattr(client, method)(url, {}, headers=csrf(client))
    assert response.status_code in {404, 405}, url
