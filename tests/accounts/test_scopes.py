"""Token scopes deny by default: every API operation and websocket route declares what a token needs."""

import pytest
from django.core.exceptions import PermissionDenied
from django.test import Client
from ninja import NinjaAPI, Router
from ninja.security import django_auth
from ninja.testing import TestClient

from accounts import tokens
from accounts.api_auth import PUBLIC, SESSION_ONLY, TokenAuth, declaration, session_only, token_scope
from accounts.consumers import AccessCheckedConsumer
from accounts.models import Role, Scope
from config.api import api
from config.routing import websocket_urlpatterns
from tests.factories import DocumentFactory, KnowledgeBaseFactory, MembershipFactory, UserFactory

DECLARATIONS = {*Scope.values, SESSION_ONLY, PUBLIC}


def undeclared(ninja_api: NinjaAPI) -> list[str]:
    """Every operation the API serves whose effective authentication declares no token scope."""
    missing = []
    for router in ninja_api._get_bound_routers():
        for path, view in router.path_operations.items():
            for operation in view.operations:
                if declaration(operation) not in DECLARATIONS:
                    missing.append(f"{','.join(operation.methods)} /{(router.prefix + path).lstrip('/')}")
    return missing


def test_it_declares_a_scope_on_every_api_operation():
    assert undeclared(api) == []


def test_it_declares_a_scope_on_every_socket():
    for route in websocket_urlpatterns:
        consumer = route.callback.consumer_class
        assert issubclass(consumer, AccessCheckedConsumer), route.pattern
        assert consumer.token_scope in {*Scope.values, SESSION_ONLY}, route.pattern


def test_it_refuses_tokens_on_an_operation_that_forgot_to_declare(owner):
    router = Router()

    @router.get("/forgotten")
    def forgotten(request):
        return {"ok": True}

    @router.get("/declared")
    @token_scope(Scope.RUNS_READ)
    def declared(request):
        return {"ok": True}

    @router.get("/browsers")
    @session_only
    def browsers(request):
        return {"ok": True}

    fresh = NinjaAPI(auth=[TokenAuth(), django_auth], urls_namespace="scope-test")
    fresh.add_router("/", router)

    @fresh.exception_handler(PermissionDenied)
    def refused(request, exc):
        return fresh.create_response(request, {"message": str(exc)}, status=403)

    assert undeclared(fresh) == ["GET /forgotten"]
    secret = tokens.issue(owner.workspace, owner.user, "all", list(Scope.values), None).secret
    client = TestClient(fresh)
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/declared", headers=headers).status_code == 200
    forgotten_answer = client.get("/forgotten", headers=headers)
    assert forgotten_answer.status_code == 403
    assert "declares no token scope" in forgotten_answer.json()["message"]
    assert client.get("/browsers", headers=headers).status_code == 403


def bearer(member, *scopes: str) -> dict[str, str]:
    secret = tokens.issue(member.workspace, member.user, "ci", list(scopes), None).secret
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def knowledge(owner):
    base = KnowledgeBaseFactory(workspace=owner.workspace)
    return base, DocumentFactory(knowledge_base=base)


def knowledge_reads(base, document) -> list[tuple[str, str]]:
    return [
        ("get", "/api/v1/knowledge-bases"),
        ("get", f"/api/v1/knowledge-bases/{base.pk}"),
        ("get", f"/api/v1/knowledge-bases/{base.pk}/documents"),
        ("get", f"/api/v1/knowledge-bases/{base.pk}/documents/{document.pk}"),
        ("post", f"/api/v1/knowledge-bases/{base.pk}/query"),
    ]


def call(method: str, url: str, headers: dict[str, str]):
    if method == "post":
        return Client().post(url, {"query": "refund"}, content_type="application/json", headers=headers)
    return Client().get(url, headers=headers)


