"""The workspace's embedding model: owners choose it among their providers' embedding models over the API and on
the Model providers page; members read it; bad values are refused naming the field."""

import json

import pytest
from django.test import Client

from accounts import tokens
from accounts.models import AuditEntry
from engine import workspace_embeddings
from tests.factories import ProviderConfigFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/embedding-model"
PAGE = "/accounts/settings/providers/"


def put(client, body):
    return client.put(
        URL, json.dumps(body), content_type="application/json", headers={"X-CSRFToken": client.csrf_token()}
    )


@pytest.fixture
def embedder(workspace):
    return ProviderConfigFactory(workspace=workspace, name="openai", embedding_models=["text-embedding-3-small"])


def test_it_is_the_builtin_embeddings_until_an_owner_chooses(owner, teammate):
    secret = tokens.issue(owner.workspace, teammate.user, "ci", ["workflows:read"], None).secret

    read = Client().get(URL, headers={"Authorization": f"Bearer {secret}"})

    assert read.status_code == 200
    assert read.json() == {"provider": "builtin", "model": "hashing-512", "builtin": True}


def test_an_owner_chooses_a_providers_embedding_model(owner, embedder, login_as):
    chosen = put(login_as(owner), {"provider": "openai", "model": "text-embedding-3-small"})

    assert chosen.status_code == 200, chosen.content
    assert chosen.json() == {"provider": "openai", "model": "text-embedding-3-small", "builtin": False}
    assert workspace_embeddings.of_workspace(owner.workspace_id).choice == "openai|text-embedding-3-small"
    entry = AuditEntry.objects.get(action="workspace.embedding_model_changed")
    assert (entry.details["old"], entry.details["new"]) == ("builtin|hashing-512", "openai|text-embedding-3-small")
    back = put(login_as(owner), {"provider": "builtin", "model": "hashing-512"})
    assert back.json()["builtin"] is True
    owner.workspace.refresh_from_db()
    assert (owner.workspace.embedding_provider, owner.workspace.embedding_model) == ("", "")


def test_it_names_the_field_of_a_model_the_workspace_cannot_embed_with(owner, embedder, login_as):
    ProviderConfigFactory(workspace=owner.workspace, name="chat-only", embedding_models=[])
    client = login_as(owner)

    unknown = put(client, {"provider": "nope", "model": "text-embedding-3-small"})
    chat_only = put(client, {"provider": "chat-only", "model": "gpt-test"})
    wrong_model = put(client, {"provider": "openai", "model": "gpt-4o"})
    builtin_chat = put(client, {"provider": "builtin", "model": "builtin-extractive"})
    missing = put(client, {"provider": "openai"})

    for refused in (unknown, chat_only, wrong_model, builtin_chat, missing):
        assert refused.status_code == 422, refused.content
    assert unknown.json()["error"]["message"].startswith("body.provider: there is no provider named 'nope'")
    assert chat_only.json()["error"]["message"].startswith("body.provider: provider 'chat-only' lists no embedding")
    assert wrong_model.json()["error"]["message"].startswith("body.model: 'gpt-4o' is not an embedding model")
    assert builtin_chat.json()["error"]["message"].startswith("body.model:")
    assert "model" in missing.content.decode()
    assert workspace_embeddings.of_workspace(owner.workspace_id) == workspace_embeddings.DEFAULT


def test_it_refuses_members_who_are_not_owners_and_other_workspaces(owner, teammate, outsider, embedder, login_as):
    body = {"provider": "openai", "model": "text-embedding-3-small"}
    secret = tokens.issue(owner.workspace, owner.user, "ci", ["workflows:read", "workflows:write"], None).secret

    editor = put(login_as(teammate), body)
    stranger = put(login_as(outsider), {**body, "workspace_id": owner.workspace_id})
    by_token = Client().put(URL, json.dumps(body), content_type="application/json",
                            headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
    client = login_as(teammate)
    page = client.post(
        PAGE + "embedding-model/",
        {"embedding_model": "openai|text-embedding-3-small"},
        headers={"X-CSRFToken": client.csrf_token()},
    )

    assert (editor.status_code, stranger.status_code, page.status_code) == (403, 404, 403)
    assert by_token.status_code == 403
    assert workspace_embeddings.of_workspace(owner.workspace_id) == workspace_embeddings.DEFAULT


def test_an_owner_chooses_it_on_the_model_providers_page(owner, embedder, login_as):
    client = login_as(owner)
    csrf = {"X-CSRFToken": client.csrf_token()}

    page = client.get(PAGE).content.decode()
    saved = client.post(PAGE + "embedding-model/", {"embedding_model": "openai|text-embedding-3-small"}, headers=csrf)
    refused = client.post(PAGE + "embedding-model/", {"embedding_model": "openai|gpt-4o"}, headers=csrf)

    assert 'value="builtin|hashing-512" selected' in page
    assert saved.status_code == 302
    assert workspace_embeddings.of_workspace(owner.workspace_id).choice == "openai|text-embedding-3-small"
    assert refused.status_code == 422
    assert "Select a valid choice" in refused.content.decode()
    assert 'value="openai|text-embedding-3-small" selected' in client.get(PAGE).content.decode()
    embedder.delete()
    assert "is no longer offered by this workspace" in client.get(PAGE).content.decode()


def test_the_new_knowledge_base_form_preselects_it(owner, embedder, login_as):
    client = login_as(owner)
    before = client.get("/knowledge/").content.decode()
    workspace_embeddings.choose(owner.workspace, "openai", "text-embedding-3-small")

    after = client.get("/knowledge/").content.decode()

    assert 'value="openai|text-embedding-3-small" selected' not in before
    assert 'value="openai|text-embedding-3-small" selected' in after
