"""Model providers go only where the outbound guard allows, and a stored key goes only where it was entered for."""

import json

import pytest

from engine import providers, secrets
from engine.errors import NodeError
from engine.models import NodeRun, ProviderConfig
from engine.providers.base import ChatRequest
from tests.engine.graphs import TRIGGER, chain, node
from tests.engine.running import start, wait_for
from tests.factories import ProviderConfigFactory
from tests.fake_openai import Failure, FakeOpenAI
from tests.fakes import RecordingServer, Reply

KEY = "sk-stored-4d1e8b"
REFUSED_BASE_URLS = [
    "http://127.0.0.1:8080/v1",
    "http://localhost:8080/v1",
    "http://169.254.169.254/latest/",
    "http://[::1]:8080/v1",
    "http://[::ffff:127.0.0.1]/v1",
    "http://0x7f000001:8080/v1",
    "http://2130706433/v1",
    "http://0177.0.0.1/v1",
    "http://127.1/v1",
    "http://10.0.0.1/v1",
    "http://192.168.1.10/v1",
    "http://172.16.0.1/v1",
    "http://100.100.100.200/v1",
    "http://[fd00:ec2::254]/v1",
    "http://0.0.0.0:8080/v1",
]
HELLO = ChatRequest(model="gpt-test", messages=({"role": "user", "content": "hi"},))


def write(client, method, url, data):
    return client.generic(
        method,
        url,
        data=json.dumps(data),
        content_type="application/json",
        headers={"X-CSRFToken": client.csrf_token()},
    )


@pytest.mark.django_db
@pytest.mark.parametrize("base_url", REFUSED_BASE_URLS)
def test_it_refuses_internal_base_urls_when_saving(owner, login_as, base_url):
    client = login_as(owner)
    existing = ProviderConfigFactory(workspace=owner.workspace, admit_loopback=False, base_url="https://example.com/v1")

    created = client.post_json("/api/v1/provider-configs", {"name": "evil", "base_url": base_url})
    patched = write(client, "PATCH", f"/api/v1/provider-configs/{existing.pk}", {"base_url": base_url})
    page = client.post_form(
        "/accounts/settings/providers/",
        {"name": "evil", "kind": "openai_compatible", "base_url": base_url, "timeout_s": 60},
    )

    assert (created.status_code, patched.status_code, page.status_code) == (422, 422, 422)
    assert "base_url" in created.json()["error"]["message"]
    assert "base_url" in patched.json()["error"]["message"]
    assert not ProviderConfig.objects.filter(name="evil").exists()
    existing.refresh_from_db()
    assert existing.base_url == "https://example.com/v1"


@pytest.mark.django_db
def test_it_refuses_a_stored_internal_base_url_at_call_time_and_reaches_nothing(workspace):
    canary = FakeOpenAI()
    try:
        # As a row saved before the guard, or a name whose DNS answer changed since it was saved.
        ProviderConfigFactory(workspace=workspace, name="old", base_url=canary.url, admit_loopback=False)

        with pytest.raises(NodeError) as refused:
            providers.resolve(workspace.pk, "old").chat(HELLO, timeout_s=5)
        with pytest.raises(NodeError) as refused_embedding:
            providers.embed(workspace.pk, "old", "embed-test", ["hello"])
    finally:
        canary.close()

    assert refused.value.code == refused_embedding.value.code == "blocked_destination"
    assert "loopback" in str(refused.value)
    assert canary.seen == []


@pytest.mark.django_db
def test_an_allowlisted_server_answers(workspace, fake):
    ProviderConfigFactory(workspace=workspace, name="local", base_url=fake.url, api_key=KEY)

    answer = providers.resolve(workspace.pk, "local").chat(HELLO, timeout_s=5)

    assert answer.text == fake.default_answer
    assert fake.seen[0].headers["authorization"] == f"Bearer {KEY}"
    assert fake.seen[0].headers["accept-encoding"] == "identity"


@pytest.mark.django_db
@pytest.mark.parametrize("location", ["local", "http://169.254.169.254/latest/meta-data/"])
def test_it_follows_no_redirect(workspace, fake, location):
    canary = RecordingServer()
    try:
        target = f"{canary.url}/v1/chat/completions" if location == "local" else location
        fake.failures = [Failure(307, headers={"Location": target})]
        ProviderConfigFactory(workspace=workspace, name="hop", base_url=fake.url, api_key=KEY)

        with pytest.raises(NodeError) as refused:
            providers.resolve(workspace.pk, "hop").chat(HELLO, timeout_s=5)
    finally:
        canary.close()

    assert refused.value.code == "model_refused"
    assert "redirects are not followed" in str(refused.value)
    assert canary.requests() == []


@pytest.mark.django_db
def test_it_reads_no_proxy_variables(workspace, fake, monkeypatch):
    proxy = RecordingServer()
    try:
        for name in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "ALL_PROXY"):
            monkeypatch.setenv(name, proxy.url)
        monkeypatch.delenv("NO_PROXY", raising=False)
        monkeypatch.delenv("no_proxy", raising=False)
        ProviderConfigFactory(workspace=workspace, name="direct", base_url=fake.url, api_key=KEY)

        providers.resolve(workspace.pk, "direct").chat(HELLO, timeout_s=5)
    finally:
        proxy.close()

    assert proxy.requests() == []
    assert len(fake.chat_requests()) == 1


@pytest.mark.django_db
def test_it_repeats_only_a_short_printable_part_of_an_error_body(workspace, fake):
    fake.failures = [Failure(400, message="internal\nservice says: " + "x" * 5000)]
    ProviderConfigFactory(workspace=workspace, name="chatty", base_url=fake.url)

    with pytest.raises(NodeError) as refused:
        providers.resolve(workspace.pk, "chatty").chat(HELLO, timeout_s=5)

    message = str(refused.value)
    assert "\n" not in message
    assert len(message) < 250
    assert message.startswith("chatty answered 400: internal service says: xxx")