def test_it_refuses_a_runs_read_token_on_knowledge_reads_and_queries(owner, knowledge):
    runs_reader, knowledge_reader = bearer(owner, "runs:read"), bearer(owner, "knowledge:read")
    for method, url in knowledge_reads(*knowledge):
        refused = call(method, url, runs_reader)
        assert refused.status_code == 403, url
        assert refused.json()["error"]["message"] == "This API token lacks the knowledge:read scope"
        assert call(method, url, knowledge_reader).status_code == 200, url


def test_it_refuses_a_knowledge_read_token_on_knowledge_writes(owner, knowledge):
    base, _ = knowledge
    url = f"/api/v1/knowledge-bases/{base.pk}/documents/text"
    body = {"title": "t", "text": "hello"}
    reader, writer = bearer(owner, "knowledge:read"), bearer(owner, "knowledge:write")
    assert Client().post(url, body, content_type="application/json", headers=reader).status_code == 403
    assert Client().post(url, body, content_type="application/json", headers=writer).status_code == 201


def test_it_refuses_a_runs_read_token_on_workspaces_and_members(owner):
    urls = ["/api/v1/workspaces", f"/api/v1/workspaces/{owner.workspace_id}/members"]
    runs_reader, workspace_reader = bearer(owner, "runs:read"), bearer(owner, "workspace:read")
    for url in urls:
        assert Client().get(url, headers=runs_reader).status_code == 403, url
        assert Client().get(url, headers=workspace_reader).status_code == 200, url


def test_it_refuses_every_token_on_session_only_operations(owner, login_as):
    response = Client().get("/api/v1/provider-configs", headers=bearer(owner, *Scope.values))
    assert response.status_code == 403
    assert response.json()["error"]["message"] == "API tokens are refused here: sign in with a browser"
    assert login_as(owner).get("/api/v1/provider-configs").status_code == 200


def test_it_offers_the_new_scopes_when_creating_a_token(owner, login_as):
    client = login_as(owner)
    page = client.get("/accounts/settings/tokens/").content.decode()
    assert 'value="knowledge:read"' in page
    assert 'value="workspace:read"' in page
    created = client.post_form("/accounts/settings/tokens/", {"name": "kb", "scopes": ["knowledge:read"]})
    assert created.status_code == 201
    assert owner.user.api_tokens.get(name="kb").scopes == ["knowledge:read"]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.REVIEWER])
def test_it_refuses_a_knowledge_query_to_a_role_that_may_not_spend(workspace, knowledge, login_as, role):
    base, _ = knowledge
    member = MembershipFactory(workspace=workspace, user=UserFactory(username="vic"), role=role)
    client = login_as(member)
    api_query = client.post_json(f"/api/v1/knowledge-bases/{base.pk}/query", {"query": "refund"})
    assert api_query.status_code == 403
    assert client.get(f"/knowledge/{base.pk}/query/", {"q": "refund"}).status_code == 403
    page = client.get(f"/knowledge/{base.pk}/").content.decode()
    assert 'id="query-form"' not in page


def test_it_lets_an_editor_query_knowledge(teammate, knowledge, login_as):
    base, _ = knowledge
    client = login_as(teammate)
    assert client.post_json(f"/api/v1/knowledge-bases/{base.pk}/query", {"query": "refund"}).status_code == 200
    assert client.get(f"/knowledge/{base.pk}/query/", {"q": "refund"}).status_code == 200
    assert 'id="query-form"' in client.get(f"/knowledge/{base.pk}/").content.decode()


def test_a_viewers_token_with_knowledge_read_may_not_query(workspace, knowledge):
    base, _ = knowledge
    viewer = MembershipFactory(workspace=workspace, user=UserFactory(username="vic"), role=Role.VIEWER)
    headers = bearer(viewer, "knowledge:read")
    assert call("get", f"/api/v1/knowledge-bases/{base.pk}", headers).status_code == 200
    assert call("post", f"/api/v1/knowledge-bases/{base.pk}/query", headers).status_code == 403
