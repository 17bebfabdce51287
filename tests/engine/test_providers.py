"""Provider configurations over the API and the owners' page; the key is write-only and encrypted at rest."""

import json

import pytest
from django.test import override_settings

from accounts.models import AuditEntry
from engine import provider_configs, providers, secrets
from engine.models import ProviderConfig
from tests.factories import ProviderConfigFactory

pytestmark = pytest.mark.django_db

CONFIG = {"name": "openai", "base_url": "https://api.openai.com/v1", "chat_models": ["gpt-4o-mini"]}


def write(client, method, url, data=None):
    return client.generic(
        method, url, data=json.dumps(data or {}), content_type="application/json",
        headers={"X-CSRFToken": client.csrf_token()},
    )  # fmt: skip


def test_it_lists_the_builtin_provider_first_for_the_pickers(owner, login_as):
    ProviderConfigFactory(workspace=owner.workspace, name="vllm", chat_models=["llama"], embedding_models=[])

    listed = login_as(owner).get("/api/v1/providers").json()

    assert listed == [
        {
            "name": "builtin",
            "kind": "builtin",
            "label": "built-in (offline)",
            "models": ["builtin-extractive"],
            "embedding_models": ["hashing-512"],
        },
        {"name": "vllm", "kind": "openai_compatible", "label": "vllm", "models": ["llama"], "embedding_models": []},
    ]
    assert providers.embedding_choices(owner.workspace_id) == [
        ("builtin|hashing-512", "built-in (offline) · hashing-512")
    ]


def test_an_owner_adds_a_provider_whose_key_is_never_returned(owner, login_as):
    client = login_as(owner)

    created = client.post_json("/api/v1/provider-configs", {**CONFIG, "api_key": "sk-live-123"})

    assert created.status_code == 201
    assert created.json()["has_api_key"] is True
    assert "sk-live-123" not in created.content.decode()
    stored = ProviderConfig.objects.get(name="openai")
    assert "sk-live-123" not in stored.api_key_encrypted
    assert secrets.decrypt(stored.api_key_encrypted) == "sk-live-123"
    assert "sk-live-123" not in client.get("/api/v1/provider-configs").content.decode()
    assert "sk-live-123" not in str(AuditEntry.objects.values_list("details", flat=True))


def test_it_keeps_the_key_when_a_change_omits_it_and_removes_it_on_empty(owner, login_as):
    config = ProviderConfigFactory(workspace=owner.workspace, api_key="sk-old")
    client = login_as(owner)

    changed = write(client, "PATCH", f"/api/v1/provider-configs/{config.pk}", {"timeout_s": 30})
    assert changed.status_code == 200
    config.refresh_from_db()
    assert (config.timeout_s, secrets.decrypt(config.api_key_encrypted)) == (30, "sk-old")

    write(client, "PATCH", f"/api/v1/provider-configs/{config.pk}", {"api_key": ""})
    config.refresh_from_db()
    assert config.api_key_encrypted == ""


def test_it_names_the_bad_field(owner, login_as):
    client = login_as(owner)

    taken = client.post_json("/api/v1/provider-configs", {**CONFIG, "name": "builtin"})
    header = client.post_json("/api/v1/provider-configs", {**CONFIG, "headers": {"Authorization": "Bearer x"}})
    url = client.post_json("/api/v1/provider-configs", {**CONFIG, "base_url": "ftp://x"})

    assert (taken.status_code, header.status_code, url.status_code) == (422, 422, 422)
    assert taken.json()["error"]["message"].startswith("body.name:")
    assert header.json()["error"]["message"].startswith("body.headers:")
    assert url.json()["error"]["message"].startswith("body.base_url:")


def test_it_hides_other_workspaces_providers_and_refuses_weaker_roles(owner, teammate, outsider, login_as):
    config = ProviderConfigFactory(workspace=owner.workspace)

    assert write(login_as(outsider), "PATCH", f"/api/v1/provider-configs/{config.pk}", {}).status_code == 404
    assert write(login_as(teammate), "DELETE", f"/api/v1/provider-configs/{config.pk}").status_code == 403
    assert login_as(teammate).get("/accounts/settings/providers/").status_code == 403
    assert ProviderConfig.objects.filter(pk=config.pk).exists()


def test_an_owner_adds_and_removes_a_provider_on_the_settings_page(owner, login_as):
    client = login_as(owner)
    csrf = {"X-CSRFToken": client.csrf_token()}

    added = client.post(
        "/accounts/settings/providers/",
        {**CONFIG, "kind": "openai_compatible", "chat_models": "gpt-4o\ngpt-4o-mini",
         "headers": "OpenAI-Organization: org-1", "timeout_s": 60, "api_key": "sk-page-secret"},
        headers=csrf,
    )  # fmt: skip

    assert added.status_code == 302
    config = ProviderConfig.objects.get(name="openai")
    assert (config.chat_models, config.headers) == (["gpt-4o", "gpt-4o-mini"], {"OpenAI-Organization": "org-1"})
    page = client.get(f"/accounts/settings/providers/{config.pk}/").content.decode()
    assert "built-in (offline)" in page
    assert "sk-page-secret" not in page
    assert "a key is stored" in page
    assert client.post(f"/accounts/settings/providers/{config.pk}/delete/", headers=csrf).status_code == 302
    assert not ProviderConfig.objects.exists()


def test_it_rotates_stored_keys_to_the_newest_credential_key(settings):
    old, new = "x" * 43 + "=", "y" * 43 + "="
    with override_settings(CREDENTIAL_KEYS=[old]):
        config = ProviderConfigFactory(api_key="sk-rotate")
    with override_settings(CREDENTIAL_KEYS=[new, old]):
        assert provider_configs.rotate_all() == 1
    with override_settings(CREDENTIAL_KEYS=[new]):
        config.refresh_from_db()
        assert secrets.decrypt(config.api_key_encrypted) == "sk-rotate"
    with override_settings(CREDENTIAL_KEYS=[old]), pytest.raises(secrets.UnreadableSecret):
        secrets.decrypt(config.api_key_encrypted)