@pytest.mark.django_db
def test_it_refuses_an_answer_larger_than_the_cap(workspace):
    huge = RecordingServer(Reply(body=b"{" + b" " * 21_000_000 + b"}"))
    try:
        ProviderConfigFactory(workspace=workspace, name="huge", base_url=f"{huge.url}/v1")

        with pytest.raises(NodeError) as refused:
            providers.resolve(workspace.pk, "huge").chat(HELLO, timeout_s=10)
    finally:
        huge.close()

    assert refused.value.code == "response_too_large"


@pytest.mark.django_db
def test_it_refuses_a_compressed_answer(workspace):
    squeezed = RecordingServer(Reply(body=b"\x1f\x8b", headers={"Content-Encoding": "gzip"}))
    try:
        ProviderConfigFactory(workspace=workspace, name="zip", base_url=f"{squeezed.url}/v1")

        with pytest.raises(NodeError) as refused:
            providers.resolve(workspace.pk, "zip").chat(HELLO, timeout_s=5)
    finally:
        squeezed.close()

    assert refused.value.code == "bad_response"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"base_url": "http://127.0.0.1:{port}/v1"},
        {"kind": "openai_compatible", "base_url": "http://127.0.0.1:{port}/other"},
        {"headers": {"OpenAI-Project": "p-2"}},
    ],
)
def test_changing_where_the_key_goes_removes_it_unless_entered_again(owner, login_as, fake, change):
    config = ProviderConfigFactory(workspace=owner.workspace, base_url=fake.url, api_key=KEY)
    body = {field: value.format(port=9) if isinstance(value, str) else value for field, value in change.items()}
    client = login_as(owner)

    moved = write(client, "PATCH", f"/api/v1/provider-configs/{config.pk}", body)
    config.refresh_from_db()
    removed = config.api_key_encrypted
    again = write(client, "PATCH", f"/api/v1/provider-configs/{config.pk}", {**body, "api_key": "sk-new"})
    config.refresh_from_db()

    assert (moved.status_code, moved.json()["has_api_key"]) == (200, False)
    assert removed == ""
    assert (again.status_code, secrets.decrypt(config.api_key_encrypted)) == (200, "sk-new")


@pytest.mark.django_db
def test_an_unchanged_base_url_keeps_the_key_on_the_settings_page(owner, login_as, fake):
    config = ProviderConfigFactory(workspace=owner.workspace, name="kept", base_url=fake.url, api_key=KEY)
    form = {"name": "kept", "kind": "openai_compatible", "base_url": fake.url, "timeout_s": 30}
    client = login_as(owner)

    same = client.post_form(f"/accounts/settings/providers/{config.pk}/", form)
    config.refresh_from_db()
    kept = secrets.decrypt(config.api_key_encrypted)
    moved = client.post_form(
        f"/accounts/settings/providers/{config.pk}/", {**form, "base_url": fake.url.replace("/v1", "/v2")}
    )
    config.refresh_from_db()

    assert (same.status_code, kept, config.timeout_s) == (302, KEY, 30)
    assert (moved.status_code, config.api_key_encrypted) == (302, "")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("headers", "accepted"),
    [
        ({"Authorization": "Bearer sk-x"}, False),
        ({"Cookie": "session=1"}, False),
        ({"X-Forwarded-For": "10.0.0.1"}, False),
        ({"Host": "internal"}, False),
        ({"api-key": "plain-text-key"}, False),
        ({"api-key": "{{ secrets.AZURE_KEY }}"}, True),
        ({"OpenAI-Organization": "org-1", "HTTP-Referer": "https://example.com"}, True),
    ],
)
def test_header_names_are_an_allowlist_and_credentials_must_be_secrets(owner, login_as, headers, accepted):
    client = login_as(owner)

    answer = client.post_json(
        "/api/v1/provider-configs", {"name": "hdr", "base_url": "https://example.com/v1", "headers": headers}
    )

    assert answer.status_code == (201 if accepted else 422)
    if not accepted:
        assert "headers" in answer.json()["error"]["message"]
    if "api-key" in headers and accepted:
        assert answer.json()["headers"] == {"api-key": "{{ secrets.AZURE_KEY }}"}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("celery_worker")
def test_a_changed_base_url_never_receives_the_stored_key(owner, login_as, price):
    honest, capture = FakeOpenAI(), FakeOpenAI()
    try:
        owner.workspace.http_allowlist = ["127.0.0.1"]
        owner.workspace.save(update_fields=["http_allowlist"])
        client = login_as(owner)
        created = client.post_json(
            "/api/v1/provider-configs",
            {"name": "fake", "base_url": honest.url, "chat_models": ["gpt-test"], "api_key": KEY},
        )
        draft = node("draft", "generate", provider="fake", model="gpt-test", prompt="hi")
        before = wait_for(start(owner.workspace, chain(TRIGGER, draft)))
        swapped = write(client, "PATCH", f"/api/v1/provider-configs/{created.json()['id']}", {"base_url": capture.url})
        after = wait_for(start(owner.workspace, chain(TRIGGER, draft)))
    finally:
        honest.close()
        capture.close()

    assert (created.status_code, swapped.status_code, before.status) == (201, 200, "succeeded")
    assert honest.seen[0].headers["authorization"] == f"Bearer {KEY}"
    assert after.status == "succeeded"
    assert [seen.headers["authorization"] for seen in capture.seen] == ["Bearer no-key"]
    assert KEY not in json.dumps([seen.__dict__ for seen in capture.seen], default=str)
    assert NodeRun.objects.get(run=after, node_id="draft").status == "succeeded"
