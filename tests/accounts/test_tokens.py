"""API tokens: issued once, stored hashed, scoped, bound to one workspace, revocable, rate-limited."""

from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.test import Client
from django.utils import timezone

from accounts import tokens
from accounts.models import ApiToken, AuditEntry
from config.asgi import application
from tests.factories import MembershipFactory, RunFactory, WorkflowFactory, WorkflowVersionFactory
from tests.sockets import Socket

GRAPH = {"schema_version": 1, "nodes": [{"id": "start", "type": "trigger"}], "edges": []}


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def issue(owner):
    def make(*scopes: str, expires_at=None, member=owner) -> str:
        return tokens.issue(member.workspace, member.user, "ci", list(scopes), expires_at).secret

    return make


def test_it_shows_a_new_token_once_and_stores_only_its_hash(owner, login_as):
    client = login_as(owner)
    response = client.post(
        "/accounts/settings/tokens/",
        {"name": "deploy bot", "scopes": ["runs:trigger", "runs:read"], "expires_in_days": "30"},
        headers={"X-CSRFToken": client.csrf_token()},
    )
    assert response.status_code == 201
    page = response.content.decode()
    secret = page.split("data-token-secret>", 1)[1].split("<", 1)[0]
    assert secret.startswith("sy_")
    token = ApiToken.objects.get(name="deploy bot")
    assert secret not in str(list(ApiToken.objects.values()))
    assert token.scopes == ["runs:read", "runs:trigger"]
    assert token.expires_at > timezone.now() + timedelta(days=29)
    assert secret not in client.get("/accounts/settings/tokens/").content.decode()
    assert AuditEntry.objects.get(action="token.created").target_label == str(token)
    assert secret not in str(list(AuditEntry.objects.values()))


def test_it_names_the_missing_field_when_creating(owner, login_as):
    client = login_as(owner)
    response = client.post("/accounts/settings/tokens/", {"name": "x"}, headers={"X-CSRFToken": client.csrf_token()})
    assert response.status_code == 422
    assert "Scopes: This field is required." in response.content.decode()
    assert not ApiToken.objects.exists()


def test_it_reads_runs_with_the_right_scope_only(owner, issue):
    run = RunFactory(workspace=owner.workspace)
    client = Client()
    reader, other = issue("runs:read"), issue("workflows:read")
    assert client.get(f"/api/v1/runs/{run.pk}", headers=bearer(reader)).status_code == 200
    denied = client.get(f"/api/v1/runs/{run.pk}", headers=bearer(other))
    assert denied.status_code == 403
    assert denied.json()["error"]["message"] == "This API token lacks the runs:read scope"


def test_a_token_reaches_only_its_own_workspace(owner, outsider, issue):
    MembershipFactory(user=owner.user, workspace=outsider.workspace, role="owner")
    theirs = RunFactory(workspace=outsider.workspace)
    secret = issue("runs:read", "workspace:read")
    assert Client().get(f"/api/v1/runs/{theirs.pk}", headers=bearer(secret)).status_code == 404
    names = [w["name"] for w in Client().get("/api/v1/workspaces", headers=bearer(secret)).json()]
    assert names == ["Support"]


def test_revoked_expired_and_wrong_tokens_are_refused(owner, issue):
    run = RunFactory(workspace=owner.workspace)
    revoked = issue("runs:read")
    tokens.revoke(ApiToken.objects.get(prefix=revoked.split("_")[1]), by=owner.user)
    expired = issue("runs:read", expires_at=timezone.now() - timedelta(seconds=1))
    good = issue("runs:read")
    forged = good[:-4] + "AAAA"
    for secret in (revoked, expired, forged, "sy_nope_nope", "garbage"):
        response = Client().get(f"/api/v1/runs/{run.pk}", headers=bearer(secret))
        assert response.status_code == 401, secret
        assert response.json()["error"]["code"] == "not_authenticated"


def test_it_records_when_a_token_was_last_used(owner, issue):
    secret = issue("workflows:read")
    assert ApiToken.objects.get().last_used_at is None
    Client().get("/api/v1/workflows", headers=bearer(secret))
    assert ApiToken.objects.get().last_used_at is not None


def test_a_token_triggers_runs_without_csrf_and_is_rate_limited(owner, issue, settings):
    settings.API_TOKEN_TRIGGERS_PER_MINUTE = 2
    flow = WorkflowFactory(workspace=owner.workspace, draft=GRAPH)
    WorkflowVersionFactory(workflow=flow, number=1, graph=GRAPH)
    secret = issue("runs:trigger")
    client = Client(enforce_csrf_checks=True)
    url = f"/api/v1/workflows/{flow.pk}/runs"
    statuses = [
        client.post(url, {}, content_type="application/json", headers=bearer(secret)).status_code for _ in range(3)
    ]
    assert statuses[:2] == [202, 202]
    limited = client.post(url, {}, content_type="application/json", headers=bearer(secret))
    assert limited.status_code == 429
    assert 0 < int(limited["Retry-After"]) <= 60
    assert limited.json()["error"]["code"] == "rate_limited"


def test_an_owner_may_revoke_a_teammates_token_from_settings(owner, teammate, issue, login_as):
    issue("runs:read", member=teammate)
    token = ApiToken.objects.get(user=teammate.user)
    client = login_as(owner)
    assert "ted" in client.get("/accounts/settings/tokens/").content.decode()
    assert (
        client.post(
            f"/accounts/settings/tokens/{token.pk}/revoke/", headers={"X-CSRFToken": client.csrf_token()}
        ).status_code
        == 302
    )
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    own = login_as(teammate)
    mine = tokens.issue(owner.workspace, owner.user, "owners", ["runs:read"], None).token
    response = own.post(f"/accounts/settings/tokens/{mine.pk}/revoke/", headers={"X-CSRFToken": own.csrf_token()})
    assert response.status_code == 404
    assert ApiToken.objects.get(pk=mine.pk).revoked_at is None


@pytest.mark.django_db(transaction=True)
def test_programs_follow_a_run_over_the_websocket_with_a_token(owner, issue):
    run = RunFactory(workspace=owner.workspace)
    reader, writer = issue("runs:read"), issue("runs:trigger")

    async def connect(secret: str, origin: bytes | None = None) -> tuple[bool, int | None]:
        headers = [(b"authorization", f"Bearer {secret}".encode())] + ([(b"origin", origin)] if origin else [])
        socket = Socket(application, f"/ws/runs/{run.pk}/", headers=headers)
        connected, code = await socket.connect()
        if connected:
            assert (await socket.receive_json_from(timeout=5))["type"] == "hello"
            await socket.disconnect()
        return connected, code

    assert async_to_sync(connect)(reader)[0] is True
    assert async_to_sync(connect)(writer) == (False, 4403)
    assert async_to_sync(connect)("sy_bad_token")[0] is False
    assert async_to_sync(connect)(reader, origin=b"https://evil.example")[0] is False
